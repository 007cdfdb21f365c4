package devserver

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// queryFix corrects minidyn's Query when it has both a FilterExpression
// and a Limit. DynamoDB reads Limit items of the queried partition, then
// filters them. minidyn counts the index items of other partitions it
// walks past toward the Limit (the last expression it evaluated is the
// filter's, even when the key did not match), so a page of one account
// can come back empty with a LastEvaluatedKey in another account's items.
// The fix asks minidyn for the Limit key-matching items without the
// filter (their order and LastEvaluatedKey are right), then for the
// filter's matches from the same start without a Limit, and answers those
// of the first set that the filter kept.
type queryFix struct{ next http.Handler }

// intercept hands a request to next unless its operation is one of ops;
// otherwise it reads the JSON body (r keeps a copy) for the fix to look at.
func intercept(next http.Handler, w http.ResponseWriter, r *http.Request, ops ...string) ([]byte, map[string]any, bool) {
	if !slices.Contains(ops, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")) {
		next.ServeHTTP(w, r)
		return nil, nil, false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	return body, in, true
}

// send runs one operation on minidyn.
func send(next http.Handler, r *http.Request, op string, in any) *httptest.ResponseRecorder {
	b, _ := json.Marshal(in)
	req := r.Clone(r.Context())
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, req)
	return rec
}

func (f queryFix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, in, ok := intercept(f.next, w, r, "Query")
	if !ok {
		return
	}
	if in == nil || in["FilterExpression"] == nil || in["Limit"] == nil {
		f.forward(w, r, body)
		return
	}
	keysOnly := maps.Clone(in)
	delete(keysOnly, "FilterExpression")
	for _, attr := range []string{"ExpressionAttributeNames", "ExpressionAttributeValues"} {
		if used := usedIn(in[attr], in["KeyConditionExpression"], in["ProjectionExpression"]); len(used) > 0 {
			keysOnly[attr] = used
		} else {
			delete(keysOnly, attr)
		}
	}
	first, ok := f.call(w, r, keysOnly)
	if !ok {
		return
	}
	unlimited := maps.Clone(in)
	delete(unlimited, "Limit")
	second, ok := f.call(w, r, unlimited)
	if !ok {
		return
	}
	kept := map[string]bool{}
	for _, it := range second["Items"].([]any) {
		kept[itemKey(it)] = true
	}
	read, _ := first["Items"].([]any)
	items := []any{}
	for _, it := range read {
		if kept[itemKey(it)] {
			items = append(items, it)
		}
	}
	first["Items"], first["Count"], first["ScannedCount"] = items, len(items), len(read)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(first)
}

// usedIn keeps the placeholders (#name, :value) the expressions use:
// minidyn, like DynamoDB, refuses unused ones.
func usedIn(placeholders any, exprs ...any) map[string]any {
	m, _ := placeholders.(map[string]any)
	out := map[string]any{}
	for k, v := range m {
		re := regexp.MustCompile(regexp.QuoteMeta(k) + `\b`)
		for _, e := range exprs {
			if s, ok := e.(string); ok && re.MatchString(s) {
				out[k] = v
			}
		}
	}
	return out
}

// itemKey identifies an item by its table key (Anexo's tables: pk, sk).
func itemKey(it any) string {
	m, _ := it.(map[string]any)
	b, _ := json.Marshal([]any{m["pk"], m["sk"]})
	return string(b)
}

func (f queryFix) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.next.ServeHTTP(w, r)
}

// call runs one Query on minidyn; on an error answer it relays it and
// reports false.
func (f queryFix) call(w http.ResponseWriter, r *http.Request, in map[string]any) (map[string]any, bool) {
	rec := send(f.next, r, "Query", in)
	var out map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return nil, false
	}
	if _, ok := out["Items"].([]any); !ok {
		out["Items"] = []any{}
	}
	return out, true
}

// removeFix makes minidyn's REMOVE of a top-level attribute take effect.
// Its update evaluator drops the attribute from its working copy, then
// writes back only the attributes it kept, so a removed attribute — and
// the sparse index entry it keys — survives. After an UpdateItem or a
// TransactWriteItems succeeded, the fix reads each item an update removed
// attributes from, deletes it and writes it back without them. On DynamoDB
// the REMOVE is part of the update; here the update and its fix hold the
// lock alone, and every other operation shares it, so no reader sees the
// item missing between the delete and the put, and no writer's change is
// lost between the read and the put (concurrent requests, the local
// scanner's and previews' invocations: the soak test caught a download
// that read a file's version in that window).
type removeFix struct {
	next http.Handler
	mu   sync.RWMutex
}

var (
	removeClause = regexp.MustCompile(`(?i)\bREMOVE\s+(.+?)\s*(?:\b(?:SET|ADD|DELETE)\b|$)`)
	listComma    = regexp.MustCompile(`\s*,\s*`)
	attrPath     = regexp.MustCompile(`[.\[]`)
)

type removal struct {
	table string
	key   any
	names []string
}

// removals lists the top-level attributes an update expression removes.
func removals(table string, key any, expr string, aliases map[string]any) []removal {
	m := removeClause.FindStringSubmatch(expr)
	if m == nil {
		return nil
	}
	var names []string
	for _, n := range listComma.Split(m[1], -1) {
		if a, ok := aliases[n].(string); ok {
			n = a
		}
		if n != "" && !attrPath.MatchString(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []removal{{table: table, key: key, names: names}}
}

func (f *removeFix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, in, ok := intercept(f.shared(), w, r, "UpdateItem", "TransactWriteItems")
	if !ok {
		return
	}
	var todo []removal
	update := func(u map[string]any) {
		expr, _ := u["UpdateExpression"].(string)
		table, _ := u["TableName"].(string)
		aliases, _ := u["ExpressionAttributeNames"].(map[string]any)
		todo = append(todo, removals(table, u["Key"], expr, aliases)...)
	}
	if _, ok := in["TransactItems"]; !ok {
		update(in)
	} else if items, ok := in["TransactItems"].([]any); ok {
		for _, it := range items {
			if u, ok := it.(map[string]any)["Update"].(map[string]any); ok {
				update(u)
			}
		}
	}
	if len(todo) == 0 {
		f.shared().ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		for _, rm := range todo {
			f.remove(r, rm)
		}
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// shared is next, run while no update's fix is under way.
func (f *removeFix) shared() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.RLock()
		defer f.mu.RUnlock()
		f.next.ServeHTTP(w, r)
	})
}

func (f *removeFix) remove(r *http.Request, rm removal) {
	got := f.call(r, "GetItem", map[string]any{"TableName": rm.table, "Key": rm.key, "ConsistentRead": true})
	item, ok := got["Item"].(map[string]any)
	if !ok {
		return
	}
	for _, n := range rm.names {
		delete(item, n)
	}
	// deleted first: minidyn drops an item's index entry only when the
	// item it deletes still has the entry's key (a put without the key
	// keeps the old entry, and a later delete of the item then leaves a
	// stale key that misaligns every query of that index after it)
	f.call(r, "DeleteItem", map[string]any{"TableName": rm.table, "Key": rm.key})
	f.call(r, "PutItem", map[string]any{"TableName": rm.table, "Item": item})
}

func (f *removeFix) call(r *http.Request, op string, in map[string]any) map[string]any {
	rec := send(f.next, r, op, in)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}
