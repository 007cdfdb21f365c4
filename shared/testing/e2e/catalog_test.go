package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/testenv"
)

var (
	seedIDs  atomic.Int64
	vocab    = []string{"Contrato", "contrato", "Relatório", "proposta", "Fatura", "foto", "NF-e", "orçamento", "Ata", "日本"}
	exts     = []string{"pdf", "docx", "jpg", "png", "xlsx", "mp4", "txt", ""}
	creators = []string{"Integração CRM", "Wegly", "ana@acme"}
)

// seed writes n synthetic files straight through the store (one session +
// one completion transaction each) and returns them.
func seed(t *testing.T, e *env, account string, n int, rng *rand.Rand, base time.Time) []files.File {
	t.Helper()
	return seedWith(t, e, account, n, rng, base, nil)
}

// seedWith is seed with each file adjusted before it is written (trashed
// or not, say) and the attachments its completion records.
func seedWith(t *testing.T, e *env, account string, n int, rng *rand.Rand, base time.Time, adjust func(*files.File) []entities.Attachment) []files.File {
	t.Helper()
	ctx := context.Background()
	out := make([]files.File, 0, n)
	var mu sync.Mutex
	// moto answers concurrent transactions with 500s: seed it serially.
	sem := make(chan struct{}, map[bool]int{true: 1, false: 8}[e.srv.Deps.Cfg.DynamoEndpoint == e.srv.Deps.Cfg.S3Endpoint])
	var wg sync.WaitGroup
	for range n {
		name := vocab[rng.IntN(len(vocab))] + fmt.Sprintf(" %03d", rng.IntN(1000))
		if ext := exts[rng.IntN(len(exts))]; ext != "" {
			name += "." + ext
		}
		created := base.Add(-time.Duration(rng.IntN(60*24*60)) * time.Minute).Truncate(time.Microsecond)
		f := files.File{AccountID: account, UUID: uuid.NewString(), ID: seedIDs.Add(1), VersionUUID: uuid.NewString(),
			Name: name, SanitizedName: files.Sanitize(name), Extension: files.Extension(name), Size: int64(rng.IntN(50 << 20)),
			VersionCount: 1, Source: []string{"api", "wegly"}[rng.IntN(2)], IsTrashed: rng.IntN(5) == 0,
			CreatedAt: created, UpdatedAt: created.Add(time.Duration(rng.IntN(10*24)) * time.Hour), CreatedBy: creators[rng.IntN(len(creators))]}
		f.MimeType, _ = files.MimeType("", name)
		f.Type = files.Kind(f.MimeType, f.Extension)
		f.UpdatedBy = f.CreatedBy
		var atts []entities.Attachment
		if adjust != nil {
			atts = adjust(&f)
		}
		if f.IsTrashed {
			del, purge := f.UpdatedAt, f.UpdatedAt.Add(catalog.TrashWindow)
			f.DeletedAt, f.PurgeAt, f.DeletedBy = &del, &purge, &f.CreatedBy
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sess := upload.Session{AccountID: account, ID: uuid.NewString(), FileUUID: f.UUID, VersionUUID: f.VersionUUID, NewFile: true,
				FileID: f.ID, FileName: name, Plan: upload.Plan{Size: f.Size, PartSize: 8 << 20, PartCount: 1}, Status: upload.StatusOpen,
				CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
			// a fresh id conflicts only when the SDK retried a write that
			// landed (moto under load answers 500s)
			if err := e.srv.Deps.Store().PutSession(ctx, sess); err != nil && !errors.Is(err, apperr.ErrConflict) {
				t.Error(err)
				return
			}
			err := e.srv.Deps.Store().Commit(ctx, upload.Commit{Session: sess, File: f, NewFile: true, Attach: atts,
				Version: files.Version{AccountID: account, FileUUID: f.UUID, UUID: f.VersionUUID, Size: f.Size, Name: name, CreatedAt: created,
					Key: files.ObjectKey(account, f.UUID, f.VersionUUID)}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			out = append(out, f)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// reference is the brute-force answer: filter, then order by (created_at, uuid).
func reference(all []files.File, q catalog.Query) []string {
	var out []files.File
	for _, f := range all {
		if q.Matches(f) && (len(q.UUIDs) == 0 || slices.Contains(q.UUIDs, f.UUID)) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		less := a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.UUID < b.UUID
		if q.Ascending {
			return less
		}
		return !less
	})
	ids := make([]string, len(out))
	for i, f := range out {
		ids[i] = f.UUID
	}
	return ids
}

// walk lists every page of a query over HTTP.
func (c *client) walk(raw string) (ids []string, pages int) {
	c.t.Helper()
	return c.walkEach(raw, nil)
}

// walkEach is walk calling between(page) after each page but the last.
func (c *client) walkEach(raw string, between func(page int)) (ids []string, pages int) {
	c.t.Helper()
	cursor := ""
	for {
		q := raw
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		m := c.expect(200, "GET", "/v1/files?"+q, nil)
		for _, f := range m["_embedded"].(map[string]any)["files"].([]any) {
			ids = append(ids, f.(map[string]any)["uuid"].(string))
		}
		pages++
		next, _ := m["_page"].(map[string]any)["next_cursor"].(string)
		if next == "" {
			return ids, pages
		}
		if pages > 10000 {
			c.t.Fatal("pagination does not end")
		}
		if between != nil {
			between(pages)
		}
		cursor = next
	}
}

func randomQuery(rng *rand.Rand, all []files.File, base time.Time) string {
	v := url.Values{}
	pick := func(p float64) bool { return rng.Float64() < p }
	if pick(0.15) {
		v.Set("filter[term]", strings.ToUpper(vocab[rng.IntN(len(vocab))][:3]))
	}
	if pick(0.1) {
		v.Set("filter[name]", strings.ToLower(all[rng.IntN(len(all))].Name))
	}
	if pick(0.3) {
		for range 1 + rng.IntN(3) {
			if e := exts[rng.IntN(len(exts)-1)]; !slices.Contains(v["filter[extensions][]"], e) {
				v.Add("filter[extensions][]", e)
			}
		}
	}
	if pick(0.3) {
		v.Set("filter[deleted]", "true")
	}
	if pick(0.3) {
		v.Set("filter[size][unit]", "MB")
		v.Set("filter[size][from]", fmt.Sprint(rng.IntN(20)))
		if pick(0.5) {
			v.Set("filter[size][to]", fmt.Sprint(20+rng.IntN(30)))
		}
	}
	if pick(0.4) {
		if pick(0.5) {
			v.Set("filter[date][type]", "updated_at")
		}
		from := base.Add(-time.Duration(rng.IntN(60*24)) * time.Hour)
		to := from.Add(time.Duration(rng.IntN(30*24)) * time.Hour).Format(time.RFC3339)
		switch rng.IntN(3) { // from only, to only (an open lower key bound), both
		case 0:
			v.Set("filter[date][from]", fmt.Sprint(from.Unix()))
		case 1:
			v.Set("filter[date][to]", to)
		default:
			v.Set("filter[date][from]", fmt.Sprint(from.Unix()))
			v.Set("filter[date][to]", to)
		}
	}
	if pick(0.2) {
		v.Add("filter[created_by][]", creators[rng.IntN(len(creators))])
	}
	if pick(0.2) {
		v.Set("filter[source]", []string{"api", "wegly"}[rng.IntN(2)])
	}
	if pick(0.5) {
		v.Set("order[created_at]", "asc")
	}
	v.Set("limit", fmt.Sprint([]int{13, 50, 250}[rng.IntN(3)]))
	return v.Encode()
}

// TestListMatchesReference compares every page of random filtered listings
// against a brute-force reference over a generated account.
//
// It runs on the memory drivers and on moto_server, whose DynamoDB is the
// closer to AWS's (seeding costs most of the test, and moto is serial:
// TestEntityListingMatchesReference takes the embedded emulators).
func TestListMatchesReference(t *testing.T) {
	t.Parallel()
	testenv.On(t, []string{"memory", "moto"}, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		// moto: page and per-call budgets far below production's (500)
		// against more files than a page may evaluate, so selective pages
		// take several Query calls and end short when the budget runs out.
		n, queries := 320, 20
		if be.Name == "moto" {
			n, queries = 120, 12
			e.budgets(60, 25)
		}
		rng := rand.New(rand.NewPCG(7, uint64(len(be.Name))))
		base := e.clock.Now()
		all := seed(t, e, c.account, n, rng, base)
		for i := range queries {
			raw := randomQuery(rng, all, base)
			switch i {
			case 0:
				raw = "limit=250" // everything active, newest first
			case 1: // created_at ranges open at one end are key conditions with one bound
				raw = "limit=50&filter[date][type]=created_at&filter[date][to]=" + base.Add(-20*24*time.Hour).Format(time.RFC3339)
			case 2:
				raw = "limit=50&order[created_at]=asc&filter[date][from]=" + fmt.Sprint(base.Add(-10*24*time.Hour).Unix())
			}
			q, err := catalog.ParseQuery(raw, e.clock.Now())
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			want := reference(all, q)
			got, pages := c.walk(raw)
			if !slices.Equal(got, want) {
				dups, extra := 0, 0
				seen := map[string]bool{}
				for _, g := range got {
					if seen[g] {
						dups++
					}
					seen[g] = true
					if !slices.Contains(want, g) {
						extra++
					}
				}
				t.Fatalf("query %s: %d files in %d pages (%d repeated, %d unexpected), want %d", raw, len(got), pages, dups, extra, len(want))
			}
		}
		// A filter that matches nothing: the page stops at its budget.
		if be.Name != "moto" {
			return
		}
		p, _, _ := e.srv.Deps.Auth().Authenticate(context.Background(), c.token)
		raw := "filter[name]=nothing-matches&limit=250"
		_, page, err := e.srv.Function(lambdas.Files).Catalog().List(context.Background(), p, raw)
		if err != nil {
			t.Fatal(err)
		}
		if page.Result.Evaluated != 60 || page.Cursor == "" || len(page.Files) != 0 {
			t.Fatalf("selective page evaluated %d items (budget 60), cursor %q", page.Result.Evaluated, page.Cursor)
		}
		if page.Result.Capacity <= 0 || page.Result.Capacity > 20 {
			t.Fatalf("selective page consumed %.1f RCU", page.Result.Capacity)
		}
		t.Logf("a page that evaluated %d items consumed %.1f read capacity units", page.Result.Evaluated, page.Result.Capacity)
	})
}

// TestPaginationUnderInserts: walking pages while files are added never
// skips or repeats a file that existed before the walk. Five files are
// added while each next page is read.
func TestPaginationUnderInserts(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	rng := rand.New(rand.NewPCG(1, 2))
	base := e.clock.Now()
	before := seed(t, e, c.account, 150, rng, base.Add(-time.Hour))
	for _, order := range []string{"desc", "asc"} {
		var inserting sync.WaitGroup
		got, pages := c.walkEach("limit=17&order[created_at]="+order, func(int) {
			inserting.Wait()
			inserting.Go(func() { seed(t, e, c.account, 5, rng, base.Add(time.Hour)) })
		})
		inserting.Wait()
		t.Logf("%s: %d files in %d pages", order, len(got), pages)
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
			if seen[id] > 1 {
				t.Fatalf("%s: file %s listed twice", order, id)
			}
		}
		for _, f := range before {
			if !f.IsTrashed && seen[f.UUID] != 1 {
				t.Fatalf("%s: file %s (created %s) skipped", order, f.UUID, f.CreatedAt)
			}
		}
	}
}

// TestCursorIsBound: cursors are authenticated and bound to the account,
// the query and a lifetime.
func TestCursorIsBound(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	a, b := e.account(0, ""), e.account(0, "")
	rng := rand.New(rand.NewPCG(3, 4))
	seed(t, e, a.account, 30, rng, e.clock.Now())
	seed(t, e, b.account, 30, rng, e.clock.Now())
	m := a.expect(200, "GET", "/v1/files?limit=5", nil)
	cur := m["_page"].(map[string]any)["next_cursor"].(string)
	check := func(cl *client, q, code string) {
		t.Helper()
		r := cl.do("GET", "/v1/files?"+q, nil)
		if r.Status != 400 || r.JSON()["code"] != code || r.JSON()["field"] != "cursor" {
			t.Fatalf("%s: %s", q, r)
		}
	}
	tampered := []byte(cur)
	tampered[3] ^= 1
	check(a, "limit=5&cursor="+url.QueryEscape(string(tampered)), "invalid_cursor")
	check(a, "limit=5&cursor=garbage", "invalid_cursor")
	check(b, "limit=5&cursor="+url.QueryEscape(cur), "invalid_cursor")
	check(a, "limit=5&filter[extensions][]=pdf&cursor="+url.QueryEscape(cur), "cursor_query_mismatch")
	check(a, "limit=5&order[created_at]=asc&cursor="+url.QueryEscape(cur), "cursor_query_mismatch")
	a.expect(200, "GET", "/v1/files?limit=9&cursor="+url.QueryEscape(cur), nil) // limit may change
	e.clock.Advance(catalog.CursorTTL + time.Minute)
	check(a, "limit=5&cursor="+url.QueryEscape(cur), "cursor_expired")
}

func TestListValidation(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	for q, field := range map[string]string{
		"limit=0":                                 "limit",
		"limit=251":                               "limit",
		"limit=x":                                 "limit",
		"filter[uuid]=nope":                       "filter[uuid][0]",
		"filter[extensions][]=p/df":               "filter[extensions][0]",
		"filter[deleted]=maybe":                   "filter[deleted]",
		"filter[size][unit]=PB":                   "filter[size][unit]",
		"filter[size][from]=-1":                   "filter[size][from]",
		"filter[size][from]=9&filter[size][to]=1": "filter[size][to]",
		"filter[date][type]=deleted_at":           "filter[date][type]",
		"filter[date][from]=yesterday":            "filter[date][from]",
		"filter[date][date_preset]=soon":          "filter[date][date_preset]",
		"filter[date][date_preset]=today&filter[date][from]=1": "filter[date][date_preset]",
		"filter[source]=fax":         "filter[source]",
		"order[created_at]=sideways": "order[created_at]",
		"filter[colour]=red":         "filter[colour]",
		"limit=1&limit=2":            "limit",
	} {
		r := c.do("GET", "/v1/files?"+q, nil)
		if r.Status != 400 || r.JSON()["field"] != field {
			t.Errorf("%s: %s (want field %s)", q, r, field)
		}
	}
	for _, q := range []string{"filter[date][date_preset]=today", "filter[date][date_preset]=last_month&filter[date][type]=updated_at",
		"filter[size][from]=1.5&filter[size][unit]=KB", "filter[uuid]=" + uuid.NewString() + "," + uuid.NewString()} {
		c.expect(200, "GET", "/v1/files?"+q, nil)
	}
}

func TestUUIDFilterAndUsage(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(1<<30, "")
	other := e.account(0, "")
	f1 := c.upload("a.txt", []byte("aaa"), nil)
	f2 := c.upload("b.txt", []byte("bbbb"), nil)
	g := other.upload("c.txt", []byte("c"), nil)
	ids, _ := c.walk("filter[uuid]=" + f1["uuid"].(string) + "," + f2["uuid"].(string) + "," + g["uuid"].(string) + "&order[created_at]=asc")
	if !slices.Equal(ids, []string{f1["uuid"].(string), f2["uuid"].(string)}) {
		t.Fatalf("uuid filter: %v", ids)
	}
	u := c.expect(200, "GET", "/v1/usage", nil)
	if u["used_bytes"].(float64) != 7 || u["file_count"].(float64) != 2 || u["version_count"].(float64) != 2 ||
		u["quota_bytes"].(float64) != 1<<30 || u["available_bytes"].(float64) != 1<<30-7 || u["trashed_bytes"].(float64) != 0 {
		t.Fatalf("usage = %v", u)
	}
	if u := other.expect(200, "GET", "/v1/usage", nil); u["quota_bytes"] != nil || u["used_bytes"].(float64) != 1 {
		t.Fatalf("unlimited usage = %v", u)
	}
}

func TestVersionsAndPromote(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	v1 := c.upload("contrato.pdf", []byte("version one"), nil)
	fu := v1["uuid"].(string)
	v2 := c.upload("contrato-v2.docx", []byte("version two!"), map[string]any{"file_uuid": fu})
	v3 := c.upload("contrato-v3.pdf", []byte("three"), map[string]any{"file_uuid": fu})
	m := c.expect(200, "GET", "/v1/files/"+fu+"/versions", nil)
	vs := m["_embedded"].(map[string]any)["versions"].([]any)
	if len(vs) != 3 {
		t.Fatalf("versions: %v", vs)
	}
	for i, want := range []map[string]any{v3, v2, v1} {
		v := vs[i].(map[string]any)
		if v["version_uuid"] != want["version_uuid"] || v["is_main"] != (i == 0) {
			t.Fatalf("versions[%d] = %v", i, v)
		}
	}
	page1 := c.expect(200, "GET", "/v1/files/"+fu+"/versions?limit=2", nil)
	cur := page1["_page"].(map[string]any)["next_cursor"].(string)
	page2 := c.expect(200, "GET", "/v1/files/"+fu+"/versions?limit=2&cursor="+url.QueryEscape(cur), nil)
	if rest := page2["_embedded"].(map[string]any)["versions"].([]any); len(rest) != 1 || rest[0].(map[string]any)["version_uuid"] != v1["version_uuid"] {
		t.Fatalf("second page: %v", rest)
	}
	one := c.expect(200, "GET", "/v1/files/"+fu+"/versions/"+v2["version_uuid"].(string), nil)
	if one["name"] != "contrato-v2.docx" || one["size"].(float64) != 12 || one["is_main"] != false {
		t.Fatalf("version: %v", one)
	}
	f := c.expect(200, "POST", "/v1/files/"+fu+"/versions/"+v2["version_uuid"].(string)+"/promote", nil)
	if f["version_uuid"] != v2["version_uuid"] || f["name"] != "contrato-v2.docx" || f["extension"] != "docx" || f["size"].(float64) != 12 {
		t.Fatalf("promoted: %v", f)
	}
	if got, _ := c.download(fu, ""); string(got) != "version two!" {
		t.Fatalf("main download after promote: %q", got)
	}
	if g := c.expect(200, "GET", "/v1/files/"+fu, nil); g["version_uuid"] != v2["version_uuid"] || g["version_count"].(float64) != 3 {
		t.Fatalf("file after promote: %v", g)
	}
	if used, _, versions := usage(t, e, c.account); used != 11+12+5 || versions != 3 {
		t.Fatalf("promote changed usage: %d %d", used, versions)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/files/" + fu + "/versions/" + uuid.NewString() + "/promote", 404},
		{"/v1/files/" + uuid.NewString() + "/versions/" + v1["version_uuid"].(string) + "/promote", 404},
		{"/v1/files/" + fu + "/versions/not-a-uuid/promote", 400},
	} {
		if r := c.do("POST", tc.path, nil); r.Status != tc.status {
			t.Fatalf("%s: %s", tc.path, r)
		}
	}
	other := e.account(0, "")
	for _, p := range []string{"/v1/files/" + fu + "/versions", "/v1/files/" + fu + "/versions/" + v1["version_uuid"].(string)} {
		if r := other.do("GET", p, nil); r.Status != 404 {
			t.Fatalf("foreign %s: %s", p, r)
		}
	}
	if r := other.do("POST", "/v1/files/"+fu+"/versions/"+v1["version_uuid"].(string)+"/promote", nil); r.Status != 404 {
		t.Fatalf("foreign promote: %s", r)
	}
}

// TestDownloadLinkAsJSON: a request that accepts JSON gets the download's
// URL and its expiry as JSON (a browser's fetch cannot read a redirect);
// any other keeps the redirect.
func TestDownloadLinkAsJSON(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	data := random(1000)
	f := c.upload("link.bin", data, nil)
	path := "/v1/files/" + f["uuid"].(string) + "/download"
	for accept, want := range map[string]int{"application/json": 200, "text/html, application/json;q=0.5": 200,
		"application/json;q=0": 302, "*/*": 302, "": 302} {
		c.headers = map[string]string{"Accept": accept}
		r := c.do("GET", path, nil)
		if r.Status != want || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Accept %q: %s", accept, r)
		}
		if want == 302 {
			continue
		}
		link := r.JSON()
		expires, err := time.Parse(time.RFC3339, fmt.Sprint(link["expires_at"]))
		if err != nil || expires.Before(e.clock.Now()) || expires.After(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("expires_at %v: %v", link["expires_at"], err)
		}
		if status, _, body, err := presigned.Get(t.Context(), link["url"].(string)); err != nil || status != 200 || !bytes.Equal(body, data) {
			t.Fatalf("GET of the link: %d %v", status, err)
		}
	}
}

// TestCrossOriginPages: the local API answers preflights and decorates
// answers for the origins it allows (its own and ANEXO_CORS_ORIGINS), as
// the stack's CorsPreflight does: a page on another origin can call it.
func TestCrossOriginPages(t *testing.T) {
	t.Parallel()
	const page = "http://app.example.test:5173"
	e := start(t, testenv.Memory(), func(o *devserver.Options) { o.CORSOrigins = []string{page} })
	c := e.account(0, "")
	send := func(method, origin string, h map[string]string) *http.Response {
		req, _ := http.NewRequest(method, e.srv.URL+"/v1/files?limit=1", nil)
		req.Header.Set("Origin", origin)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	r := send("OPTIONS", page, preflight)
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "authorization") ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || r.Header.Get("Access-Control-Max-Age") != "3600" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := send("OPTIONS", "https://evil.example", preflight); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a stranger's preflight: %d %v", r.StatusCode, r.Header)
	}
	r = send("GET", page, map[string]string{"Authorization": "Bearer " + c.token})
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != page || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "retry-after") {
		t.Fatalf("an answer to the page: %d %v", r.StatusCode, r.Header)
	}
	// the gateway's own refusals carry them too, so the page reads the 401
	if r := send("GET", page, nil); r.StatusCode != 401 || r.Header.Get("Access-Control-Allow-Origin") != page {
		t.Fatalf("a refusal to the page: %d %v", r.StatusCode, r.Header)
	}
	if r := send("GET", "https://evil.example", map[string]string{"Authorization": "Bearer " + c.token}); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an answer to a stranger: %v", r.Header)
	}
}
