package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

const mib = 1 << 20

// server starts the API on the embedded emulators with a dev token.
func server(t *testing.T, partURLTTL time.Duration) (url, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := testenv.Config(testenv.Embedded(t))
	c.Limits.PartURLTTL = partURLTTL
	c.EventSettle = time.Millisecond // the feed serves events at once
	srv, err := devserver.Start(ctx, devserver.Options{Config: c, Observe: openapitest.New(t).Observe})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := srv.NewAccount(ctx, "cli", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, tok
}

func writeRandom(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

type cli struct {
	t          *testing.T
	url, token string
	state      string
}

func (c cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{args[0], "--endpoint", c.url, "--token", c.token}, args[1:]...)
	if args[0] == "upload" {
		full = append([]string{args[0], "--endpoint", c.url, "--token", c.token, "--state-dir", c.state}, args[1:]...)
	}
	code := run(context.Background(), full, &out, &errb)
	return code, out.String(), errb.String()
}

func (c cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("anexo %v: exit %d\n%s", args, code, errs)
	}
	return out
}

func TestFileCommands(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	dir := t.TempDir()
	c := cli{t: t, url: url, token: token, state: t.TempDir()}
	empty, _ := writeRandom(t, dir, "vazio.txt", 0)
	small, smallData := writeRandom(t, dir, "pequeno.pdf", 1000)
	big, bigData := writeRandom(t, dir, "grande.bin", 20*mib+5) // 3 parts
	code, out, errs := c.run("upload", "--parallel", "3", empty, small, big)
	if code != 0 {
		t.Fatalf("upload: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(errs, "uploading") || !strings.Contains(errs, "ETA") {
		t.Fatalf("stdout %q\nstderr %q", out, errs)
	}
	ids := make([]string, 3)
	for i, l := range lines {
		ids[i] = strings.Fields(l)[0]
	}
	for i, want := range [][]byte{nil, smallData, bigData} {
		dst := filepath.Join(dir, "down"+ids[i])
		if i == 2 { // flags may follow the arguments, as the README writes it
			c.ok("download", ids[i], "-o", dst, "--quiet")
		} else {
			c.ok("download", "--quiet", "-o", dst, ids[i])
		}
		got, _ := os.ReadFile(dst)
		if !bytes.Equal(got, want) {
			t.Fatalf("file %d: downloaded bytes differ", i)
		}
	}
	// (without -o the file's own name is used in the working directory; the
	// embedded S3 owns this process's working directory, so not tried here)
	if out := c.ok("ls", "--ext", "pdf"); !strings.Contains(out, ids[1]) || strings.Contains(out, ids[2]) {
		t.Fatalf("ls --ext: %s", out)
	}
	if out := c.ok("ls", "--all", "--limit", "1", "--asc"); strings.Count(out, "\n") != 4 {
		t.Fatalf("ls --all: %q", out)
	}
	// attach, list by entity, detach
	lead := uuid.NewString()
	c.ok("attach", "--entity", "lead/"+lead, ids[1], ids[2])
	if out := c.ok("ls", "--entity", "lead/"+lead, "--json"); strings.Count(out, "\n") != 2 {
		t.Fatalf("ls --entity: %q", out)
	}
	c.ok("detach", "--entity", "lead/"+lead, ids[2])
	// trash, restore, delete forever
	c.ok("rm", ids[0])
	if out := c.ok("ls", "--trash"); !strings.Contains(out, ids[0]) {
		t.Fatal(out)
	}
	c.ok("restore", ids[0])
	if out := c.ok("rm", "--forever", ids[0]); !strings.Contains(out, "purged") {
		t.Fatal(out)
	}
	// exit codes
	if code, _, _ := c.run("rm", uuid.NewString()); code != exitPartial {
		t.Fatalf("rm of an unknown uuid: exit %d", code)
	}
	bad := cli{t: t, url: url, token: "anx_nope", state: c.state}
	if code, _, errs := bad.run("ls"); code != exitAuth || !strings.Contains(errs, "403") || !strings.Contains(errs, "refused the token") {
		t.Fatalf("bad token: %d %s", code, errs)
	}
	tokenCommands(t, c)
	if code, _, _ := c.run("upload"); code != exitUsage {
		t.Fatal("upload without files")
	}
	if code, _, _ := c.run("attach", "--entity", "lead", ids[1]); code != exitUsage {
		t.Fatal("attach without an id")
	}
	if code, _, errs := c.run("upload", filepath.Join(dir, "missing")); code != exitFailed || !strings.Contains(errs, "no such file") {
		t.Fatalf("missing file: %d %s", code, errs)
	}
	if code := run(context.Background(), []string{"ls"}, &bytes.Buffer{}, &bytes.Buffer{}); code != exitUsage && os.Getenv("ANEXO_URL") == "" {
		t.Fatal("ls without an endpoint")
	}
}

// tokenCommands runs the token lifecycle through the CLI: mint a read-only
// token, list it, rotate it (the old secret keeps working through its
// grace, or stops with --grace 0), revoke it (every secret stops).
func tokenCommands(t *testing.T, admin cli) {
	secret := strings.TrimSpace(admin.ok("token", "create", "--name", "reader", "--scopes", "files:read", "--ttl", "720h"))
	reader := cli{t: t, url: admin.url, token: secret, state: admin.state}
	reader.ok("ls")
	if code, _, errs := reader.run("rm", uuid.NewString()); code != exitAuth || !strings.Contains(errs, "insufficient_scope") {
		t.Fatalf("a read-only token trashed: %d %s", code, errs)
	}
	if code, _, errs := reader.run("token", "list"); code != exitAuth || !strings.Contains(errs, "tokens:admin") {
		t.Fatalf("a read-only token listed tokens: %d %s", code, errs)
	}
	var id string
	for _, line := range strings.Split(admin.ok("token", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == "reader" {
			id = f[0]
			if f[2] != "files:read" || f[3] != "active" || f[4] == "never" {
				t.Fatalf("listed as %q (a used token shows when)", line)
			}
		}
	}
	if id == "" {
		t.Fatal("the new token is not listed")
	}
	rotated := strings.TrimSpace(admin.ok("token", "rotate", id))
	reader.ok("ls") // the old secret, in its grace period
	next := cli{t: t, url: admin.url, token: rotated, state: admin.state}
	next.ok("ls")
	third := strings.TrimSpace(admin.ok("token", "rotate", id, "--grace", "0"))
	if code, _, _ := next.run("ls"); code != exitAuth {
		t.Fatal("a secret rotated out with --grace 0 still works")
	}
	reader.ok("ls") // the first one's grace is not cut short
	if out := admin.ok("token", "revoke", id); !strings.Contains(out, "revoked") {
		t.Fatal(out)
	}
	for _, tok := range []string{secret, third} {
		if code, _, _ := (cli{t: t, url: admin.url, token: tok, state: admin.state}).run("ls"); code != exitAuth {
			t.Fatal("a revoked token's secret still works")
		}
	}
	admin.ok("token", "revoke", id) // again: nothing changes
	if code, _, _ := admin.run("token", "rotate", id); code != exitFailed {
		t.Fatal("a revoked token was rotated")
	}
	if code, _, _ := admin.run("token", "create", "--name", "x", "--allowed-domain", "http://crm.example.com"); code != exitFailed {
		t.Fatal("an http origin was accepted")
	}
	if code, _, _ := admin.run("token", "frob"); code != exitUsage {
		t.Fatal("unknown token subcommand")
	}
}

// counting counts the part PUTs that reach storage and can delay them; it
// keeps the bodies of the opens and completions.
type counting struct {
	puts  atomic.Int64
	delay time.Duration // sleep before the first PUT
	once  sync.Once
	mu    sync.Mutex
	sent  []string // "POST /v1/sessions {...}"
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == "PUT" {
		c.puts.Add(1)
		c.once.Do(func() { time.Sleep(c.delay) })
	}
	if r.Method == "DELETE" || r.Method == "POST" && (strings.HasSuffix(r.URL.Path, "/v1/sessions") || strings.HasSuffix(r.URL.Path, "/complete")) {
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		c.mu.Lock()
		c.sent = append(c.sent, r.URL.Path+" "+string(b))
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestUploadResumes interrupts an upload after two parts, then runs the
// same upload again: only the missing parts are sent, and the file is whole.
// The session is opened with the checksum's algorithm alone (no read of the
// file before the first part); the resumed run combines the CRCs S3 kept
// for the parts sent before with those it computes as it reads the rest,
// and S3 verifies the whole file against that value.
func TestUploadResumes(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	dir := t.TempDir()
	p, data := writeRandom(t, dir, "retomar.bin", 5*8*mib+123) // 6 parts
	state := t.TempDir()
	tr := &counting{}
	c := &client.Client{Endpoint: url, Token: token, HTTP: &http.Client{Transport: tr}}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.Upload(ctx, p, client.UploadOptions{Parallel: 1, StateDir: state, Progress: func(pr client.Progress) {
		if pr.Phase == "uploading" && pr.Done > 2*8*mib { // part 3 started: parts 1 and 2 are stored
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the interrupted upload succeeded")
	}
	first := tr.puts.Load()
	st, _ := os.ReadDir(state)
	if len(st) != 1 {
		t.Fatalf("state files: %v", st)
	}
	// the CLI resumes it
	cl := cli{t: t, url: url, token: token, state: state}
	tr.puts.Store(0)
	var resumed atomic.Int64
	c2 := &client.Client{Endpoint: url, Token: token, HTTP: &http.Client{Transport: tr}}
	f, err := c2.Upload(context.Background(), p, client.UploadOptions{StateDir: state, Progress: func(pr client.Progress) {
		if pr.Phase == "uploading" {
			resumed.CompareAndSwap(0, pr.Done)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Load() < 2*8*mib || tr.puts.Load() > 6-2 || first+tr.puts.Load() > 7 {
		t.Fatalf("resume started at %d bytes and sent %d parts (first run %d)", resumed.Load(), tr.puts.Load(), first)
	}
	whole := crc.Of(crc.CRC32C, data)
	if len(tr.sent) != 2 || !strings.Contains(tr.sent[0], `"checksum":{"algorithm":"CRC32C"}`) ||
		!strings.HasSuffix(tr.sent[1], `{"checksum":{"algorithm":"CRC32C","value":"`+whole+`"}}`) {
		t.Fatalf("open and completion sent %q; want the algorithm at open and the value %s at completion", tr.sent, whole)
	}
	var vs struct {
		Embedded struct {
			Versions []struct {
				Checksum string `json:"checksum"`
			} `json:"versions"`
		} `json:"_embedded"`
	}
	if _, err := c2.Do(context.Background(), "GET", "/v1/files/"+f.UUID+"/versions", nil, &vs); err != nil || len(vs.Embedded.Versions) != 1 || vs.Embedded.Versions[0].Checksum != whole {
		t.Fatalf("recorded version: %+v %v", vs, err)
	}
	dst := filepath.Join(dir, "out")
	cl.ok("download", "--quiet", "-o", dst, f.UUID)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("resumed upload: bytes differ")
	}
	// the same command once more answers the same file; --new uploads a copy
	if out := cl.ok("upload", "--quiet", p); !strings.HasPrefix(out, f.UUID) {
		t.Fatalf("a finished upload was uploaded again: %s", out)
	}
	if out := cl.ok("upload", "--quiet", "--new", p); strings.HasPrefix(out, f.UUID) {
		t.Fatal("--new answered the earlier file")
	}
}

// TestExpiredPartURLIsResigned: a part whose URL expires before it is sent
// (storage answers 403) is signed again and sent.
func TestExpiredPartURLIsResigned(t *testing.T) {
	t.Parallel()
	url, token := server(t, time.Second)
	p, data := writeRandom(t, t.TempDir(), "lento.bin", 100_000)
	tr := &counting{delay: 2500 * time.Millisecond}
	c := &client.Client{Endpoint: url, Token: token, HTTP: &http.Client{Transport: tr}}
	f, err := c.Upload(context.Background(), p, client.UploadOptions{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.puts.Load() < 2 {
		t.Fatalf("%d PUTs: the expired URL was not refused and re-signed", tr.puts.Load())
	}
	dst := filepath.Join(t.TempDir(), "x")
	if _, err := c.Download(context.Background(), f.UUID, "", dst, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
}

// TestDownloadResumes continues a partial download with a Range request.
func TestDownloadResumes(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	p, data := writeRandom(t, t.TempDir(), "d.bin", 3*mib)
	c := &client.Client{Endpoint: url, Token: token}
	f, err := c.Upload(context.Background(), p, client.UploadOptions{StateDir: t.TempDir(), NoChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "d.bin")
	_ = os.WriteFile(dst+".part", data[:mib], 0o600)
	var first int64 = -1
	n, err := c.Download(context.Background(), f.UUID, "", dst, func(pr client.Progress) {
		if first < 0 { // downloads report from one goroutine
			first = pr.Done
		}
	})
	if err != nil || n != int64(len(data)) {
		t.Fatal(n, err)
	}
	if first > 2*mib || first < mib {
		t.Fatalf("the download started over (first progress at %d)", first)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	if _, err := os.Stat(dst + ".part"); !os.IsNotExist(err) {
		t.Fatal(".part left behind")
	}
}

// TestFileChangedDuringUpload: a file that changes while its parts go out
// is refused, and its session aborted — its parts mix two contents, and
// nothing (a status call, the sweeper) may complete it; the rerun uploads
// the file as it is now.
func TestFileChangedDuringUpload(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	p, _ := writeRandom(t, t.TempDir(), "muda.bin", 2*8*mib+5)
	state := t.TempDir()
	tr := &counting{}
	c := &client.Client{Endpoint: url, Token: token, HTTP: &http.Client{Transport: tr}}
	var once sync.Once
	_, err := c.Upload(context.Background(), p, client.UploadOptions{Parallel: 1, StateDir: state, Progress: func(pr client.Progress) {
		if pr.Phase == "uploading" && pr.Done > 0 {
			once.Do(func() {
				f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
				_, _ = f.WriteString("more")
				_ = f.Close()
			})
		}
	}})
	if !errors.Is(err, client.ErrFileChanged) {
		t.Fatalf("err %v, want ErrFileChanged", err)
	}
	if len(tr.sent) != 2 || !strings.HasPrefix(tr.sent[1], "/v1/sessions/") {
		t.Fatalf("requests %q: want the open, then the session's abort", tr.sent)
	}
	st, err := c.State(context.Background(), strings.Fields(tr.sent[1])[0][len("/v1/sessions/"):])
	if err != nil || st.Session.Status != "aborted" {
		t.Fatalf("the session: %+v %v", st.Session, err)
	}
	var usage struct {
		FileCount int `json:"file_count"`
	}
	if _, err := c.Do(context.Background(), "GET", "/v1/usage", nil, &usage); err != nil || usage.FileCount != 0 {
		t.Fatalf("usage %+v %v", usage, err)
	}
	f, err := c.Upload(context.Background(), p, client.UploadOptions{StateDir: state})
	if err != nil || f.Size != 2*8*mib+5+4 {
		t.Fatalf("the rerun: %+v %v", f, err)
	}
}

// TestDownloadPreview: `anexo download --preview 256` saves a picture's
// preview once it is rendered (name-256.jpg), and says why when a file
// has none.
func TestDownloadPreview(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	dir := t.TempDir()
	c := cli{t: t, url: url, token: token, state: t.TempDir()}
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	pic := filepath.Join(dir, "foto.png")
	if err := os.WriteFile(pic, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := writeRandom(t, dir, "dados.bin", 100)
	out := c.ok("upload", pic, other)
	ids := strings.Fields(out)
	picID, otherID := ids[0], strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])[0]
	dst := filepath.Join(dir, "thumb.jpg")
	var code int
	var errs string
	for range 100 { // previews follow the upload
		if code, out, errs = c.run("download", "--preview", "256", "-o", dst, picID); code == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(out, "256 × 192") {
		t.Fatalf("download --preview: exit %d %q %q", code, out, errs)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cfg, err := jpeg.DecodeConfig(f); err != nil || cfg.Width != 256 || cfg.Height != 192 {
		t.Fatalf("the saved preview: %+v, %v", cfg, err)
	}
	if code, _, errs := c.run("download", "--preview", "64", otherID); code != exitFailed || !strings.Contains(errs, "has no 64 px preview") {
		t.Fatalf("a file without previews: exit %d %q", code, errs)
	}
}
