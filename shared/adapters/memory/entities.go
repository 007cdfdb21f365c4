package memory

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// entityKey names an entity within its account.
func entityKey(t entities.Type, uuid string) string { return string(t) + "#" + uuid }

// codeKey names an entity code's alias within its account.
func codeKey(t entities.Type, code int64) string {
	return string(t) + "#" + strconv.FormatInt(code, 10)
}

// GetEntity implements entities.Store.
func (s *Store) GetEntity(_ context.Context, accountID string, t entities.Type, uuid string) (entities.Entity, error) {
	return read(s, accountID, func(a *account) (entities.Entity, bool) { e, ok := a.entities[entityKey(t, uuid)]; return e, ok })
}

// EntityByCode implements entities.Store through the code's alias.
func (s *Store) EntityByCode(_ context.Context, accountID string, t entities.Type, code int64) (entities.Entity, error) {
	return read(s, accountID, func(a *account) (entities.Entity, bool) {
		e, ok := a.entities[entityKey(t, a.codes[codeKey(t, code)])]
		return e, ok && e.Code == code
	})
}

// PutEntity implements entities.Store: the entry and its code's alias in
// one step, the alias moving when the code changes.
func (s *Store) PutEntity(_ context.Context, e entities.Entity, prev *entities.Entity) error {
	return s.do(func() error {
		a, err := s.account(e.AccountID)
		if err != nil {
			return err
		}
		cur, exists := a.entities[entityKey(e.Type, e.UUID)]
		switch {
		case prev == nil && exists:
			return entities.ErrExists
		case prev != nil && (!exists || cur.Code != prev.Code || !cur.UpdatedAt.Equal(prev.UpdatedAt)):
			return entities.ErrStale
		}
		newCode := prev == nil || prev.Code != e.Code
		if _, taken := a.codes[codeKey(e.Type, e.Code)]; newCode && taken {
			return entities.ErrCodeTaken
		}
		a.entities[entityKey(e.Type, e.UUID)] = e
		if newCode {
			a.codes[codeKey(e.Type, e.Code)] = e.UUID
		}
		if prev != nil && newCode {
			delete(a.codes, codeKey(e.Type, prev.Code))
		}
		return nil
	})
}

// NextSeq implements entities.Store.
func (s *Store) NextSeq(_ context.Context, accountID, name string) (int64, error) {
	var n int64
	err := s.do(func() error {
		if s.seqs == nil {
			s.seqs = map[string]int64{}
		}
		s.seqs[accountID+"#"+name]++
		n = s.seqs[accountID+"#"+name]
		return nil
	})
	return n, err
}

// NextCode implements entities.Store from the type's sequence.
func (s *Store) NextCode(ctx context.Context, accountID string, t entities.Type) (int64, error) {
	return s.NextSeq(ctx, accountID, "code#"+string(t))
}

// Attach implements entities.Store: the file exists untrashed, a pinned
// version exists, and the attachment is new (a field value may move to
// another version).
func (s *Store) Attach(_ context.Context, accountID string, at entities.Attachment, rec *outbox.Record) error {
	return s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return entities.ErrFileGone
		}
		f, ok := a.files[at.FileUUID]
		if !ok || f.IsTrashed {
			return entities.ErrFileGone
		}
		if _, ok := a.versions[at.FileUUID][at.VersionUUID]; at.VersionUUID != "" && !ok {
			return entities.ErrVersionGone
		}
		if cur, ok := a.attached[attachKey(at)]; ok && (at.Kind != entities.KindField || cur.VersionUUID == at.VersionUUID) {
			return entities.ErrAlreadyAttached
		}
		a.attached[attachKey(at)] = at
		a.write(rec)
		return nil
	})
}

// Detach implements entities.Store.
func (s *Store) Detach(_ context.Context, accountID string, at entities.Attachment, record func([]entities.Attachment) *outbox.Record) (int, error) {
	var found []entities.Attachment
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return nil
		}
		keys := slices.Sorted(maps.Keys(a.attached)) // the table's order
		for _, k := range keys {
			x := a.attached[k]
			if x.Entity.Type == at.Entity.Type && x.Entity.UUID == at.Entity.UUID && x.FileUUID == at.FileUUID && (at.Kind == "" || x.Kind == at.Kind && x.RefID == at.RefID) &&
				len(found) < entities.MaxDetach {
				delete(a.attached, k)
				found = append(found, x)
			}
		}
		if len(found) > 0 {
			a.write(record(found))
		}
		return nil
	})
	return len(found), err
}

// Usages implements entities.Store: by entity, kind and note or field.
func (s *Store) Usages(_ context.Context, accountID, fileUUID string) ([]entities.Attachment, error) {
	var out []entities.Attachment
	err := s.do(func() error {
		if a, ok := s.accounts[accountID]; ok {
			for _, x := range a.attached {
				if x.FileUUID == fileUUID {
					out = append(out, x)
				}
			}
		}
		slices.SortFunc(out, func(x, y entities.Attachment) int { return strings.Compare(attachKey(x), attachKey(y)) })
		return nil
	})
	return out, err
}

// FileUUIDsByID implements entities.Store.
func (s *Store) FileUUIDsByID(_ context.Context, accountID string, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	err := s.do(func() error {
		if a, ok := s.accounts[accountID]; ok {
			for _, id := range ids {
				if u, ok := a.ids[id]; ok {
					out[id] = u
				}
			}
		}
		return nil
	})
	return out, err
}
