package devserver

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// objectCreated is a new object version the embedded S3 reports.
type objectCreated struct {
	Key       string
	VersionID string // "" when the gateway does not say (PutObject)
}

// s3Events hands the embedded S3's object-created notifications (its
// event webhook) to the subscribers of each bucket. The gateway is one per
// process, so its notifications are too; each local server subscribes for
// its own bucket.
var s3Events = &eventFan{subs: map[string]func(objectCreated){}}

type eventFan struct {
	mu   sync.Mutex
	subs map[string]func(objectCreated)
}

// subscribe sends bucket's new objects to f until the returned func is
// called.
func (e *eventFan) subscribe(bucket string, f func(objectCreated)) func() {
	e.mu.Lock()
	e.subs[bucket] = f
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		delete(e.subs, bucket)
		e.mu.Unlock()
	}
}

// ServeHTTP receives the gateway's notifications (S3's event record
// shape). A form upload's record carries no key: local mode's postWatch
// reports those.
func (e *eventFan) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Records []struct {
			EventName string `json:"eventName"`
			S3        struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key       string  `json:"key"`
					VersionID *string `json:"versionId"`
				} `json:"object"`
			} `json:"s3"`
		}
	}
	_ = json.NewDecoder(r.Body).Decode(&ev)
	w.WriteHeader(http.StatusNoContent)
	for _, rec := range ev.Records {
		if !strings.Contains(rec.EventName, "ObjectCreated") || rec.S3.Object.Key == "" {
			continue
		}
		e.mu.Lock()
		f := e.subs[rec.S3.Bucket.Name]
		e.mu.Unlock()
		if f != nil {
			o := objectCreated{Key: rec.S3.Object.Key}
			if v := rec.S3.Object.VersionID; v != nil {
				o.VersionID = *v
			}
			f(o)
		}
	}
}

// listenS3Events serves the fan-out on a loopback port for the gateway's
// webhook.
func listenS3Events() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: s3Events, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}
