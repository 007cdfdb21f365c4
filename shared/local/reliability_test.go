package local_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/testenv"
)

// TestAttachCrashSafety fails each AWS call of an attach in turn (before
// AWS and after it applied the call), then retries: exactly one
// attachment, reported attached or already_attached.
func TestAttachCrashSafety(t *testing.T) {
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	f := c.upload("a.pdf", random(10), nil)["uuid"].(string)
	e.probe.Reset()
	c.expect(200, "POST", "/v1/entities/lead/"+uuid.NewString()+"/files", map[string]any{"file_uuids": []string{f}})
	calls := e.probe.Calls()
	t.Logf("an attach to a new entity makes %v", calls)
	for _, fp := range faultPoints(calls) {
		for _, after := range []bool{false, true} {
			fp.After = after
			t.Run(fmt.Sprintf("%s#%d/after=%v", fp.Op, fp.Skip, after), func(t *testing.T) {
				lead := uuid.NewString()
				path := "/v1/entities/lead/" + lead + "/files"
				body := map[string]any{"file_uuids": []string{f}, "files": []map[string]any{{"file_uuid": f, "kind": "note", "note_id": "n1"}}}
				e.probe.Arm(fp)
				r := c.do("POST", path, body)
				e.probe.Disarm()
				if r.Status != 500 && r.Status != 200 && r.Status != 401 {
					t.Fatalf("faulted attach: %s", r)
				}
				m := c.expect(200, "POST", path, body)
				for _, st := range statuses(t, m) {
					if st != "attached" && st != "already_attached" {
						t.Fatalf("retry: %v", statuses(t, m))
					}
				}
				ids, atts := c.mediaTab(path, "")
				if len(ids) != 1 || len(atts[f]) != 2 {
					t.Fatalf("after the retry: %v %v", ids, atts)
				}
				if m := c.expect(200, "GET", "/v1/entities/lead/"+lead, nil); m["uuid"] != lead {
					t.Fatal(m)
				}
			})
		}
	}
}

// TestQuotaRace completes many uploads at once against a quota that
// holds only some of them: the quota is never exceeded and the counters
// match the files that exist.
func TestQuotaRace(t *testing.T) {
	e := start(t, testenv.Embedded(t))
	const size, quota, n = 1000, 3500, 8
	c := e.account(quota, "")
	ids := make([]string, n)
	for i := range n {
		s := c.open(fmt.Sprintf("q%d.bin", i), size, nil) // the quota check at open passes for all
		c.putParts(random(size), 8*MiB, partsOf(s))
		ids[i] = s["id"].(string)
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = c.do("POST", "/v1/sessions/"+ids[i]+"/complete", nil).Status }()
	}
	wg.Wait()
	ok := 0
	for _, code := range codes {
		switch code {
		case 200:
			ok++
		case 507:
		default:
			t.Fatalf("completions answered %v", codes)
		}
	}
	used, _, files, versions := e.counters(t, c.account)
	if ok != quota/size || used != int64(ok*size) || files != int64(ok) || versions != int64(ok) {
		t.Fatalf("%d completions succeeded (%v); used %d, %d files, %d versions; quota %d", ok, codes, used, files, versions, quota)
	}
	if listed, _ := c.walk(""); len(listed) != ok {
		t.Fatalf("%d files listed, %d completed", len(listed), ok)
	}
}
