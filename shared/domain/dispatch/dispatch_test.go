package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
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
	busCalls  int
	failCall  int // the bus call that fails (1, 2 …; 0: none)
}

func (f *fakes) Publish(_ context.Context, evs []outbox.Envelope) error {
	f.busCalls++
	if f.failBus || f.busCalls == f.failCall {
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
// account's webhooks are read once a batch; a message is queued per change
// and enabled webhook that takes one of its types, with the events it
// takes in their order and the record's position; a
// failed publication fails the batch before anything is queued; a batch
// goes in steps of up to ten events, and a failure leaves the steps before
// it done.
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
	if st != (dispatch.Stats{Records: 4, Events: 5, Deliveries: 5, Done: 4}) || !slices.Equal(f.queries, []string{"a", "b", "c"}) {
		t.Fatalf("stats %+v, webhook queries %v", st, f.queries)
	}
	for i, e := range f.published {
		want := []string{"a", "a", "a", "b", "c"}[i]
		if e.AccountID != want {
			t.Fatalf("event %d published for %s, want %s", i, e.AccountID, want)
		}
	}
	// one message per change and webhook, its events in their order, each
	// with its sequence and version
	var got []string
	for _, m := range f.queued {
		var types []string
		for _, e := range m.Events {
			types = append(types, string(e.Type))
			if e.AccountID == "" || e.Sequence == "" || e.Version != outbox.PayloadVersion {
				t.Fatalf("event %+v", e)
			}
		}
		got = append(got, m.WebhookID+":"+strings.Join(types, ","))
		if m.Position == "" {
			t.Fatalf("message %+v", m)
		}
	}
	want := []string{"all:file.created,file.attached", "all:file.trashed", "trash:file.trashed", "b-all:file.created"}
	if !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	// a webhook's failed delivery goes to the others, not to it
	failed := outbox.NewRecord("a", at).Add(outbox.WebhookDeliveryFailed, outbox.DeliveryFailedData{WebhookID: "all"})
	failed.Position = "EV#" + failed.ID
	f5 := &fakes{hooks: map[string][]webhooks.Webhook{"a": {{ID: "all", Enabled: true}, {ID: "other", Enabled: true}}}}
	if _, err := (&dispatch.Dispatcher{Bus: f5, Queue: f5, Webhooks: f5}).Dispatch(context.Background(), []outbox.Record{*failed}); err != nil ||
		len(f5.queued) != 1 || f5.queued[0].WebhookID != "other" {
		t.Fatalf("webhook.delivery_failed of all: queued %+v (%v)", f5.queued, err)
	}
	f2 := &fakes{hooks: f.hooks, failBus: true}
	d2 := &dispatch.Dispatcher{Bus: f2, Queue: f2, Webhooks: f2}
	if st, err := d2.Dispatch(context.Background(), recs); err == nil || len(f2.queued) != 0 || st.Done != 0 {
		t.Fatalf("a failed publication: %v, %d queued, %d done", err, len(f2.queued), st.Done)
	}

	// in steps of ten events: the second step's publication fails, the
	// first is done (its deliveries queued), nothing of the rest is
	var many []outbox.Record
	for range 25 {
		many = append(many, rec("b", outbox.FileCreated))
	}
	many[3] = rec("b", outbox.FileCreated, outbox.FileAttached) // 11 events in the first ten records
	f3 := &fakes{hooks: f.hooks, failCall: 2}
	st, err = (&dispatch.Dispatcher{Bus: f3, Queue: f3, Webhooks: f3}).Dispatch(context.Background(), many)
	if err == nil || st.Done != 9 || len(f3.published) != 10 || len(f3.queued) != 9 || f3.queued[8].Position != many[8].Position || len(f3.queued[3].Events) != 2 {
		t.Fatalf("a failed second step: %v, %+v, %d published, %d queued", err, st, len(f3.published), len(f3.queued))
	}
	// one record of more events than a step is a step of its own
	big := rec("c", slices.Repeat([]outbox.Type{outbox.FileCreated}, 12)...)
	f4 := &fakes{hooks: f.hooks}
	if st, err := (&dispatch.Dispatcher{Bus: f4, Queue: f4, Webhooks: f4}).Dispatch(context.Background(), []outbox.Record{many[0], big, many[1]}); err != nil ||
		st.Done != 3 || f4.busCalls != 3 || len(f4.published) != 14 {
		t.Fatalf("a record of 12 events: %v %+v, %d calls", err, st, f4.busCalls)
	}
}
