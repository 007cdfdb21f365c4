package keyring

import (
	"context"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
)

// Memory is an in-memory Store (unit tests and tools that need no
// durability).
type Memory struct {
	mu    sync.Mutex
	keys  map[string][]Key
	loads int
}

// Keys implements Store.
func (m *Memory) Keys(_ context.Context, purpose string) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return append([]Key(nil), m.keys[purpose]...), nil
}

// PutKey implements Store.
func (m *Memory) PutKey(_ context.Context, purpose string, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.keys[purpose] {
		if x.ID == k.ID {
			return apperr.ErrConflict
		}
	}
	if m.keys == nil {
		m.keys = map[string][]Key{}
	}
	m.keys[purpose] = append(m.keys[purpose], k)
	return nil
}

// RetireKeys implements Store.
func (m *Memory) RetireKeys(_ context.Context, purpose, keep string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.keys[purpose] {
		if x.ID != keep && x.VerifyUntil.After(now) {
			m.keys[purpose][i].VerifyUntil = now
		}
	}
	return nil
}
