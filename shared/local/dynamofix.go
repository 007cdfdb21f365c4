package local

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
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

func (f queryFix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.Query" {
		f.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in map[string]any
	if json.Unmarshal(body, &in) != nil || in["FilterExpression"] == nil || in["Limit"] == nil {
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
	b, _ := json.Marshal(in)
	req := r.Clone(r.Context())
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, req)
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
