package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/anexo/anexo/shared/domain/outbox"
)

// write appends a change's event record to the account's outbox (in the
// change's locked step: both or neither).
func (a *account) write(rec *outbox.Record) {
	if a == nil || rec.Empty() {
		return
	}
	r := *rec
	r.Events = slices.Clone(rec.Events)
	r.Position = position(r)
	i, _ := slices.BinarySearchFunc(a.records, r.Position, byPosition)
	a.records = slices.Insert(a.records, i, r)
}

// byPosition compares a record with a position, for searches of an
// account's records.
func byPosition(x outbox.Record, p string) int { return strings.Compare(x.Position, p) }

// position orders records as the table's sort key does: time, then id.
func position(r outbox.Record) string {
	return "EV#" + r.At.UTC().Format("2006-01-02T15:04:05.000000Z") + "#" + r.ID
}

// Records implements outbox.Outbox as the table's Query does.
func (s *Store) Records(_ context.Context, q outbox.Scan) ([]outbox.Record, string, error) {
	var out []outbox.Record
	next := ""
	err := s.do(func() error {
		a, ok := s.accounts[q.AccountID]
		if !ok {
			return nil
		}
		evaluated := 0
		for _, r := range a.records {
			if r.Position <= q.After || r.At.After(q.Until) || r.At.Before(q.Since) {
				continue
			}
			if evaluated == q.Budget {
				return nil
			}
			evaluated++
			next = r.Position
			if len(q.Types) > 0 && !slices.ContainsFunc(r.Events, func(e outbox.Event) bool { return slices.Contains(q.Types, e.Type) }) {
				continue
			}
			out = append(out, r)
			if len(out) == q.Limit {
				return nil
			}
		}
		next = ""
		return nil
	})
	return out, next, err
}
