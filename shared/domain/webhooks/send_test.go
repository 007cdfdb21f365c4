package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/webhooks"
)

// The Standard Webhooks specification's example: this secret, id, time and
// body sign to this header.
func TestSignMatchesTheSpecification(t *testing.T) {
	t.Parallel()
	got, err := webhooks.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("Sign = %q, %v", got, err)
	}
	if s := webhooks.NewSecret(); !strings.HasPrefix(s, "whsec_") || len(s) != 6+44 || s == webhooks.NewSecret() {
		t.Fatalf("NewSecret = %q", s)
	}
}

// verify checks a delivery as a receiver would, from the specification
// alone (not with the library that signed it).
func verify(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if h.Get("webhook-signature") != want {
		t.Fatalf("signature %q, want %q", h.Get("webhook-signature"), want)
	}
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -time.Minute || d > time.Minute {
		t.Fatalf("timestamp %s is %v off", h.Get("webhook-timestamp"), d)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "0.1.2.3", "255.255.255.255", "224.0.0.1", "240.0.0.1",
		"198.18.0.1", "192.0.0.170", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
		"::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1",
		// the second review: IPv4-compatible, Teredo, and the rest of the IANA registries
		"::a9fe:a9fe", "::8.8.8.8", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:2::1", "3fff::1", "5f00::1", "192.88.99.1", "100:0:0:1::1", "fec0::1"} {
		if !webhooks.Forbidden(netip.MustParseAddr(a)) {
			t.Errorf("%s is reachable", a)
		}
	}
	for _, a := range []string{"1.1.1.1", "52.94.236.248", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"} {
		if webhooks.Forbidden(netip.MustParseAddr(a)) {
			t.Errorf("%s is refused", a)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://crm.example.com/hooks/anexo?x=1", false, true},
		{"https://crm.example.com:8443/h", false, true},
		{"http://crm.example.com/h", false, false},
		{"http://127.0.0.1:9000/h", true, true},
		{"http://localhost:9000/h", true, true},
		{"http://127.0.0.1:9000/h", false, false},
		{"https://127.0.0.1/h", false, false},
		{"https://169.254.169.254/latest/meta-data/", true, false},
		{"https://[::1]/h", false, false},
		{"https://[fd00:ec2::254]/h", false, false},
		{"https://10.1.2.3/h", false, false},
		{"https://user:pw@crm.example.com/h", false, false},
		{"https://crm.example.com/h#frag", false, false},
		{"crm.example.com/h", false, false},
		{"ftp://crm.example.com/h", false, false},
		{"https://crm.example.com:99999/h", false, false},
		{"https://crm.example.com/" + strings.Repeat("a", 2100), false, false},
	} {
		if _, err := webhooks.CheckURL("url", tc.url, tc.loopback); (err == nil) != tc.ok {
			t.Errorf("%s (loopback %v): %v", tc.url, tc.loopback, err)
		}
	}
}

// TestSend: a delivery carries the event as its body with the three
// headers a receiver verifies; the answer's status, latency and first bytes
// are kept.
func TestSend(t *testing.T) {
	t.Parallel()
	secret := webhooks.NewSecret()
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
		w.WriteHeader(204)
	}))
	defer srv.Close()
	at := time.Now()
	a := webhooks.NewSender(true).Send(context.Background(), srv.URL+"/hook", []string{secret}, "evt-1", at, []byte(`{"type":"file.created"}`))
	if !a.OK() || a.Status != 204 || a.Latency <= 0 || a.Error != "" {
		t.Fatalf("attempt %+v", a)
	}
	verify(t, secret, got, body)
	if got.Get("webhook-id") != "evt-1" || got.Get("Content-Type") != "application/json" || string(body) != `{"type":"file.created"}` {
		t.Fatalf("headers %v body %s", got, body)
	}
}

func must[T any](v T, _ error) T { return v }

// TestSendIsSSRFSafe: without loopback, addresses are refused when dialled
// (a name that resolves to loopback as much as a literal); a redirect is
// the endpoint's answer and is not followed; a slow endpoint times out; a
// long answer is read only so far.
func TestSendIsSSRFSafe(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/slow":
			time.Sleep(time.Second)
		case "/long":
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	}))
	defer srv.Close()
	tls := httptest.NewTLSServer(srv.Config.Handler)
	defer tls.Close()
	port := tls.URL[strings.LastIndexByte(tls.URL, ':'):]
	strict := webhooks.NewSender(false)
	for _, u := range []string{"https://localhost" + port + "/x", tls.URL + "/x", "https://169.254.169.254/x"} {
		if a := strict.Send(context.Background(), u, []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); a.Status != 0 || a.Error == "" {
			t.Fatalf("%s: %+v", u, a)
		}
	}
	if a := strict.Send(context.Background(), "https://localhost"+port+"/x", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); !strings.Contains(a.Error, "may not reach") {
		t.Fatalf("a name resolving to loopback: %+v", a)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the loopback server", n)
	}
	local := webhooks.NewSender(true).WithTimeout(200 * time.Millisecond)
	if a := local.Send(context.Background(), srv.URL+"/redirect", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); a.Status != 302 || a.OK() {
		t.Fatalf("redirect: %+v", a)
	}
	if a := local.Send(context.Background(), srv.URL+"/slow", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); a.Status != 0 || !strings.Contains(a.Error, "no answer within") {
		t.Fatalf("slow: %+v", a)
	}
	if a := local.Send(context.Background(), srv.URL+"/long", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); a.Status != 200 || len(a.Response) != webhooks.ExcerptBytes {
		t.Fatalf("long: status %d, %d bytes kept", a.Status, len(a.Response))
	}
}

// TestSenderTrustsALocalCA: an HTTPS receiver whose certificate a
// development CA issued is refused (unknown authority) until the sender
// trusts that CA's PEM, as make run does with ANEXO_WEBHOOK_CA_FILE.
func TestSenderTrustsALocalCA(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	s := webhooks.NewSender(true)
	if a := s.Send(context.Background(), srv.URL+"/x", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); a.OK() || !strings.Contains(a.Error, "certificate") {
		t.Fatalf("before the CA is trusted: %+v", a)
	}
	if _, err := webhooks.Roots([]byte("not a certificate")); err == nil {
		t.Fatal("a bundle without a certificate was accepted")
	}
	roots, err := webhooks.Roots(ca)
	if err != nil {
		t.Fatal(err)
	}
	s.Trust(roots)
	if a := s.Send(context.Background(), srv.URL+"/x", []string{webhooks.NewSecret()}, "e", time.Now(), []byte("{}")); !a.OK() || a.Status != 204 {
		t.Fatalf("with the CA trusted: %+v", a)
	}
}
