package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The embedded EventBridge's rules: an integrator tries a rule on the
// bus locally as on AWS (put-rule with an event pattern, put-targets),
// and each entry put on the bus reaches the targets of every enabled rule
// it matches, as EventBridge hands it to them (its envelope, detail the
// event; events/bus/event.schema.json). Targets: SQS queues of this
// emulator, and API destinations (HTTP endpoints, with a connection's
// API key or basic auth), posted to with a few retries.

const (
	// apiDestinationTries and apiDestinationTimeout: EventBridge gives an
	// API destination 5 s an attempt and retries 5xx, 429 and network
	// errors; locally a few tries a second apart.
	apiDestinationTries   = 3
	apiDestinationTimeout = 5 * time.Second
)

type rule struct {
	name, bus, patternText, description string
	enabled                             bool
	pattern                             *pattern
	targets                             map[string]target // by Id
}

func (r *rule) arn() string {
	if r.bus == "default" {
		return arnPrefix + "rule/" + r.name
	}
	return arnPrefix + "rule/" + r.bus + "/" + r.name
}

type target struct {
	ID        string `json:"Id"`
	Arn       string
	Input     string `json:",omitempty"`
	InputPath string `json:",omitempty"`
}

type connection struct {
	name, arn   string
	header, val string // the authorization header the connection adds
}

type apiDestination struct {
	name, arn, endpoint, method, connection string
}

// rulesIn is the request shape of the rule operations.
type rulesIn struct {
	Name, EventBusName, EventPattern, State, Description, NamePrefix string
	ScheduleExpression                                               string
	Rule                                                             string
	Targets                                                          []struct {
		target
		InputTransformer json.RawMessage
	}
	Ids               []string
	Event             string
	AuthorizationType string
	AuthParameters    struct {
		APIKeyAuthParameters struct{ ApiKeyName, ApiKeyValue string } `json:"ApiKeyAuthParameters"`
		BasicAuthParameters  struct{ Username, Password string }
	}
	ConnectionArn, InvocationEndpoint, HttpMethod string
}

// rules serves the rule, target, connection and API destination
// operations (caller holds mu); false: not one of them.
func (m *Messaging) rules(op string, body []byte) (any, *apiError, bool) {
	var in rulesIn
	switch op {
	case "PutRule", "DescribeRule", "ListRules", "DeleteRule", "EnableRule", "DisableRule", "PutTargets", "RemoveTargets",
		"ListTargetsByRule", "TestEventPattern", "CreateConnection", "DeleteConnection", "CreateApiDestination", "DeleteApiDestination":
	default:
		return nil, nil, false
	}
	if e := decode(body, &in); e != nil {
		return nil, e, true
	}
	out, e := m.ruleOp(op, in)
	return out, e, true
}

func notFound(format string, a ...any) *apiError {
	return fail("ResourceNotFoundException", format, a...)
}

