package devserver

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Messaging is an embedded SQS and EventBridge on loopback: the slice of
// both that Anexo uses, speaking their JSON protocols to the SDK clients
// (local mode has no AWS). SQS: queues with a visibility timeout, message
// delays, receive counts and a redrive policy that moves a message to its
// dead-letter queue after maxReceiveCount receives, as SQS does.
// EventBridge: buses that keep what is put on them (tests read them back),
// and rules with event patterns that hand each entry to SQS queues and
// API destinations (eventrules.go).
// Its clock is the server's, so a test that moves time moves visibility.
type Messaging struct {
	URL   string
	Now   func() time.Time
	mu    sync.Mutex
	qs    map[string]*queue // by name
	buses map[string][]PutEvent
	// the buses' rules (by bus, then name), connections and API
	// destinations (by ARN)
	ruleSet map[string]map[string]*rule
	conns   map[string]*connection
	dests   map[string]*apiDestination
	srv     *http.Server
	// published see every entry a bus takes (called with mu held: they
	// must not call back)
	published []func(bus string, ev PutEvent)
	// scanRequested, when set, takes GuardDuty's on-demand scan requests
	// (SendObjectMalwareScan): false when the bucket has no plan
	scanRequested func(bucket, key, versionID string) bool
}

// PutEvent is an entry a bus received.
type PutEvent struct {
	ID, Source, DetailType, Detail string
	Time                           time.Time
}

type queue struct {
	name       string
	visibility time.Duration
	dlq        string // name of the dead-letter queue
	maxRecv    int
	redrive    string
	msgs       []*message
}

type message struct {
	id, body, receipt string
	sent, visibleAt   time.Time
	firstRecv         time.Time
	receives          int
}

// The region and account the emulator's ARNs and URLs name: a queue's ARN
// is what a rule's target names, so both come from here.
const (
	region       = "us-east-1"
	awsAccount   = "000000000000"
	arnPrefix    = "arn:aws:events:" + region + ":" + awsAccount + ":"
	sqsARNPrefix = "arn:aws:sqs:" + region + ":" + awsAccount + ":"
)

// StartMessaging serves an embedded SQS and EventBridge on 127.0.0.1.
func StartMessaging(now func() time.Time) (*Messaging, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	m := &Messaging{URL: "http://" + ln.Addr().String(), Now: now, qs: map[string]*queue{}, buses: map[string][]PutEvent{},
		ruleSet: map[string]map[string]*rule{}, conns: map[string]*connection{}, dests: map[string]*apiDestination{}}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// Close stops the server.
func (m *Messaging) Close() error { return m.srv.Close() }

// QueueURL is the URL of the queue named name.
func (m *Messaging) QueueURL(name string) string { return m.URL + "/" + awsAccount + "/" + name }

// BusEvents lists what a bus received, oldest first.
func (m *Messaging) BusEvents(bus string) []PutEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]PutEvent(nil), m.buses[bus]...)
}

// Messages counts a queue's messages (visible or not).
func (m *Messaging) Messages(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.qs[name]; q != nil {
		return len(q.msgs)
	}
	return 0
}

type apiError struct {
	status int
	code   string
	msg    string
}

func fail(code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, a...)}
}

