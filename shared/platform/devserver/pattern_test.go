package devserver

import (
	"encoding/json"
	"testing"
)

// TestEventPatterns runs EventBridge's documented pattern examples
// against an event shaped like Anexo's entries.
func TestEventPatterns(t *testing.T) {
	t.Parallel()
	var ev map[string]any
	if err := json.Unmarshal([]byte(`{"version":"0","id":"e1","detail-type":"file.attached","source":"anexo","account":"000000000000",
		"time":"2026-12-02T10:00:00Z","region":"us-east-1","resources":[],
		"detail":{"account_id":"acct-a","type":"file.attached","version":1,"ip":"10.0.1.7","tags":["x","Contract"],
		"data":{"kind":"media","entity":{"type":"deal","code":9001,"title":"Ana Souza"},"file":{"size":2048,"name":"Relatório.PDF","deleted_at":null}}}}`), &ev); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pattern string
		match   bool
	}{
		{`{"source":["anexo"]}`, true},
		{`{"source":["crm","anexo"]}`, true},
		{`{"source":["crm"]}`, false},
		{`{"detail":{"account_id":["acct-a"]}}`, true},
		{`{"detail":{"account_id":["acct-b"]}}`, false},
		{`{"detail-type":[{"prefix":"file."}]}`, true},
		{`{"detail-type":[{"prefix":"batch."}]}`, false},
		{`{"detail-type":[{"prefix":{"equals-ignore-case":"FILE."}}]}`, true},
		{`{"detail":{"data":{"file":{"name":[{"suffix":".PDF"}]}}}}`, true},
		{`{"detail":{"data":{"file":{"name":[{"suffix":{"equals-ignore-case":".pdf"}}]}}}}`, true},
		{`{"detail":{"data":{"file":{"name":[{"suffix":".pdf"}]}}}}`, false},
		{`{"detail":{"data":{"file":{"name":[{"equals-ignore-case":"relatório.pdf"}]}}}}`, true},
		{`{"detail":{"data":{"file":{"name":[{"wildcard":"Rel*.PDF"}]}}}}`, true},
		{`{"detail":{"data":{"file":{"name":[{"wildcard":"Rel*.doc"}]}}}}`, false},
		{`{"detail":{"data":{"entity":{"type":[{"anything-but":"lead"}]}}}}`, true},
		{`{"detail":{"data":{"entity":{"type":[{"anything-but":["lead","deal"]}]}}}}`, false},
		{`{"detail":{"data":{"entity":{"type":[{"anything-but":{"prefix":"de"}}]}}}}`, false},
		{`{"detail":{"data":{"entity":{"type":[{"anything-but":{"equals-ignore-case":["LEAD"]}}]}}}}`, true},
		{`{"detail":{"data":{"entity":{"code":[9001]}}}}`, true},
		{`{"detail":{"data":{"entity":{"code":[9001.0]}}}}`, true},
		{`{"detail":{"data":{"entity":{"code":["9001"]}}}}`, false},
		{`{"detail":{"data":{"file":{"size":[{"numeric":[">",1024,"<=",4096]}]}}}}`, true},
		{`{"detail":{"data":{"file":{"size":[{"numeric":["<",1024]}]}}}}`, false},
		{`{"detail":{"data":{"file":{"size":[{"numeric":["=",2048]}]}}}}`, true},
		{`{"detail":{"data":{"note_id":[{"exists":false}]}}}`, true},
		{`{"detail":{"data":{"note_id":[{"exists":true}]}}}`, false},
		{`{"detail":{"data":{"kind":[{"exists":true}]}}}`, true},
		{`{"detail":{"data":{"file":{"deleted_at":[null]}}}}`, true},
		{`{"detail":{"version":[1]}}`, true},
		{`{"detail":{"tags":["Contract"]}}`, true},
		{`{"detail":{"tags":["Invoice"]}}`, false},
		{`{"detail":{"ip":[{"cidr":"10.0.0.0/16"}]}}`, true},
		{`{"detail":{"ip":[{"cidr":"10.1.0.0/16"}]}}`, false},
		{`{"detail":{"missing":{"deeper":[{"exists":false}]}}}`, true},
		{`{"detail":{"missing":{"deeper":["x"]}}}`, false},
		{`{"source":["anexo"],"$or":[{"detail-type":["file.purged"]},{"detail":{"data":{"kind":["media"]}}}]}`, true},
		{`{"$or":[{"detail-type":["file.purged"]},{"detail":{"data":{"kind":["note"]}}}]}`, false},
	} {
		p, err := compilePattern(tc.pattern)
		if err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
			continue
		}
		if got := p.match(ev); got != tc.match {
			t.Errorf("%s: matched=%v, want %v", tc.pattern, got, tc.match)
		}
	}
	for _, bad := range []string{`[]`, `{}`, `{"source":"anexo"}`, `{"source":[]}`, `{"source":[{"prefix":1}]}`,
		`{"a":[{"numeric":[">"]}]}`, `{"a":[{"numeric":["~",1]}]}`, `{"a":[{"exists":"yes"}]}`, `{"a":[{"cidr":"x"}]}`,
		`{"a":[{"unknown":"x"}]}`, `{"a":[{"prefix":"x","suffix":"y"}]}`, `{"$or":[{"a":["x"]}]}`, `{"a":[{"wildcard":"a**b"}]}`, `not json`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
