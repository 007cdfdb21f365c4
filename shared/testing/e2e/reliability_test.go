package e2e_test

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestAttachCrashSafety fails each AWS call of an attach in turn (before
// AWS and after it applied the call), then retries: exactly one
// attachment, reported attached or already_attached.
func TestAttachCrashSafety(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	f := c.upload("a.pdf", random(10), nil)["uuid"].(string)
	e.probe.Reset()
	c.expect(200, "POST", "/v1/entities/lead/"+uuid.NewString()+"/files", map[string]any{"file_uuids": []string{f}})
	calls := e.probe.Calls()
	t.Logf("an attach to a new entity makes %v", calls)
	for _, fp := range faultPoints(calls) {
		t.Run(faultName(fp), func(t *testing.T) {
			lead := uuid.NewString()
			path := "/v1/entities/lead/" + lead + "/files"
			attached0 := e.outbox(t, c.account)[outbox.FileAttached]
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
			// an event per attachment made, whichever call failed
			if n := e.outbox(t, c.account); n[outbox.FileAttached]-attached0 != 2 {
				t.Fatalf("%d file.attached for 2 attachments", n[outbox.FileAttached]-attached0)
			}
			if m := c.expect(200, "GET", "/v1/entities/lead/"+lead, nil); m["uuid"] != lead {
				t.Fatal(m)
			}
		})
	}
}

// TestQuotaRace completes many uploads at once against a quota that
// holds only some of them: the quota is never exceeded and the counters
// match the files that exist.
func TestQuotaRace(t *testing.T) {
	t.Parallel()
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

// serialS3 makes every S3 request atomic with respect to the others, as S3
// applies one request on one key: versitygw's posix backend corrupts a
// key's version metadata ("load version-id attribute") when delete markers
// are written concurrently. Requests still interleave between each other.
type serialS3 struct {
	host  string
	mu    *sync.Mutex
	inner aws.HTTPClient
}

func (s serialS3) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == s.host {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	return s.inner.Do(r)
}

func serializeS3(endpoint string) func(*devserver.Options) {
	u, _ := url.Parse(endpoint)
	return func(o *devserver.Options) {
		o.Config.ConfigHooks = append(o.Config.ConfigHooks, func(cfg *aws.Config) {
			inner := cfg.HTTPClient
			if inner == nil {
				inner = awshttp.NewBuildableClient()
			}
			cfg.HTTPClient = serialS3{host: u.Host, mu: &sync.Mutex{}, inner: inner}
		})
	}
}

// TestTrashRestoreRace: round after round, concurrent trash and restore
// requests for the same files. Whichever commits last wins and the objects
// agree with it: a restored file downloads intact, a trashed one's versions
// are all hidden; the counters match the files' states; every answer is a
// result or a clear conflict.
func TestTrashRestoreRace(t *testing.T) {
	t.Parallel()
	be := testenv.Embedded(t)
	e := start(t, be, serializeS3(be.S3))
	c := e.account(0, "")
	type file struct {
		uuid     string
		m        map[string]any
		data     []byte
		total    int64
		versions []string
	}
	var fs []file
	for i := range 4 {
		d := random(100 + i)
		f := c.upload(fmt.Sprintf("r%d.bin", i), d, nil)
		x := file{uuid: f["uuid"].(string), m: f, data: d, total: int64(len(d)), versions: []string{f["version_uuid"].(string)}}
		if i == 0 { // two versions: two objects to hide and show
			x.data = random(150)
			f = c.upload("r0-v2.bin", x.data, map[string]any{"file_uuid": x.uuid})
			x.total += 150
			x.versions = append(x.versions, f["version_uuid"].(string))
		}
		fs = append(fs, x)
	}
	var conflicts atomic.Int64
	for round := range 8 {
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for _, f := range fs {
			for k := range 6 {
				wg.Go(func() {
					time.Sleep(time.Duration(mrand.IntN(3000)) * time.Microsecond)
					method, path, want := "DELETE", "/v1/files", "trashed"
					if k%2 == 1 {
						method, path, want = "POST", "/v1/files/restore", "restored"
					}
					r := c.do(method, path, batchBody(f.uuid))
					if r.Status != 200 && r.Status != 207 {
						errs <- r.String()
						return
					}
					it := items(t, r.JSON())[0]
					switch {
					case it["status"] == want:
					case it["status"] == "error" && it["error"].(map[string]any)["code"] == "file_changed":
						conflicts.Add(1)
					default:
						errs <- fmt.Sprintf("%s %s: %v", method, path, it)
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Fatalf("round %d: %s", round, msg)
		}
		var used, trashed, active int64
		for _, f := range fs {
			cur := c.expect(200, "GET", "/v1/files/"+f.uuid, nil)
			isTrashed := cur["is_trashed"] == true
			for _, v := range f.versions {
				if visible := e.visible(t, c.account, f.m, v); visible == isTrashed {
					t.Fatalf("round %d: file %s is_trashed=%v but version %s visible=%v", round, f.uuid, isTrashed, v, visible)
				}
			}
			if isTrashed {
				trashed += f.total
				continue
			}
			used += f.total
			active++
			if got, _ := c.download(f.uuid, ""); !bytes.Equal(got, f.data) {
				t.Fatalf("round %d: restored file %s downloads other bytes", round, f.uuid)
			}
		}
		u, tr, n, _ := e.counters(t, c.account)
		if u != used || tr != trashed || n != active {
			t.Fatalf("round %d: counters used %d trashed %d files %d; files say %d %d %d", round, u, tr, n, used, trashed, active)
		}
	}
	t.Logf("%d answers were file_changed conflicts", conflicts.Load())
}