func (m *Messaging) ruleOp(op string, in rulesIn) (any, *apiError) {
	bus := in.EventBusName
	if bus == "" {
		bus = "default"
	}
	if strings.HasPrefix(bus, "arn:") {
		bus = bus[strings.LastIndex(bus, "/")+1:]
	}
	switch op {
	case "TestEventPattern":
		p, err := compilePattern(in.EventPattern)
		if err != nil {
			return nil, fail("InvalidEventPatternException", "%s", err.Error())
		}
		var ev map[string]any
		if json.Unmarshal([]byte(in.Event), &ev) != nil {
			return nil, fail("ValidationException", "Event is not a JSON object")
		}
		return map[string]bool{"Result": p.match(ev)}, nil
	case "CreateConnection":
		return m.createConnection(in)
	case "DeleteConnection":
		for arn, c := range m.conns {
			if c.name == in.Name {
				delete(m.conns, arn)
				return map[string]string{"ConnectionArn": arn, "ConnectionState": "DELETING"}, nil
			}
		}
		return nil, notFound("Connection %s does not exist.", in.Name)
	case "CreateApiDestination":
		if _, ok := m.conns[in.ConnectionArn]; !ok {
			return nil, notFound("Connection %s does not exist.", in.ConnectionArn)
		}
		if !strings.HasPrefix(in.InvocationEndpoint, "http://") && !strings.HasPrefix(in.InvocationEndpoint, "https://") || in.Name == "" {
			return nil, fail("ValidationException", "Name and an http(s) InvocationEndpoint are required")
		}
		method := strings.ToUpper(in.HttpMethod)
		if method == "" {
			method = http.MethodPost
		}
		d := &apiDestination{name: in.Name, arn: arnPrefix + "api-destination/" + in.Name + "/" + uuid.NewString(),
			endpoint: in.InvocationEndpoint, method: method, connection: in.ConnectionArn}
		m.dests[d.arn] = d
		return map[string]string{"ApiDestinationArn": d.arn, "ApiDestinationState": "ACTIVE"}, nil
	case "DeleteApiDestination":
		for arn, d := range m.dests {
			if d.name == in.Name {
				delete(m.dests, arn)
				return map[string]any{}, nil
			}
		}
		return nil, notFound("An api-destination '%s' does not exist.", in.Name)
	}
	if _, ok := m.buses[bus]; !ok {
		return nil, notFound("Event bus %s does not exist.", bus)
	}
	if m.ruleSet[bus] == nil {
		m.ruleSet[bus] = map[string]*rule{}
	}
	rules := m.ruleSet[bus]
	if op == "ListRules" {
		names := make([]string, 0, len(rules))
		for n := range rules {
			if strings.HasPrefix(n, in.NamePrefix) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		list := []map[string]string{}
		for _, n := range names {
			list = append(list, rules[n].describe())
		}
		return map[string]any{"Rules": list}, nil
	}
	if op == "PutRule" {
		return m.putRule(bus, in)
	}
	name := in.Name
	if name == "" {
		name = in.Rule
	}
	r := rules[name]
	if r == nil {
		return nil, notFound("Rule %s does not exist on EventBus %s.", name, bus)
	}
	switch op {
	case "DescribeRule":
		return r.describe(), nil
	case "DeleteRule":
		if len(r.targets) > 0 {
			return nil, fail("ValidationException", "Rule can't be deleted since it has targets.")
		}
		delete(rules, name)
	case "EnableRule", "DisableRule":
		r.enabled = op == "EnableRule"
	case "PutTargets":
		return m.putTargets(r, in)
	case "RemoveTargets":
		for _, id := range in.Ids {
			delete(r.targets, id)
		}
		return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
	case "ListTargetsByRule":
		ids := make([]string, 0, len(r.targets))
		for id := range r.targets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		list := []target{}
		for _, id := range ids {
			list = append(list, r.targets[id])
		}
		return map[string]any{"Targets": list}, nil
	}
	return map[string]any{}, nil
}

func (m *Messaging) putRule(bus string, in rulesIn) (any, *apiError) {
	switch {
	case in.Name == "":
		return nil, fail("ValidationException", "Name is required")
	case in.ScheduleExpression != "":
		return nil, fail("ValidationException", "the embedded EventBridge runs event pattern rules only, not schedules")
	case in.EventPattern == "":
		return nil, fail("ValidationException", "EventPattern is required")
	}
	p, err := compilePattern(in.EventPattern)
	if err != nil {
		return nil, fail("InvalidEventPatternException", "%s", err.Error())
	}
	r := m.ruleSet[bus][in.Name]
	if r == nil {
		r = &rule{name: in.Name, bus: bus, targets: map[string]target{}}
		m.ruleSet[bus][in.Name] = r
	}
	r.pattern, r.patternText, r.description, r.enabled = p, in.EventPattern, in.Description, in.State != "DISABLED"
	return map[string]string{"RuleArn": r.arn()}, nil
}

func (r *rule) describe() map[string]string {
	state := "ENABLED"
	if !r.enabled {
		state = "DISABLED"
	}
	return map[string]string{"Name": r.name, "Arn": r.arn(), "EventBusName": r.bus, "EventPattern": r.patternText,
		"State": state, "Description": r.description}
}

func (m *Messaging) putTargets(r *rule, in rulesIn) (any, *apiError) {
	failed := []map[string]string{}
	for _, t := range in.Targets {
		var why string
		switch {
		case t.ID == "":
			why = "a target needs an Id"
		case len(t.InputTransformer) > 0:
			why = "the embedded EventBridge does not run input transformers: use Input or InputPath"
		case t.InputPath != "" && !strings.HasPrefix(t.InputPath, "$"):
			why = "InputPath must be a JSONPath like $.detail"
		case strings.HasPrefix(t.Arn, sqsARNPrefix):
		case m.dests[t.Arn] != nil:
		default:
			why = "the embedded EventBridge delivers to its own SQS queues (" + sqsARNPrefix + "NAME) and to API destinations only"
		}
		if why != "" {
			failed = append(failed, map[string]string{"TargetId": t.ID, "ErrorCode": "ValidationException", "ErrorMessage": why})
			continue
		}
		r.targets[t.ID] = t.target
	}
	return map[string]any{"FailedEntryCount": len(failed), "FailedEntries": failed}, nil
}

func (m *Messaging) createConnection(in rulesIn) (any, *apiError) {
	c := &connection{name: in.Name, arn: arnPrefix + "connection/" + in.Name + "/" + uuid.NewString()}
	switch in.AuthorizationType {
	case "API_KEY":
		c.header, c.val = in.AuthParameters.APIKeyAuthParameters.ApiKeyName, in.AuthParameters.APIKeyAuthParameters.ApiKeyValue
	case "BASIC":
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		req.SetBasicAuth(in.AuthParameters.BasicAuthParameters.Username, in.AuthParameters.BasicAuthParameters.Password)
		c.header, c.val = "Authorization", req.Header.Get("Authorization")
	default:
		return nil, fail("ValidationException", "the embedded EventBridge takes API_KEY and BASIC connections")
	}
	if in.Name == "" || c.header == "" {
		return nil, fail("ValidationException", "Name and the authorization parameters are required")
	}
	for _, old := range m.conns {
		if old.name == in.Name {
			return nil, fail("ResourceAlreadyExistsException", "Connection %s already exists.", in.Name)
		}
	}
	m.conns[c.arn] = c
	return map[string]string{"ConnectionArn": c.arn, "ConnectionState": "AUTHORIZED"}, nil
}

// route hands an entry put on bus to the targets of every enabled rule
// it matches (caller holds mu): queues at once, API destinations in the
// background.
func (m *Messaging) route(bus string, ev PutEvent) {
	var detail any
	_ = json.Unmarshal([]byte(ev.Detail), &detail)
	entry := map[string]any{"version": "0", "id": ev.ID, "detail-type": ev.DetailType, "source": ev.Source,
		"account": awsAccount, "time": ev.Time.UTC().Format(time.RFC3339), "region": region, "resources": []any{}, "detail": detail}
	for _, r := range m.ruleSet[bus] {
		if !r.enabled || !r.pattern.match(entry) {
			continue
		}
		for _, t := range r.targets {
			body, ok := input(t, entry)
			if !ok {
				continue // the path names nothing: EventBridge sends nothing either
			}
			if name, isQueue := strings.CutPrefix(t.Arn, sqsARNPrefix); isQueue {
				if q := m.qs[name]; q != nil {
					q.send(string(body), 0, m.Now())
				}
				continue
			}
			if d := m.dests[t.Arn]; d != nil {
				go post(*d, m.conns[d.connection], body)
			}
		}
	}
}

// input is what a target receives: the entry, its Input, or the part of
// the entry its InputPath names ($.detail, $.detail.data …).
func input(t target, entry map[string]any) ([]byte, bool) {
	if t.Input != "" {
		return []byte(t.Input), true
	}
	var v any = entry
	if p := strings.TrimPrefix(strings.TrimPrefix(t.InputPath, "$"), "."); p != "" {
		for _, k := range strings.Split(p, ".") {
			o, ok := v.(map[string]any)
			if v, ok = o[k]; !ok {
				return nil, false
			}
		}
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// post delivers to an API destination, retrying 5xx, 429 and network
// errors.
func post(d apiDestination, c *connection, body []byte) {
	client := &http.Client{Timeout: apiDestinationTimeout}
	for try := range apiDestinationTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * time.Second)
		}
		req, err := http.NewRequestWithContext(context.Background(), d.method, d.endpoint, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations")
		if c != nil {
			req.Header.Set(c.header, c.val)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return
			}
		}
	}
}