func (m *Messaging) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == scanRequestPath {
		m.scanRequest(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var out any
	var e *apiError
	var prefix string
	switch {
	case strings.HasPrefix(target, "AmazonSQS."):
		prefix = "com.amazonaws.sqs#"
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		out, e = m.sqs(strings.TrimPrefix(target, "AmazonSQS."), body)
	case strings.HasPrefix(target, "AWSEvents."):
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		out, e = m.events(strings.TrimPrefix(target, "AWSEvents."), body)
	default:
		e = &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", msg: "unknown target " + target}
	}
	if e != nil {
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": prefix + e.code, "message": e.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return fail("InvalidParameterValue", "malformed request: %v", err)
	}
	return nil
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func newReceipt() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// queueOf finds the queue of a URL (caller holds mu).
func (m *Messaging) queueOf(url string) (*queue, *apiError) {
	q := m.qs[url[strings.LastIndex(url, "/")+1:]]
	if q == nil || url != m.QueueURL(q.name) {
		return nil, fail("QueueDoesNotExist", "The specified queue does not exist.")
	}
	return q, nil
}

type sendEntry struct {
	ID           string `json:"Id"`
	MessageBody  string
	DelaySeconds int
}

func (m *Messaging) sqs(op string, body []byte) (any, *apiError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.Now()
	var in struct {
		QueueName    string
		QueueURL     string `json:"QueueUrl"`
		Attributes   map[string]string
		MessageBody  string
		DelaySeconds int
		Entries      []struct {
			sendEntry
			ReceiptHandle string
		}
		MaxNumberOfMessages int
		VisibilityTimeout   *int
		ReceiptHandle       string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if op == "CreateQueue" || op == "GetQueueUrl" {
		return m.createQueue(op, in.QueueName, in.Attributes)
	}
	q, e := m.queueOf(in.QueueURL)
	if e != nil {
		return nil, e
	}
	switch op {
	case "GetQueueAttributes":
		visible := 0
		for _, msg := range q.msgs {
			if !now.Before(msg.visibleAt) {
				visible++
			}
		}
		attrs := map[string]string{"QueueArn": sqsARNPrefix + q.name,
			"VisibilityTimeout": strconv.Itoa(int(q.visibility.Seconds())), "ApproximateNumberOfMessages": strconv.Itoa(visible),
			"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(len(q.msgs) - visible)}
		if q.redrive != "" {
			attrs["RedrivePolicy"] = q.redrive
		}
		return map[string]any{"Attributes": attrs}, nil
	case "SendMessage":
		id := q.send(in.MessageBody, in.DelaySeconds, now)
		return map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(in.MessageBody)}, nil
	case "SendMessageBatch":
		var ok []map[string]string
		for _, en := range in.Entries {
			id := q.send(en.MessageBody, en.DelaySeconds, now)
			ok = append(ok, map[string]string{"Id": en.ID, "MessageId": id, "MD5OfMessageBody": md5Hex(en.MessageBody)})
		}
		return map[string]any{"Successful": ok, "Failed": []any{}}, nil
	case "ReceiveMessage":
		vis := q.visibility
		if in.VisibilityTimeout != nil {
			vis = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		return map[string]any{"Messages": m.receive(q, max(1, min(in.MaxNumberOfMessages, 10)), vis, now)}, nil
	case "DeleteMessage":
		if !q.remove(in.ReceiptHandle) {
			return nil, fail("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
		}
		return map[string]any{}, nil
	case "DeleteMessageBatch":
		var ok, failed []map[string]any
		for _, en := range in.Entries {
			if q.remove(en.ReceiptHandle) {
				ok = append(ok, map[string]any{"Id": en.ID})
			} else {
				failed = append(failed, map[string]any{"Id": en.ID, "Code": "ReceiptHandleIsInvalid", "SenderFault": true, "Message": "invalid receipt handle"})
			}
		}
		return map[string]any{"Successful": ok, "Failed": failed}, nil
	case "ChangeMessageVisibility":
		if in.VisibilityTimeout == nil || *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
			return nil, fail("InvalidParameterValue", "VisibilityTimeout must be from 0 to 43200 seconds")
		}
		for _, msg := range q.msgs {
			if msg.receipt == in.ReceiptHandle {
				if !now.Before(msg.visibleAt) {
					return nil, fail("MessageNotInflight", "The message referred to is not in flight.")
				}
				msg.visibleAt = now.Add(time.Duration(*in.VisibilityTimeout) * time.Second)
				return map[string]any{}, nil
			}
		}
		return nil, fail("ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
	}
	return nil, fail("UnsupportedOperation", "%s is not supported by the embedded SQS", op)
}

func (m *Messaging) createQueue(op, name string, attrs map[string]string) (any, *apiError) {
	q := m.qs[name]
	if op == "GetQueueUrl" {
		if q == nil {
			return nil, fail("QueueDoesNotExist", "The specified queue does not exist.")
		}
		return map[string]string{"QueueUrl": m.QueueURL(name)}, nil
	}
	if q == nil {
		q = &queue{name: name, visibility: 30 * time.Second}
		m.qs[name] = q
	}
	if v, ok := attrs["VisibilityTimeout"]; ok {
		n, _ := strconv.Atoi(v)
		q.visibility = time.Duration(n) * time.Second
	}
	if v, ok := attrs["RedrivePolicy"]; ok {
		var rp struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if json.Unmarshal([]byte(v), &rp) != nil {
			return nil, fail("InvalidAttributeValue", "malformed RedrivePolicy")
		}
		q.dlq, q.redrive = rp.Target[strings.LastIndex(rp.Target, ":")+1:], v
		q.maxRecv, _ = strconv.Atoi(fmt.Sprint(rp.Max))
	}
	return map[string]string{"QueueUrl": m.QueueURL(name)}, nil
}

func (q *queue) send(body string, delay int, now time.Time) string {
	msg := &message{id: uuid.NewString(), body: body, sent: now, visibleAt: now.Add(time.Duration(delay) * time.Second)}
	q.msgs = append(q.msgs, msg)
	return msg.id
}

func (q *queue) remove(receipt string) bool {
	for i, msg := range q.msgs {
		if msg.receipt == receipt && receipt != "" {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			return true
		}
	}
	return false
}

// receive takes up to n visible messages, oldest first; one past its
// queue's maxReceiveCount goes to the dead-letter queue instead.
func (m *Messaging) receive(q *queue, n int, vis time.Duration, now time.Time) []map[string]any {
	out := []map[string]any{}
	keep := q.msgs[:0]
	for _, msg := range q.msgs {
		if len(out) == n || now.Before(msg.visibleAt) {
			keep = append(keep, msg)
			continue
		}
		if dlq := m.qs[q.dlq]; dlq != nil && q.maxRecv > 0 && msg.receives >= q.maxRecv {
			msg.receives, msg.receipt, msg.visibleAt = 0, "", now
			dlq.msgs = append(dlq.msgs, msg)
			continue
		}
		msg.receives++
		if msg.firstRecv.IsZero() {
			msg.firstRecv = now
		}
		msg.receipt, msg.visibleAt = newReceipt(), now.Add(vis)
		keep = append(keep, msg)
		out = append(out, map[string]any{"MessageId": msg.id, "ReceiptHandle": msg.receipt, "Body": msg.body, "MD5OfBody": md5Hex(msg.body),
			"Attributes": map[string]string{"ApproximateReceiveCount": strconv.Itoa(msg.receives),
				"SentTimestamp": strconv.FormatInt(msg.sent.UnixMilli(), 10), "ApproximateFirstReceiveTimestamp": strconv.FormatInt(msg.firstRecv.UnixMilli(), 10)}})
	}
	q.msgs = keep
	return out
}

func (m *Messaging) events(op string, body []byte) (any, *apiError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if out, e, ok := m.rules(op, body); ok {
		return out, e
	}
	var in struct {
		Name    string
		Entries []struct {
			Source, DetailType, Detail, EventBusName string
			Time                                     *float64
		}
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch op {
	case "CreateEventBus":
		if _, ok := m.buses[in.Name]; ok {
			return nil, fail("ResourceAlreadyExistsException", "Event bus %s already exists.", in.Name)
		}
		m.buses[in.Name] = nil
		return map[string]string{"EventBusArn": arnPrefix + "event-bus/" + in.Name}, nil
	case "PutEvents":
		if len(in.Entries) == 0 || len(in.Entries) > 10 {
			return nil, fail("ValidationException", "Entries must have 1 to 10 members")
		}
		var res []map[string]string
		failed := 0
		for _, en := range in.Entries {
			bus := en.EventBusName
			if bus == "" {
				bus = "default"
			}
			_, exists := m.buses[bus]
			var detail map[string]any
			switch {
			case !exists:
				failed++
				res = append(res, map[string]string{"ErrorCode": "ResourceNotFoundException", "ErrorMessage": "Event bus " + bus + " does not exist."})
				continue
			case en.Source == "" || en.DetailType == "" || json.Unmarshal([]byte(en.Detail), &detail) != nil:
				failed++
				res = append(res, map[string]string{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
				continue
			}
			ev := PutEvent{ID: uuid.NewString(), Source: en.Source, DetailType: en.DetailType, Detail: en.Detail, Time: m.Now()}
			if en.Time != nil {
				ev.Time = time.Unix(0, int64(*en.Time*1e9)).UTC()
			}
			m.buses[bus] = append(m.buses[bus], ev)
			m.route(bus, ev)
			for _, hear := range m.published {
				hear(bus, ev)
			}
			res = append(res, map[string]string{"EventId": ev.ID})
		}
		return map[string]any{"FailedEntryCount": failed, "Entries": res}, nil
	}
	return nil, fail("UnsupportedOperation", "%s is not supported by the embedded EventBridge", op)
}

// scanRequestPath is GuardDuty's SendObjectMalwareScan (REST JSON).
const scanRequestPath = "/object-malware-scan/send"

// scanRequest answers SendObjectMalwareScan as GuardDuty does: 200 with
// an empty body, 400 BadRequestException for a request without an object
// or for a bucket no malware protection plan covers.
func (m *Messaging) scanRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		S3Object *struct {
			Bucket    string `json:"bucket"`
			Key       string `json:"key"`
			VersionID string `json:"versionId"`
		} `json:"s3Object"`
	}
	m.mu.Lock()
	requested := m.scanRequested
	m.mu.Unlock()
	fail := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", "BadRequestException")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "__type": "BadRequestException"})
	}
	switch err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); {
	case err != nil:
		fail("malformed request: " + err.Error())
	case in.S3Object == nil || in.S3Object.Bucket == "" || in.S3Object.Key == "":
		fail("s3Object with its bucket and key is required")
	case requested == nil || !requested(in.S3Object.Bucket, in.S3Object.Key, in.S3Object.VersionID):
		fail("The bucket " + in.S3Object.Bucket + " has no Malware Protection plan")
	default:
		w.WriteHeader(http.StatusOK)
	}
}
