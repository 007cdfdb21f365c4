// Package js_test runs the TypeScript client's tests (Node's own runner)
// against a local Anexo whose every API response is checked against the
// OpenAPI document, and checks that the client's generated types match
// that document.
package js_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// dir is this package's directory (resolved before the embedded S3
// changes the working directory).
var dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// npm runs an npm script of the package, failing the test on error.
func tool(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// ready skips without node and the package's dependencies (CI has both:
// make test installs them with npm ci).
func ready(t testing.TB) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "typescript"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node and clients/js/node_modules are required in CI (make test runs npm ci)")
		}
		t.Skip("node or clients/js/node_modules missing: cd clients/js && npm ci")
	}
}

// TestTypesMatchTheDocument: src/schema.ts is what openapi-typescript
// makes of shared/inbound/openapi/openapi.yaml today (make js-types regenerates it).
func TestTypesMatchTheDocument(t *testing.T) {
	ready(t)
	fresh := filepath.Join(t.TempDir(), "schema.ts")
	tool(t, "node", "node_modules/openapi-typescript/bin/cli.js", "../../shared/inbound/openapi/openapi.yaml", "-o", fresh)
	want, _ := os.ReadFile(fresh)
	got, err := os.ReadFile(filepath.Join(dir, "src", "schema.ts"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("clients/js/src/schema.ts is not what the OpenAPI document gives: run make js-types (%v)", err)
	}
}

var built sync.Once

// server builds the client once and starts a local server whose every API
// answer is checked against the OpenAPI document (parts of at least 5 MiB,
// S3's own minimum, so 5 MiB + 1 byte is two parts); it returns the
// server and a token of a new account.
func server(t testing.TB, opts ...func(*app.Config)) (*devserver.Server, string) {
	t.Helper()
	return serverFor(t, nil, opts...)
}

// serverFor is server whose pages may also come from origins (CORS).
func serverFor(t testing.TB, origins []string, opts ...func(*app.Config)) (*devserver.Server, string) {
	t.Helper()
	ready(t)
	// make test builds dist/ before the tests (the console's test bundles it
	// meanwhile): a build here would rewrite files it reads
	built.Do(func() {
		if os.Getenv("ANEXO_JS_BUILT") == "" {
			tool(t, "node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.json")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := testenv.Config(testenv.Embedded(t))
	c.Limits.MinPartSize = 5 << 20
	for _, o := range opts {
		o(&c)
	}
	srv, err := devserver.Start(ctx, devserver.Options{Config: c, Observe: openapitest.New(t).Observe, CORSOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := srv.NewAccount(ctx, "js", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return srv, token
}

// TestClient runs the client's tests (Node's runner) against a server.
func TestClient(t *testing.T) {
	srv, token := server(t)
	files, _ := filepath.Glob(filepath.Join(dir, "test", "*.test.mjs"))
	if len(files) == 0 {
		t.Fatal("no test files in clients/js/test")
	}
	// files, not the directory: Node 22 takes --test arguments as patterns
	cmd := exec.Command("node", append([]string{"--test", "--test-reporter=spec"}, files...)...)
	cmd.Dir = dir
	// uploads remember their sessions in the user's cache: a fresh one
	cmd.Env = append(os.Environ(), "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token, "XDG_CACHE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("the client's tests failed: %v", err)
	}
}

// TestClientInChromium: in headless Chromium, a page at the API's origin
// uploads a File with parallel parts and its CRC32C computed in the page,
// then aborts another upload mid-way and resumes it from the same File;
// the bytes S3 holds are the page's, and the resumed upload is one file.
func TestClientInChromium(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	_, modErr := os.Stat(filepath.Join(dir, "..", "..", "shared", "platform", "devserver", "web", "browsertest", "node_modules", "playwright-core"))
	if chromium == "" || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs chromium and shared/platform/devserver/web/browsertest/node_modules: chromium=%q modules=%v", chromium, modErr)
		}
		t.Skip("chromium or playwright-core missing (apt-get install chromium; npm ci in shared/platform/devserver/web/browsertest)")
	}
	srv, token := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "browser", "run.mjs"), srv.URL, token)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var out struct {
		First struct {
			UUID, Name, Sha256 string
			Size               int64
			Progress           []int64
		}
		Aborted struct{ Name, SessionID, Session string }
		Second  struct {
			UUID, Sha256, Status, SessionFile string
			Size                              int64
		}
		Problem struct {
			Name, Code, Field string
			Status            int
		}
		Console []string
		Error   string
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil || err != nil || out.Error != "" {
		t.Fatalf("browser: %v %v\nstdout: %s\nstderr: %s", err, jerr, stdout.String(), stderr.String())
	}
	t.Logf("page console: %v", out.Console)
	if out.First.Size != 11<<20+7 || out.First.Name != "gravação.bin" || len(out.First.Progress) < 2 {
		t.Fatalf("first upload: %+v", out.First)
	}
	if out.Aborted.Name != "AbortError" || out.Aborted.SessionID == "" || out.Aborted.SessionID != out.Aborted.Session {
		t.Fatalf("the aborted upload: %+v", out.Aborted)
	}
	if out.Second.Status != "completed" || out.Second.SessionFile != out.Second.UUID || out.Second.Size != 16<<20+3 {
		t.Fatalf("the resumed upload: %+v", out.Second)
	}
	if out.Problem.Name != "AnexoError" || out.Problem.Status != 400 || out.Problem.Field != "file_name" {
		t.Fatalf("a refused request: %+v", out.Problem)
	}
	c := &client.Client{Endpoint: srv.URL, Token: token}
	for _, f := range []struct{ uuid, sum string }{{out.First.UUID, out.First.Sha256}, {out.Second.UUID, out.Second.Sha256}} {
		u, err := c.DownloadURL(ctx, f.uuid, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, _ = io.Copy(h, resp.Body)
		resp.Body.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != f.sum {
			t.Fatalf("file %s: stored sha256 %s, the page's %s", f.uuid, got, f.sum)
		}
	}
	var usage struct {
		FileCount int `json:"file_count"`
	}
	if _, err := c.Do(ctx, "GET", "/v1/usage", nil, &usage); err != nil || usage.FileCount != 2 {
		t.Fatalf("usage %+v %v: the resumed upload made a second file?", usage, err)
	}
}

// BenchmarkNodeVsCLI uploads the same file, of 256 MiB and of 1 GiB, with
// the Node client and with the Go CLI, alternated (both processes started
// per upload, 4 parts in flight, CRC32C on), to the same local server; it
// reports each one's MiB/s over all runs, node/cli (their ratio) and
// pair-median, the median of the ratios of each pair of runs (the pair's
// two runs see the machine in one state). Each run starts after a sync: the
// disk's writeback of the runs before (the server's copies) moved a run's
// time by half when it fell inside it. NODE_FLAGS adds flags to node (e.g.
// --cpu-prof).
func BenchmarkNodeVsCLI(b *testing.B) {
	srv, token := server(b)
	cli := filepath.Join(b.TempDir(), "anexo")
	build := exec.Command("go", "build", "-o", cli, "./cmd/anexo")
	build.Dir = filepath.Join(dir, "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token)
	run := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, append(env, "XDG_CACHE_HOME="+b.TempDir())
		// each run starts with no dirty pages: the writeback of the runs
		// before (the server's copy of the file) is not charged to this one
		syscall.Sync()
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(t0)
	}
	for _, size := range []int{256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "big.bin")
			data := make([]byte, size)
			_, _ = rand.Read(data)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			data = nil
			var nodeT, cliT time.Duration
			var ratios []float64
			for b.Loop() {
				n := run("node", append(strings.Fields(os.Getenv("NODE_FLAGS")), "bench/upload.mjs", path, "4")...)
				c := run(cli, "upload", "--new", "--quiet", "--parallel", "4", path)
				nodeT, cliT = nodeT+n, cliT+c
				ratios = append(ratios, c.Seconds()/n.Seconds())
			}
			slices.Sort(ratios)
			mib := float64(size) / (1 << 20) * float64(b.N)
			b.ReportMetric(mib/nodeT.Seconds(), "node-MiB/s")
			b.ReportMetric(mib/cliT.Seconds(), "cli-MiB/s")
			b.ReportMetric(cliT.Seconds()/nodeT.Seconds(), "node/cli")
			b.ReportMetric((ratios[(len(ratios)-1)/2]+ratios[len(ratios)/2])/2, "pair-median")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkBrowserUpload times a 256 MiB upload of a file on disk, picked
// in a page's input in headless Chromium (the browser entry bundled by esbuild: XMLHttpRequest parts,
// hash-wasm's CRC32C, 4 parts in flight) and the Go CLI's of the same
// size to the same server; it reports each one's MiB/s and browser/cli.
func BenchmarkBrowserUpload(b *testing.B) {
	site := b.TempDir() // the page, on an origin of its own
	pages := httptest.NewServer(http.FileServer(http.Dir(site)))
	b.Cleanup(pages.Close)
	srv, token := serverFor(b, []string{pages.URL})
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		b.Skip("chromium missing")
	}
	tool(b, filepath.Join("node_modules", ".bin", "esbuild"), "browser/bench-page.js", "--bundle", "--platform=browser", "--format=esm", "--outfile="+filepath.Join(site, "page.js"))
	html := `<!doctype html><meta charset="utf-8"><input type="file"><script type="module" src="/page.js"></script>`
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte(html), 0o644); err != nil {
		b.Fatal(err)
	}
	cli := filepath.Join(b.TempDir(), "anexo")
	build := exec.Command("go", "build", "-o", cli, "./cmd/anexo")
	build.Dir = filepath.Join(dir, "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	const size = 256 << 20
	path := filepath.Join(b.TempDir(), "big.bin")
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	var browserT, cliT time.Duration
	for b.Loop() {
		cmd := exec.Command("node", filepath.Join(dir, "browser", "bench.mjs"), pages.URL+"/", srv.URL, token, path, "1")
		cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
		out, err := cmd.Output()
		var res struct{ Runs []struct{ Seconds float64 } }
		if err != nil || json.Unmarshal(out, &res) != nil || len(res.Runs) != 1 {
			b.Fatalf("browser: %v\n%s", err, out)
		}
		browserT += time.Duration(res.Runs[0].Seconds * float64(time.Second))
		c := exec.Command(cli, "upload", "--new", "--quiet", "--parallel", "4", path)
		c.Env = append(os.Environ(), "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token, "XDG_CACHE_HOME="+b.TempDir())
		t0 := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("cli: %v\n%s", err, out)
		}
		cliT += time.Since(t0)
	}
	mib := float64(size) / (1 << 20) * float64(b.N)
	b.ReportMetric(mib/browserT.Seconds(), "browser-MiB/s")
	b.ReportMetric(mib/cliT.Seconds(), "cli-MiB/s")
	b.ReportMetric(cliT.Seconds()/browserT.Seconds(), "browser/cli")
	b.ReportMetric(0, "ns/op")
}

// readmeBlock is the first js block after the heading (or sentence) at.
func readmeBlock(t *testing.T, at string) string {
	t.Helper()
	return readmeFenced(t, at, "js")
}

// readmeFenced is the first block fenced as lang after the text at.
func readmeFenced(t *testing.T, at, lang string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(dir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), at)
	_, block, ok2 := strings.Cut(rest, "```"+lang+"\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("README: no %s block after %q", lang, at)
	}
	return block
}

// uppyDriver calls the README's Uppy callbacks as Uppy's AwsS3 plugin
// does, for a 9 MiB file: create, sign and send each chunk (listing the
// parts storage holds after the first, as a resuming Uppy does), complete;
// then create and abort another.
const uppyDriver = `
const data = new Uint8Array(9 * 2 ** 20 + 5)
for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536))
const file = { name: 'uppy.bin', size: data.length, type: 'application/octet-stream' }
const size = awsS3Options.getChunkSize(file)
const { uploadId, key } = await awsS3Options.createMultipartUpload(file)
const parts = []
for (let n = 1, at = 0; at < data.length; n++, at += size) {
  const { url, headers } = await awsS3Options.signPart(file, { uploadId, key, partNumber: n })
  const res = await fetch(url, { method: 'PUT', headers, body: data.subarray(at, at + size) })
  if (!res.ok) throw new Error('part ' + n + ': ' + res.status + ' ' + await res.text())
  parts.push({ PartNumber: n, ETag: res.headers.get('ETag') })
  if (n === 1) { // as Uppy resuming: the parts storage holds
    const listed = await awsS3Options.listParts(file, { uploadId, key })
    if (listed.length !== 1 || listed[0].PartNumber !== 1 || listed[0].ETag !== parts[0].ETag) throw new Error('listParts: ' + JSON.stringify(listed))
  }
}
const { location } = await awsS3Options.completeMultipartUpload(file, { uploadId, key, parts })
const other = await awsS3Options.createMultipartUpload(file)
await awsS3Options.abortMultipartUpload(file, other)
console.log(location, other.uploadId)
`

// TestReadmeExamples runs the README's Node example as written (with a
// file's path) and its Uppy callbacks as Uppy calls them, against a server
// with Anexo's default part size; each is a module in the package's
// directory, where @anexo/client resolves to the package itself.
func TestReadmeExamples(t *testing.T) {
	srv, token := server(t, func(c *app.Config) { c.Limits.MinPartSize = 0 })
	node := readmeBlock(t, "\n## TypeScript client")
	uppy := readmeBlock(t, "With Uppy 4 or 5 and their callback style")
	run := func(name, src string, args ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(p) })
		cmd := exec.Command("node", append([]string{p}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", name, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	data := make([]byte, 17<<20+9)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "contrato.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(run(".readme-node.mjs", node, path))
	if len(out) < 3 || out[1] != fmt.Sprint(len(data)) || out[2] != "contrato.pdf" {
		t.Fatalf("the Node example printed %q", out)
	}
	if got, err := os.ReadFile(path + ".copy"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the Node example's download differs: %v", err)
	}
	out = strings.Fields(run(".readme-uppy.mjs", "const endpoint = process.env.ANEXO_URL, token = process.env.ANEXO_TOKEN\n"+uppy+uppyDriver))
	if len(out) != 2 || !strings.HasPrefix(out[0], "/v1/files/") {
		t.Fatalf("the Uppy callbacks printed %q", out)
	}
	c := &client.Client{Endpoint: srv.URL, Token: token}
	f, err := c.Get(context.Background(), strings.TrimPrefix(out[0], "/v1/files/"))
	if err != nil || f.Size != 9<<20+5 || f.Name != "uppy.bin" {
		t.Fatalf("the file the callbacks made: %+v %v", f, err)
	}
	if st, err := c.State(context.Background(), out[1]); err != nil || st.Session.Status != "aborted" {
		t.Fatalf("the aborted upload: %+v %v", st.Session, err)
	}
}
