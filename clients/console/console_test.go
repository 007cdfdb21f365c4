// Package console_test drives the files console in headless Chromium
// (Debian's chromium, playwright-core) against a local Anexo whose every API
// answer is checked against the OpenAPI document: each screen's main flow,
// axe-core on each screen, the page under its Content-Security-Policy, a
// phone-sized viewport, Brazilian Portuguese; screenshots go to
// .cache/screenshots/console (ANEXO_SCREENSHOTS to change).
package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
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

// ready finds chromium and the package's tools, or skips (CI fails instead).
func ready(t testing.TB) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	_, nodeErr := exec.LookPath("node")
	var modErr error
	for _, m := range []string{"playwright-core", "axe-core", "esbuild", "preact"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m)); err != nil {
			modErr = err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "js", "dist", "browser.js")); err != nil && modErr == nil {
		modErr = err
	}
	if chromium == "" || nodeErr != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs chromium, node, clients/console/node_modules and clients/js/dist (make test): chromium=%q node=%v modules=%v", chromium, nodeErr, modErr)
		}
		t.Skip("chromium, node or the console's modules missing (apt-get install chromium; make console)")
	}
	return chromium
}

// TestConsoleInChromium builds the console, seeds an account (30 files, a
// picture with previews, a file of two versions attached to a lead, a
// trashed file) and drives every screen as a person would.
func TestConsoleInChromium(t *testing.T) {
	chromium := ready(t)
	out := filepath.Join(t.TempDir(), "dist")
	if b, err := exec.Command("node", filepath.Join(dir, "build.mjs"), out).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	shots := os.Getenv("ANEXO_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(dir, "..", "..", ".cache", "screenshots", "console")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := testenv.Config(testenv.Embedded(t))
	c.Limits.MinPartSize = 5 << 20
	c.MalwareScanning = true               // GuardDuty's stand-in: verdicts within 50 ms, EICAR infected
	c.EventSettle = 300 * time.Millisecond // the feed serves events 30 s old by default
	// a webhook receiver over HTTPS, its certificate trusted as ANEXO_WEBHOOK_CA_FILE would
	receiver := testenv.NewReceiver(t)
	c.WebhookRoots = x509.NewCertPool()
	c.WebhookRoots.AddCert(receiver.Certificate())
	srv, err := devserver.Start(ctx, devserver.Options{Config: c, Observe: openapitest.New(t).Observe, Console: out, ScanDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	acct, token, err := srv.NewAccount(ctx, "console", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	seed := seedAccount(ctx, t, srv, token)
	// the checks after the browser's run read with a token of their own:
	// the run ends by revoking the console's
	_, checker, err := (&client.Client{Endpoint: srv.URL, Token: token}).CreateToken(ctx, client.NewToken{Name: "checks", Scopes: []string{"files:read"}})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	big := make([]byte, 21<<20+5)
	_, _ = rand.Read(big)
	bigPath := filepath.Join(work, "gravação-longa.bin")
	if err := os.WriteFile(bigPath, big, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"nota.txt": "uma nota\n", "pasta/a.txt": "a\n", "pasta/sub/b.txt": "b\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := makeRequests(ctx, t, srv, acct, token, work)
	seedJSON, _ := json.Marshal(seed)
	drive(ctx, t, "console.mjs", shots, []string{"signin", "files", "files-filtered", "file", "trash", "trash-confirm", "tokens", "webhooks",
		"deliveries", "events", "entity", "requests", "upload", "files-pt-BR", "files-360"},
		"CHROMIUM="+chromium, "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token, "SHOTS="+shots, "WORK="+work, "SEED="+string(seedJSON),
		"RECEIVER="+receiver.URL+"/hooks/anexo")
	if receiver.Signed.Load() < 2 {
		t.Errorf("the receiver got %d signed deliveries (a test and a retry at least)", receiver.Signed.Load())
	}
	// what the page uploaded is what storage holds, and the resumed upload is one file
	api := &client.Client{Endpoint: srv.URL, Token: checker}
	page, err := api.List(ctx, map[string][]string{"filter[name]": {"gravação-longa.bin"}}, "")
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("the resumed upload's files: %+v %v", page.Files, err)
	}
	if got, want := sha(t, ctx, api, page.Files[0].UUID), hex.EncodeToString(sum(big)); got != want {
		t.Fatalf("the resumed upload holds sha256 %s, the file %s", got, want)
	}
	requestPage(ctx, t, chromium, srv.URL, checker, shots, work, links)
}

// drive runs test/<script> (env: its environment) and fails the test
// when it failed, or on a serious or critical axe-core violation of any of
// screens, or a screen not audited or not shot; it logs the steps.
func drive(ctx context.Context, t *testing.T, script, shots string, screens []string, env ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "test", script))
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct {
		Error string
		Axe   map[string][]struct {
			ID, Impact, Help string
			Nodes            int
			Target           any
		}
		Steps []string
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil || runErr != nil || res.Error != "" {
		t.Fatalf("%s: %v %v\n%s\nstdout: %s\nstderr: %s", script, runErr, jerr, res.Error, stdout.String(), stderr.String())
	}
	for _, s := range res.Steps {
		t.Log(s)
	}
	for _, s := range screens {
		v, ok := res.Axe[s]
		if !ok {
			t.Errorf("axe-core did not run on %s", s)
		}
		for _, x := range v {
			t.Logf("axe %s: %s (%s, %d nodes) %v: %s", s, x.ID, x.Impact, x.Nodes, x.Target, x.Help)
			if x.Impact == "serious" || x.Impact == "critical" {
				t.Errorf("axe-core on %s: %s violation %s: %s", s, x.Impact, x.ID, x.Help)
			}
		}
		if _, err := os.Stat(filepath.Join(shots, s+".png")); err != nil {
			t.Errorf("no screenshot of %s: %v", s, err)
		}
	}
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// sha is the sha256 of a file's bytes as storage serves them.
func sha(t *testing.T, ctx context.Context, c *client.Client, uuid string) string {
	t.Helper()
	u, err := c.DownloadURL(ctx, uuid, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	_, _ = io.Copy(h, resp.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// seeded is what the browser test looks for.
type seeded struct {
	Files     int    `json:"files"`     // files listed (not trashed)
	Picture   string `json:"picture"`   // a PNG with previews
	Versioned string `json:"versioned"` // two versions, attached to a lead
	Entity    string `json:"entity"`    // the lead's title
	Trashed   string `json:"trashed"`   // in the trash
	Infected  string `json:"infected"`  // the EICAR test file
}

func seedAccount(ctx context.Context, t *testing.T, srv *devserver.Server, token string) seeded {
	t.Helper()
	c := &client.Client{Endpoint: srv.URL, Token: token}
	dir := t.TempDir()
	upload := func(name string, body []byte, o client.UploadOptions) client.File {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		o.StateDir, o.New = dir, true
		f, err := c.Upload(ctx, p, o)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	var s seeded
	for i := range 27 {
		upload(fmt.Sprintf("documento-%02d.txt", i), []byte(fmt.Sprintf("documento %d\n", i)), client.UploadOptions{})
	}
	upload("relatório-anual.pdf", []byte("%PDF-1.4 not really\n"), client.UploadOptions{})
	var img bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			m.Set(x, y, color.RGBA{uint8(x / 2), uint8(y), 160, 255})
		}
	}
	_ = png.Encode(&img, m)
	s.Picture = upload("foto.png", img.Bytes(), client.UploadOptions{}).UUID
	v1 := upload("contrato.txt", []byte("contrato, primeira versão\n"), client.UploadOptions{})
	upload("contrato-v2.txt", []byte("contrato, segunda versão, assinada\n"), client.UploadOptions{FileUUID: v1.UUID, Name: "contrato.txt"})
	s.Versioned, s.Entity = v1.UUID, "Acme Ltda"
	if _, err := c.Do(ctx, "PUT", "/v1/entities/lead/9001", map[string]string{"title": s.Entity}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach(ctx, "POST", "lead", "9001", []client.AttachSpec{{FileUUID: v1.UUID}}); err != nil {
		t.Fatal(err)
	}
	old := upload("antigo.txt", []byte("antigo\n"), client.UploadOptions{})
	if _, err := c.Batch(ctx, "DELETE", "/v1/files", []string{old.UUID}); err != nil {
		t.Fatal(err)
	}
	s.Infected = upload("eicar.com.txt", []byte(devserver.EICAR), client.UploadOptions{}).UUID
	s.Trashed, s.Files = old.UUID, 31
	// the picture's previews are rendered after its upload
	for deadline := time.Now().Add(30 * time.Second); ; {
		var f struct {
			Previews []any `json:"previews"`
		}
		if _, err := c.Do(ctx, "GET", "/v1/files/"+s.Picture, nil, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Previews) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the picture has no previews after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}
