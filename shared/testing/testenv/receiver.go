package testenv

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Receiver is a webhook endpoint over HTTPS (its certificate is
// Server.Certificate(), trusted by no system pool) that answers 204 and
// counts the deliveries that carry a signature. It closes with the test.
type Receiver struct {
	*httptest.Server
	Signed atomic.Int32
}

// NewReceiver starts a Receiver.
func NewReceiver(t testing.TB) *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("webhook-signature") != "" {
			r.Signed.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}
