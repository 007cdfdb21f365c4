package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

type fakes struct {
	published []outbox.Envelope
	queued    []webhooks.Message
	queries   []string
	hooks     map[string][]webhooks.Webhook
	failBus   bool
}

func (f *fakes) Publish(_ context.Context, evs []outbox.Envelope) error {
	if f.failBus {
		return errors.New("bus down")
	}
	f.published = append(f.published, evs...)
	return nil
}

func (f *fakes) Enqueue(_ context.Context, ms []webhooks.Message) error {
	f.queued = append(f.queued, ms...)
	return nil
}

func (f *fakes) Webhooks(_ context.Context, account string) ([]webhooks.Webhook, error) {
	f.queries = append(f.queries, account)
	return f.hooks[account], nil
}

// TestDispatch: every event goes to the bus with its account; each
// account's webhooks are read once a batch; a delivery is queued per event
// and enabled webhook that takes its type, with the record's position; a
// failed publication fails the batch before anything is queued.
func TestDispatch(t *testing.T) {
	at := time.Now()
	rec := func(account string, types ...outbox.Type) outbox.Record {
		r := outbox.NewRecord(account, at)
		for _, ty := range types {
			r.Add(ty, map[string]string{})
		}
		r.Position = "EV#" + r.ID
		return *r
	}
	f := &fakes{hooks: map[string][]webhooks.Webhook{
		"a": {{ID: "all", Enabled: true}, {ID: "trash", Enabled: true, Types: []outbox.Type{outbox.FileTrashed}}, {ID: "off"}},
		"b": {{ID: "b-all", Enabled: true}},
	}}
	d := &dispatch.Dispatcher{Bus: f, Queue: f, Webhooks: f}
	recs := []outbox.Record{rec("a", outbox.FileCreated, outbox.FileAttached), rec("a", outbox.FileTrashed), rec("b", outbox.FileCreated), rec("c", outbox.FileCreated)}
	st, err := d.Dispatch(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if st != (dispatch.Stats{Records: 4, Events: 5, Deliveries: 5}) || !slices.Equal(f.queries, []string{"a", "b", "c"}) {
		t.Fatalf("stats %+v, webhook queries %v", st, f.queries)
	}
	for i, e := range f.published {
		want := []string{"a", "a", "a", "b", "c"}[i]
		if e.AccountID != want {
			t.Fatalf("event %d published for %s, want %s", i, e.AccountID, want)
		}
	}
	var got []string
	for _, m := range f.queued {
		got = append(got, m.WebhookID+":"+string(m.Event.Type))
		if m.Position == "" || m.Event.AccountID == "" {
			t.Fatalf("message %+v", m)
		}
	}
	want := []string{"all:file.created", "all:file.attached", "all:file.trashed", "trash:file.trashed", "b-all:file.created"}
	if !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	f2 := &fakes{hooks: f.hooks, failBus: true}
	d2 := &dispatch.Dispatcher{Bus: f2, Queue: f2, Webhooks: f2}
	if _, err := d2.Dispatch(context.Background(), recs); err == nil || len(f2.queued) != 0 {
		t.Fatalf("a failed publication: %v, %d queued", err, len(f2.queued))
	}
}
