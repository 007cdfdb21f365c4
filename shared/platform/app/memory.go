package app

import (
	"log/slog"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Drivers are the memory adapters the functions of one memory process
// share, as Lambda functions share a table and a bucket: serve Blobs over
// HTTP and set its Endpoint before presigning.
type Drivers struct {
	Store *memory.Store
	Blobs *memory.Blobs
	Keys  *keyring.Memory
	Bus   *memory.Bus
	Queue *memory.Queue
}

// NewDrivers are empty memory adapters.
func NewDrivers() *Drivers {
	return &Drivers{Store: &memory.Store{}, Blobs: &memory.Blobs{}, Keys: &keyring.Memory{}, Bus: &memory.Bus{}, Queue: &memory.Queue{}}
}

// Memory wires a function on the memory drivers: the same services and
// handlers as on AWS, with no SDK client (asking for one panics), so HTTP
// handler tests run without emulators, in parallel.
func Memory(c Config, m *Drivers) *Deps {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.BusName == "" {
		c.BusName = "anexo"
	}
	d := &Deps{Cfg: c, Log: c.Log, memory: true}
	d.store.get(func() Store { return m.Store })
	d.blobs.get(func() Blobs { return m.Blobs })
	d.images.get(func() PreviewImages { return m.Blobs }) // previews' keys are apart from the files' (files.PreviewKey)
	d.keys.get(func() keyring.Store { return m.Keys })
	d.bus.get(func() dispatch.Bus { return m.Bus })
	d.queue.get(func() Queue { return m.Queue })
	return d
}
