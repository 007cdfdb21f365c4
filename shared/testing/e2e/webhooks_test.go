package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// receiver is a webhook endpoint on loopback. It checks every delivery's
// signature itself (HMAC-SHA256 over id.timestamp.body with the secret,
// as the Standard Webhooks specification writes it, any of the
// space-separated signatures), and answers what answer says.
type receiver struct {
	t   testing.TB
	srv *httptest.Server
	now func() time.Time

	mu      sync.Mutex
	secrets []string
	got     []delivered
	tries   map[string]int // attempts per webhook-id
	// answer is the status for attempt n of a webhook-id (0: hang past
	// the sender's timeout, or for hang); nil answers 204.
	answer func(id string, n int) int
	hang   time.Duration
	// dupOK admits an event accepted twice (at least once: a retry after
	// a lost answer), under its same id
	dupOK bool
}

type delivered struct {
	ID, Type  string
	At        time.Time
	Got       time.Time // when the receiver got it
	AccountID string
	Data      map[string]any
	Status    int
}

func newReceiver(t testing.TB, now func() time.Time) *receiver {
	r := &receiver{t: t, now: now, tries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks/anexo" }

// trust sets the secrets a signature may be made with.
func (r *receiver) trust(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = secrets
}

// verify checks a delivery as a receiver must: one of the signatures is
// the HMAC of a secret it trusts, and the timestamp is within five
// minutes of its clock.
func (r *receiver) verify(h http.Header, body []byte) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), strings.Fields(h.Get("webhook-signature"))
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || len(sigs) == 0 {
		return "missing webhook headers"
	}
	if d := r.now().Sub(time.Unix(sec, 0)); d < -5*time.Minute || d > 5*time.Minute {
		return "timestamp " + ts + " is " + d.String() + " off"
	}
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	for _, secret := range secrets {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		for _, s := range sigs {
			if hmac.Equal([]byte(s), []byte(want)) {
				return ""
			}
		}
	}
	return "no valid signature"
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if bad := r.verify(req.Header, body); bad != "" {
		r.t.Errorf("webhook delivery refused: %s (%s)", bad, req.Header)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if bad := checkDelivery(body); bad != "" {
		r.t.Errorf("delivery %s: %s", body, bad)
	}
	var ev struct {
		ID        string         `json:"id"`
		Type      string         `json:"type"`
		Time      time.Time      `json:"time"`
		AccountID string         `json:"account_id"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get("webhook-id") {
		r.t.Errorf("delivery body %s (webhook-id %s): %v", body, req.Header.Get("webhook-id"), err)
	}
	r.mu.Lock()
	r.tries[ev.ID]++
	n := r.tries[ev.ID]
	status := http.StatusNoContent
	if r.answer != nil {
		status = r.answer(ev.ID, n)
	}
	r.got = append(r.got, delivered{ID: ev.ID, Type: ev.Type, At: ev.Time, Got: r.now(), AccountID: ev.AccountID, Data: ev.Data, Status: status})
	hang := r.hang
	r.mu.Unlock()
	if status == 0 {
		if hang == 0 {
			hang = webhookTimeout + 200*time.Millisecond // past the sender's timeout
		}
		select { // the sender hangs up at its timeout
		case <-time.After(hang):
		case <-req.Context().Done():
		}
		return
	}
	w.WriteHeader(status)
}

// webhookTimeout is the delivery timeout the e2e servers use.
const webhookTimeout = 300 * time.Millisecond

// accepted lists the deliveries answered 2xx, by event id.
func (r *receiver) accepted() map[string]delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]delivered{}
	for _, d := range r.got {
		if d.Status >= 200 && d.Status < 300 {
			if _, dup := out[d.ID]; dup && !r.dupOK {
				r.t.Errorf("event %s (%s) accepted twice", d.ID, d.Type)
			}
			out[d.ID] = d
		}
	}
	return out
}

// attempts is the attempts made for an event id.
func (r *receiver) attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries[id]
}

// waitFor waits until n events were accepted.
func (r *receiver) waitFor(n int) map[string]delivered {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.accepted()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hook registers a webhook for r and trusts its secret.
func (c *client) hook(r *receiver, body map[string]any) map[string]any {
	c.t.Helper()
	loadCatalogue(c)
	body["url"] = r.URL()
	res := c.expect(201, "POST", "/v1/webhooks", body)
	r.trust(res["secret"].(string))
	return res["webhook"].(map[string]any)
}

// TestWebhooks: registration under webhooks:admin, its field errors, the
// secret shown once, a test delivery, changes, rotation (both secrets sign
// during the grace), another account's view, removal — and the events of
// changes arrive signed, once each, with the feed's ids.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)

	// scope
	reader := e.account(0, "", "files:read", "files:write")
	reader.expect(403, "GET", "/v1/webhooks", nil)
	// field errors name the field; nothing is registered
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "url"},
		{map[string]any{"url": "http://crm.example.com/hooks"}, "url"},
		{map[string]any{"url": "https://10.0.0.7/hooks"}, "url"},
		{map[string]any{"url": "https://169.254.169.254/latest/meta-data"}, "url"},
		{map[string]any{"url": "https://user:pw@crm.example.com/hooks"}, "url"},
		{map[string]any{"url": "https://crm.example.com/hooks", "types": []string{"file.created", "file.exploded"}}, "types[1]"},
		{map[string]any{"url": "https://crm.example.com/hooks", "description": strings.Repeat("x", 257)}, "description"},
		{map[string]any{"url": "https://crm.example.com/hooks", "secret": "mine"}, "secret"},
	} {
		b := c.expect(400, "POST", "/v1/webhooks", tc.body)
		if b["field"] != tc.field {
			t.Errorf("%v: %v, want field %s", tc.body, b, tc.field)
		}
	}
	if l := c.expect(200, "GET", "/v1/webhooks", nil); len(l["webhooks"].([]any)) != 0 {
		t.Fatalf("registered after errors: %v", l)
	}

	w := c.hook(r, map[string]any{"description": "CRM backend", "types": []string{"file.created", "file.trashed"}})
	id := w["id"].(string)
	got := c.expect(200, "GET", "/v1/webhooks/"+id, nil)
	if raw, _ := json.Marshal(got); strings.Contains(string(raw), "whsec_") || got["enabled"] != true || got["url"] != r.URL() {
		t.Fatalf("get: %s", raw)
	}
	other := e.account(0, "")
	other.expect(404, "GET", "/v1/webhooks/"+id, nil)
	other.expect(404, "POST", "/v1/webhooks/"+id+"/test", nil)

	// a test delivery, now
	d := c.expect(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	if d["state"] != "delivered" || d["event_type"] != "webhook.test" || len(d["attempts"].([]any)) != 1 {
		t.Fatalf("test: %v", d)
	}
	if a := d["attempts"].([]any)[0].(map[string]any); a["status"].(float64) != 204 || a["error"] != nil {
		t.Fatalf("test attempt: %v", a)
	}

	// events of the types asked arrive, others not
	f := c.upload("a.txt", random(10), nil)
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	c.expect(200, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	acc := r.waitFor(3) // the test, file.created, file.trashed
	e.clock.Advance(outbox.Settle)
	feed, _ := c.drain("", 100)
	for _, ev := range feed {
		d, ok := acc[ev.ID]
		switch wanted := ev.Type == "file.created" || ev.Type == "file.trashed"; {
		case wanted && (!ok || d.Type != ev.Type || d.AccountID != c.account || !d.At.Equal(ev.Time)):
			t.Errorf("feed event %s %s: delivered %+v", ev.Type, ev.ID, d)
		case !wanted && ok:
			t.Errorf("%s delivered; the webhook does not take it", ev.Type)
		}
	}

	// changes; rotation signs with both secrets for a day
	p := c.expect(200, "PATCH", "/v1/webhooks/"+id, map[string]any{"types": []string{}, "description": "all events"})
	if len(p["types"].([]any)) != 0 || p["description"] != "all events" {
		t.Fatalf("patch: %v", p)
	}
	c.expect(400, "PATCH", "/v1/webhooks/"+id, map[string]any{"url": "ftp://crm.example.com"})
	rot := c.expect(200, "POST", "/v1/webhooks/"+id+"/rotate", nil)
	newSecret := rot["secret"].(string)
	if rot["webhook"].(map[string]any)["previous_secret_valid_until"] == nil || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotate: %v", rot)
	}
	r.trust(newSecret) // the new secret alone verifies
	c.expect(200, "POST", "/v1/webhooks/"+id+"/test", nil)
	c.upload("b.txt", random(10), nil)
	r.waitFor(5)

	// the deliveries log, newest first, in pages
	page := c.expect(200, "GET", "/v1/webhooks/"+id+"/deliveries?limit=2", nil)
	ds := page["_embedded"].(map[string]any)["deliveries"].([]any)
	next := page["_page"].(map[string]any)["next_cursor"]
	if len(ds) != 2 || next == nil || ds[0].(map[string]any)["event_type"] != "file.created" {
		t.Fatalf("deliveries: %v", page)
	}
	rest := c.expect(200, "GET", "/v1/webhooks/"+id+"/deliveries?limit=100&after="+next.(string), nil)
	if n := len(rest["_embedded"].(map[string]any)["deliveries"].([]any)); n != 3 {
		t.Fatalf("second page: %d deliveries", n)
	}
	c.expect(400, "GET", "/v1/webhooks/"+id+"/deliveries?limit=0", nil)
	c.expect(404, "POST", "/v1/webhooks/"+id+"/deliveries/"+uuid.NewString()+"/retry", nil)

	// removed: nothing more is sent
	c.expect(204, "DELETE", "/v1/webhooks/"+id, nil)
	c.expect(404, "GET", "/v1/webhooks/"+id, nil)
	c.upload("c.txt", random(10), nil)
	time.Sleep(500 * time.Millisecond)
	if n := len(r.accepted()); n != 5 {
		t.Fatalf("%d deliveries after removal, want 5", n)
	}
}

// waitAttempts waits until an event was attempted n times.
func (r *receiver) waitAttempts(id string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.attempts(id) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("event %s: %d attempts, want %d", id, r.attempts(id), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// first waits for the first attempt of any event and returns its id.
func (r *receiver) first() string {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) > 0 {
			id := r.got[0].ID
			r.mu.Unlock()
			return id
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			r.t.Fatal("no delivery")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookRetries: a receiver that answers 500, then times out, then
// accepts gets the delivery again on the schedule (SQS visibility, moved
// by the clock) under the same webhook-id, accepted once; the log shows
// each attempt. An endpoint that never accepts: the 8th attempt gives up,
// the message goes to the dead-letter queue, the webhook is switched off
// and webhook.disabled is written; later events are not sent; a manual
// retry delivers; switched on again, deliveries resume.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	flaky := newReceiver(t, e.clock.Now)
	flaky.answer = func(_ string, n int) int { return map[int]int{1: 500, 2: 0}[n] + map[bool]int{true: 204}[n > 2] }
	w := c.hook(flaky, map[string]any{"types": []string{"file.created"}})
	c.upload("a.txt", random(10), nil)
	id := flaky.first()
	flaky.waitAttempts(id, 1)
	e.clock.Advance(webhooks.Backoff[0]*11/10 + time.Second)
	flaky.waitAttempts(id, 2)
	e.clock.Advance(webhooks.Backoff[1]*11/10 + time.Second)
	if got := flaky.waitFor(1); len(got) != 1 || got[id].Type != "file.created" || flaky.attempts(id) != 3 {
		t.Fatalf("accepted %v after %d attempts", got, flaky.attempts(id))
	}
	log := c.expect(200, "GET", "/v1/webhooks/"+w["id"].(string)+"/deliveries", nil)
	d := log["_embedded"].(map[string]any)["deliveries"].([]any)[0].(map[string]any)
	as := d["attempts"].([]any)
	if d["id"] != id || d["state"] != "delivered" || len(as) != 3 || as[0].(map[string]any)["status"].(float64) != 500 ||
		as[1].(map[string]any)["status"] != nil || !strings.Contains(as[1].(map[string]any)["error"].(string), "no answer within") ||
		as[2].(map[string]any)["status"].(float64) != 204 {
		t.Fatalf("log: %v", d)
	}
	if h := c.expect(200, "GET", "/v1/webhooks/"+w["id"].(string), nil); h["failing_since"] != nil || h["enabled"] != true {
		t.Fatalf("healthy again: %v", h)
	}

	down := newReceiver(t, e.clock.Now)
	down.answer = func(string, int) int { return 503 }
	w2 := c.hook(down, map[string]any{"types": []string{"file.trashed"}})
	hook2 := "/v1/webhooks/" + w2["id"].(string)
	// another endpoint watches the webhooks' health
	watch := newReceiver(t, e.clock.Now)
	c.hook(watch, map[string]any{"types": []string{"webhook.disabled", "webhook.delivery_failed"}})
	f := c.upload("b.txt", random(10), nil)
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	id2 := down.first()
	for i := range webhooks.MaxAttempts {
		down.waitAttempts(id2, i+1)
		if i < len(webhooks.Backoff) {
			// the attempt is recorded just after the endpoint answered
			h := c.expect(200, "GET", hook2, nil)
			for deadline := time.Now().Add(5 * time.Second); h["failing_since"] == nil && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				h = c.expect(200, "GET", hook2, nil)
			}
			if h["failing_since"] == nil || h["enabled"] != true {
				t.Fatalf("after attempt %d: %v", i+1, h)
			}
			e.clock.Advance(webhooks.Backoff[i]*11/10 + time.Second)
		}
	}
	dlq := e.srv.Deps.Cfg.Table + "-deliveries-dlq"
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Messaging.Messages(dlq) != 1 && time.Now().Before(deadline) {
		e.clock.Advance(time.Minute) // the given-up message is moved when next received
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.srv.Messaging.Messages(dlq); n != 1 || down.attempts(id2) != webhooks.MaxAttempts {
		t.Fatalf("%d messages in the dead-letter queue, %d attempts", n, down.attempts(id2))
	}
	h := c.expect(200, "GET", hook2, nil)
	if h["enabled"] != false || h["disabled_reason"] != webhooks.ReasonFailing {
		t.Fatalf("not disabled: %v", h)
	}
	if n := e.outbox(t, c.account)[outbox.WebhookDisabled]; n != 1 {
		t.Fatalf("%d webhook.disabled events", n)
	}
	// the watcher hears the give-up (the event, its attempts) and the switch-off
	heard := map[string]map[string]any{}
	for _, d := range watch.waitFor(2) {
		heard[d.Type] = d.Data
	}
	if f := heard["webhook.delivery_failed"]; f == nil || f["event_id"] != id2 || f["webhook_id"] != w2["id"] ||
		f["event_type"] != "file.trashed" || f["attempts"] != float64(webhooks.MaxAttempts) || !strings.Contains(f["last_error"].(string), "503") {
		t.Fatalf("webhook.delivery_failed: %v", heard)
	}
	if d := heard["webhook.disabled"]; d == nil || d["id"] != w2["id"] {
		t.Fatalf("webhook.disabled: %v", heard)
	}
	// the log filtered: the failed one by state and type; a bad state named
	if ds := c.expect(200, "GET", hook2+"/deliveries?state=failed&type=file.trashed", nil)["_embedded"].(map[string]any)["deliveries"].([]any); len(ds) != 1 || ds[0].(map[string]any)["id"] != id2 {
		t.Fatalf("failed deliveries: %v", ds)
	}
	if ds := c.expect(200, "GET", hook2+"/deliveries?state=delivered", nil)["_embedded"].(map[string]any)["deliveries"].([]any); len(ds) != 0 {
		t.Fatalf("delivered deliveries: %v", ds)
	}
	if res := c.do("GET", hook2+"/deliveries?state=lost&since=now", nil); res.Status != 400 || !strings.Contains(string(res.Body), `"since"`) {
		t.Fatalf("bad filters: %s", res)
	}
	dl := c.expect(200, "GET", hook2+"/deliveries", nil)["_embedded"].(map[string]any)["deliveries"].([]any)[0].(map[string]any)
	if dl["state"] != "failed" || len(dl["attempts"].([]any)) != webhooks.MaxAttempts {
		t.Fatalf("given-up delivery: %v", dl)
	}
	// off: nothing is sent
	c.expect(200, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	time.Sleep(300 * time.Millisecond)
	if n := len(down.got); n != webhooks.MaxAttempts {
		t.Fatalf("%d attempts to a disabled endpoint", n-webhooks.MaxAttempts)
	}
	// fixed: a manual retry delivers the given-up event (same id); on again, new events flow
	down.answer = nil
	if r := c.expect(200, "POST", hook2+"/deliveries/"+id2+"/retry", nil); r["state"] != "delivered" {
		t.Fatalf("retry: %v", r)
	}
	if _, ok := down.accepted()[id2]; !ok {
		t.Fatal("the retry was not received")
	}
	c.expect(200, "PATCH", hook2, map[string]any{"enabled": true})
	c.expect(200, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	if got := down.waitFor(2); len(got) != 2 {
		t.Fatalf("after switching on: %d accepted", len(got))
	}
}

// TestDispatchCrashSafety fails each AWS call of the routing in turn — the
// dispatcher's (its webhooks Query, PutEvents, SendMessageBatch) and the
// delivery function's (the reads of the webhook and of the delivery, the
// attempt's write, the failure streak's updates, the visibility change) —
// before it reaches AWS and after AWS applied it (the answer lost). The
// receiver fails every event's first attempt, so the retry path runs too.
// Whatever fails, every event reaches the bus and the receiver (none
// lost), nothing else does (none invented), and a duplicate is a retry:
// the same id.
func TestDispatchCrashSafety(t *testing.T) { // not parallel: its fault points follow one delivery's calls
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	r.dupOK = true
	r.answer = func(_ string, n int) int { return map[bool]int{true: 500, false: 204}[n == 1] }
	c.hook(r, map[string]any{"types": []string{"file.created"}})
	// deliver moves time until n events were accepted (retries wait for
	// their backoff, or for the visibility of a crashed attempt)
	deliver := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(r.accepted()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d events accepted, want %d", len(r.accepted()), n)
			}
			e.clock.Advance(30 * time.Second)
			time.Sleep(30 * time.Millisecond)
		}
	}
	routing := func(consumer string) []string {
		var out []string
		for _, op := range e.probe.CallsOf(consumer) {
			if op != "SQS.ReceiveMessage" && op != "SQS.DeleteMessageBatch" { // the event source mapping's, not the function's
				out = append(out, op)
			}
		}
		return out
	}
	e.probe.Reset()
	c.upload("clean.txt", random(10), nil)
	deliver(1)
	// the receiver accepts before the function records the delivery
	for deadline := time.Now().Add(10 * time.Second); len(routing(lambdas.Deliveries)) < 8 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	points := map[string][]string{lambdas.Dispatcher: routing(lambdas.Dispatcher), lambdas.Deliveries: routing(lambdas.Deliveries)}
	t.Logf("routing one event (its first attempt failing) makes %v", points)
	if len(points[lambdas.Dispatcher]) != 3 || len(points[lambdas.Deliveries]) < 8 {
		t.Fatalf("routing made %v", points)
	}
	n := 1
	for _, consumer := range []string{lambdas.Dispatcher, lambdas.Deliveries} {
		for _, fp := range faultPoints(points[consumer]) {
			fp.Consumer = consumer
			e.probe.Arm(fp)
			c.upload("f.txt", random(10), nil)
			n++
			deliver(n)
			e.probe.Disarm()
		}
	}
	e.clock.Advance(outbox.Settle)
	feed, _ := c.drain("", 500)
	onBus := map[string]int{}
	for _, p := range e.srv.Messaging.BusEvents(e.srv.Deps.Cfg.BusName) {
		var env outbox.Envelope
		if err := json.Unmarshal([]byte(p.Detail), &env); err != nil {
			t.Fatal(err)
		}
		onBus[env.ID]++
	}
	got, dups := r.accepted(), 0
	for _, ev := range feed {
		if _, ok := got[ev.ID]; !ok && ev.Type == "file.created" {
			t.Errorf("%s %s was not delivered", ev.Type, ev.ID)
		}
		if onBus[ev.ID] == 0 {
			t.Errorf("%s %s is not on the bus", ev.Type, ev.ID)
		}
		dups += onBus[ev.ID] - 1
		delete(onBus, ev.ID)
	}
	if len(got) != n || len(feed) != n || len(onBus) != 0 {
		t.Fatalf("%d uploads, %d events in the feed, %d delivered, %d invented on the bus", n, len(feed), len(got), len(onBus))
	}
	t.Logf("%d events routed under %d faults: %d repeated on the bus (same id), %d delivery attempts", n, n-1, dups, len(r.got))
}

// TestWebhookOrder: a Wegly batch of two files is one change: its five
// events reach a webhook in the feed's order, each with its sequence, even
// when one of them is refused once (the ones after it wait for its
// retry).
func TestWebhookOrder(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t)) // the outbox's stream and the deliveries queue
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	refused := ""
	r.answer = func(id string, n int) int { // under r.mu
		if refused == "" && len(r.got) == 2 { // the third event's first attempt
			refused = id
			return 500
		}
		return 204
	}
	c.hook(r, map[string]any{})
	lead := uuid.NewString()
	c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{"title": "Acme Ltda"})
	ct, body := multipartBody(t, [][2]string{{"crm_lead_id", lead}},
		[]formFile{{"files", "a.pdf", "application/pdf", random(100)}, {"files", "b.pdf", "application/pdf", random(200)}})
	if res := c.post(batchPath, ct, body); res.Status != 201 {
		t.Fatalf("batch: %s", res)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		done := refused != ""
		r.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the third event never came")
		}
	}
	time.Sleep(200 * time.Millisecond) // nothing overtakes it meanwhile
	e.clock.Advance(webhooks.Backoff[0]*11/10 + time.Second)
	if got := r.waitFor(5); len(got) != 5 {
		t.Fatalf("%d events accepted", len(got))
	}
	r.mu.Lock()
	var arrived []string
	for _, d := range r.got {
		arrived = append(arrived, d.ID)
	}
	r.mu.Unlock()
	// the feed's order, sequences sorted
	e.clock.Advance(outbox.Settle)
	var ids, seqs, types []string
	for _, x := range c.expect(200, "GET", "/v1/events", nil)["_embedded"].(map[string]any)["events"].([]any) {
		ev := x.(map[string]any)
		ids, seqs, types = append(ids, ev["id"].(string)), append(seqs, ev["sequence"].(string)), append(types, ev["type"].(string))
	}
	if len(ids) != 5 || types[0] != "batch.created" || !slices.IsSorted(seqs) {
		t.Fatalf("feed %v, sequences %v", types, seqs)
	}
	want := slices.Insert(slices.Clone(ids), 2, ids[2]) // the third twice: refused, then retried
	if !slices.Equal(arrived, want) || refused != ids[2] {
		t.Fatalf("arrived %v, want the feed's order %v (%v) with the third retried before the rest", arrived, want, types)
	}
}

// TestWebhookRecovery: events written while a webhook is off reach it when
// it is switched back on with recover, each once under its original id (the
// one delivered before is not sent again), and POST .../recover from
// before them all sends nothing twice. What recover refuses, it names.
func TestWebhookRecovery(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t)) // the outbox's stream and the deliveries queue
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	w := c.hook(r, map[string]any{"types": []string{"file.created", "file.trashed"}})
	hook := "/v1/webhooks/" + w["id"].(string)
	start := e.clock.Now()
	a := c.upload("a.txt", random(10), nil)
	before := r.first()
	r.waitAttempts(before, 1)

	c.expect(200, "PATCH", hook, map[string]any{"enabled": false})
	c.upload("b.txt", random(10), nil)
	c.expect(200, "DELETE", "/v1/files", batchBody(a["uuid"].(string)))
	time.Sleep(300 * time.Millisecond)
	if n := len(r.accepted()); n != 1 {
		t.Fatalf("%d events delivered to a webhook that is off", n)
	}
	// what the feed says it missed, by id
	e.clock.Advance(outbox.Settle)
	missed := map[string]string{}
	for _, x := range c.expect(200, "GET", "/v1/events", nil)["_embedded"].(map[string]any)["events"].([]any) {
		if ev := x.(map[string]any); ev["id"] != before {
			missed[ev["id"].(string)] = ev["type"].(string)
		}
	}
	if len(missed) != 2 {
		t.Fatalf("the feed has %v besides the first", missed)
	}

	// refusals name their field
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		field        string
	}{
		{"POST", hook + "/recover", map[string]any{"since": start.Format(time.RFC3339Nano)}, ""}, // off: 409
		{"POST", hook + "/recover", map[string]any{}, "since"},
		{"POST", hook + "/recover", map[string]any{"since": "yesterday"}, "since"},
		{"PATCH", hook, map[string]any{"recover": true}, "recover"},
		{"POST", "/v1/webhooks", map[string]any{"url": r.URL(), "recover": true}, "recover"},
	} {
		res := c.do(tc.method, tc.path, tc.body)
		if tc.field == "" {
			if res.Status != 409 || res.JSON()["code"] != "webhook_disabled" {
				t.Fatalf("recover while off: %s", res)
			}
			continue
		}
		if res.Status != 400 || !strings.Contains(string(res.Body), `"`+tc.field+`"`) {
			t.Fatalf("%s %s %v: %s, want a problem naming %s", tc.method, tc.path, tc.body, res, tc.field)
		}
	}

	// on again with recover: the two missed events, once each, with their ids
	c.expect(200, "PATCH", hook, map[string]any{"enabled": true, "recover": true})
	got := r.waitFor(3)
	for id, ty := range missed {
		if got[id].Type != ty {
			t.Fatalf("missed %s (%s) not recovered: %v", id, ty, got)
		}
	}
	if r.attempts(before) != 1 {
		t.Fatalf("the event delivered before was sent %d times", r.attempts(before))
	}
	// from before it all: nothing is sent twice, and a too-old since is refused
	res := c.expect(202, "POST", hook+"/recover", map[string]any{"since": start.Format(time.RFC3339Nano)})
	if res["since"] == nil || res["until"] == nil {
		t.Fatalf("recover: %v", res)
	}
	if res := c.do("POST", hook+"/recover", map[string]any{"since": e.clock.Now().Add(-31 * 24 * time.Hour).Format(time.RFC3339)}); res.Status != 400 ||
		!strings.Contains(string(res.Body), `"since"`) {
		t.Fatalf("recover 31 days back: %s", res)
	}
	time.Sleep(500 * time.Millisecond)
	for id := range missed {
		if n := r.attempts(id); n != 1 {
			t.Fatalf("event %s sent %d times", id, n)
		}
	}
	if n := len(r.accepted()); n != 3 {
		t.Fatalf("%d events accepted, want 3", n)
	}
}

// TestSlowEndpointIsolation: a webhook whose endpoint never answers (each
// attempt held for the sender's whole timeout, 5 s here) beside a healthy
// one, both taking 20 changes made 50 ms apart. The healthy endpoint gets
// every event before the slow endpoint's first attempt has even timed
// out: a batch waiting on the slow endpoint holds one invocation, the
// others keep going, and the slow endpoint gets at most MaxInFlight
// attempts at once, so its backlog cannot take every invocation (before
// the slots, a busy machine saw its 20 attempts hold all 20; before the
// 20, each batch waited for the one before it: p50 7 s, p99 20 s). The
// latencies are logged (docs/performance.md).
func TestSlowEndpointIsolation(t *testing.T) {
	t.Parallel()
	const attemptTimeout = 5 * time.Second
	e := start(t, testenv.Embedded(t), func(o *devserver.Options) { o.Config.WebhookTimeout = attemptTimeout })
	c := e.account(0, "")
	slow, healthy := newReceiver(t, e.clock.Now), newReceiver(t, e.clock.Now)
	slow.answer, slow.hang = func(string, int) int { return 0 }, 2*attemptTimeout
	c.hook(slow, map[string]any{})
	c.hook(healthy, map[string]any{})
	f := c.upload("a.txt", random(10), nil)
	const changes = 20
	for i := range changes {
		if i%2 == 0 {
			c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
		} else {
			c.expect(200, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := healthy.waitFor(changes + 1)
	slow.mu.Lock()
	attempts := slices.Clone(slow.got)
	slow.mu.Unlock()
	if len(got) != changes+1 || len(attempts) == 0 {
		t.Fatalf("the healthy endpoint got %d of %d events, the slow one %d attempts", len(got), changes+1, len(attempts))
	}
	firstTimeout := attempts[0].Got.Add(attemptTimeout)
	// the attempts that began within half a timeout of the first were all
	// under way together: the endpoint's slots bound them
	early := 0
	for _, a := range attempts {
		if a.Got.Before(attempts[0].Got.Add(attemptTimeout / 2)) {
			early++
		}
	}
	if early > webhooks.MaxInFlight {
		t.Errorf("the slow endpoint had %d attempts under way at once, want at most %d", early, webhooks.MaxInFlight)
	}
	var lat []time.Duration
	for _, d := range got {
		lat = append(lat, d.Got.Sub(d.At))
		if !d.Got.Before(firstTimeout) {
			t.Errorf("%s (%s) reached the healthy endpoint %v after the slow endpoint's first attempt began: it waited for it",
				d.ID, d.Type, d.Got.Sub(attempts[0].Got).Round(time.Millisecond))
		}
	}
	slices.Sort(lat)
	t.Logf("healthy endpoint beside a slow one: delivery p50 %v, p99 %v over %d events; the slow endpoint held %d attempts of %v",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), len(lat), len(attempts), attemptTimeout)
}
