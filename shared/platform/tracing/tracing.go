// Package tracing records every AWS SDK call of a Lambda invocation as an
// X-Ray subsegment of the invocation's trace: the service ("DynamoDB",
// "S3"), the operation, the region, the request id and the HTTP status,
// with error (4xx) and fault (5xx, no answer) marks. It sends independent
// subsegment documents to the X-Ray daemon Lambda runs beside the function
// (UDP, AWS_XRAY_DAEMON_ADDRESS), under the Parent of the trace header
// Lambda hands each invocation, and only when that header says Sampled=1.
// It is the whole of what Anexo needs from an X-Ray SDK, without one.
package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// HeaderKey is the context key under which aws-lambda-go passes each
// invocation's trace header (a plain string key, as it uses).
const HeaderKey = "x-amzn-trace-id"

// Trace is what the trace header says about the invocation.
type Trace struct {
	Root, Parent string
	Sampled      bool
}

// ParseHeader reads "Root=1-…;Parent=…;Sampled=1".
func ParseHeader(h string) (Trace, bool) {
	var t Trace
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			t.Root = v
		case "Parent":
			t.Parent = v
		case "Sampled":
			t.Sampled = v == "1"
		}
	}
	return t, t.Root != "" && t.Parent != ""
}

// Recorder sends subsegments to a daemon.
type Recorder struct {
	Daemon string // host:port; empty: AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000

	once sync.Once
	conn net.Conn
}

// Install adds the recorder to an AWS config: every client built from it
// records its calls.
func (r *Recorder) Install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("xray-subsegment", r.handle), middleware.After)
	})
}

type subsegment struct {
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	ID        string         `json:"id"`
	TraceID   string         `json:"trace_id"`
	ParentID  string         `json:"parent_id"`
	StartTime float64        `json:"start_time"`
	EndTime   float64        `json:"end_time"`
	Namespace string         `json:"namespace"`
	AWS       map[string]any `json:"aws"`
	HTTP      map[string]any `json:"http,omitempty"`
	Error     bool           `json:"error,omitempty"`
	Fault     bool           `json:"fault,omitempty"`
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (r *Recorder) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	h, _ := ctx.Value(HeaderKey).(string)
	trace, ok := ParseHeader(h)
	if !ok || !trace.Sampled {
		return next.HandleInitialize(ctx, in)
	}
	start := time.Now()
	out, md, err := next.HandleInitialize(ctx, in)
	raw, _ := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if raw == nil && err == nil {
		return out, md, err // a presigned request: nothing was sent
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	s := subsegment{Type: "subsegment", Name: awsmiddleware.GetServiceID(ctx), ID: hex.EncodeToString(id), TraceID: trace.Root,
		ParentID: trace.Parent, StartTime: seconds(start), EndTime: seconds(time.Now()), Namespace: "aws",
		AWS: map[string]any{"operation": awsmiddleware.GetOperationName(ctx), "region": awsmiddleware.GetRegion(ctx)}}
	if rid, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		s.AWS["request_id"] = rid
	}
	switch {
	case raw != nil:
		s.HTTP = map[string]any{"response": map[string]any{"status": raw.StatusCode}}
		s.Error, s.Fault = raw.StatusCode >= 400 && raw.StatusCode < 500, raw.StatusCode >= 500
	case err != nil:
		s.Fault = true
	}
	r.send(s)
	return out, md, err
}

// send writes one document; tracing never fails a call.
func (r *Recorder) send(s subsegment) {
	r.once.Do(func() {
		addr := r.Daemon
		if addr == "" {
			addr = os.Getenv("AWS_XRAY_DAEMON_ADDRESS")
		}
		if i := strings.LastIndex(addr, " "); i >= 0 { // "udp:host:port tcp:host:port" form
			addr = addr[:i]
		}
		addr = strings.TrimPrefix(addr, "udp:")
		if addr == "" {
			addr = "127.0.0.1:2000"
		}
		r.conn, _ = net.Dial("udp", addr)
	})
	if r.conn == nil {
		return
	}
	doc, err := json.Marshal(s)
	if err != nil {
		return
	}
	_, _ = r.conn.Write(append([]byte("{\"format\":\"json\",\"version\":1}\n"), doc...))
}
