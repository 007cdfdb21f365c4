package main_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/client/load"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// soakOps is SOAK_OPS, 500 by default: every operation of the mix runs
// dozens of times (SOAK_OPS=2500 or more for a longer soak).
func soakOps(t *testing.T) int {
	n := 500
	if v := os.Getenv("SOAK_OPS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("SOAK_OPS=%q: a whole number of operations, at least 100", v)
		}
	}
	return n
}

// TestSoak builds what `make run` runs, starts it on the embedded
// emulators, takes the dev token it prints, and drives it with 500
// mixed operations (SOAK_OPS to change; shared/client/load: uploads through sessions, versions,
// listings with cursors, reads, downloads compared byte for byte, trash,
// restore, attach, usage) from 8 concurrent workers. It asserts zero failed
// requests (no 5xx, no unexpected 4xx), usage counters equal to the files'
// sizes at the end, no data race in the server (built with -race when the
// test is), and a clean exit on Ctrl-C. Before the load, a webhook's test
// delivery reaches an HTTPS receiver whose certificate only the CA in
// ANEXO_WEBHOOK_CA_FILE vouches for.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: long")
	}
	bin := filepath.Join(t.TempDir(), "anexo-local")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// an HTTPS receiver whose certificate only ANEXO_WEBHOOK_CA_FILE vouches for
	receiver := testenv.NewReceiver(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: receiver.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", t.TempDir())
	cmd.Dir = filepath.Join("..", "..") // the repository's root, as make run: the console's default clients/console/dist
	cmd.Env = append(withoutEndpoints(os.Environ()), "ANEXO_WEBHOOK_CA_FILE="+caFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testenv.Output{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	endpoint, token := banner(t, stdout)
	console(t, endpoint)
	api := &client.Client{Endpoint: endpoint, Token: token}
	hook, _, err := api.CreateWebhook(context.Background(), client.NewWebhook{URL: receiver.URL + "/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := api.TestWebhook(context.Background(), hook.ID); err != nil || d.State != "delivered" || receiver.Signed.Load() != 1 {
		t.Fatalf("a test delivery to an HTTPS receiver of the trusted CA: %+v, %v (%d received)", d, err, receiver.Signed.Load())
	}

	rep, err := load.Run(context.Background(), load.Config{
		Client: api,
		Ops:    soakOps(t), Concurrency: 8, MaxFileSize: 32 << 10, Seed: 7, Dir: t.TempDir(),
	})
	var out strings.Builder
	rep.Write(&out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.ServerErrors(); n != 0 || !rep.OK() {
		t.Fatalf("%d 5xx; failures %v; usage want %+v got %+v", n, rep.Failures, rep.Usage.Want, rep.Usage.Got)
	}
	for op, s := range rep.Ops {
		if s.Count == 0 {
			t.Errorf("the mix never ran %s", op)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("make run's server exited with %v on Ctrl-C\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("make run's server did not exit on Ctrl-C")
	}
	if strings.Contains(stderr.String(), "DATA RACE") {
		t.Fatalf("the server raced:\n%s", stderr.String())
	}
}

// console checks the root serves the files console (make test builds it
// before the tests; elsewhere, without a build, the page saying how) under
// its Content-Security-Policy.
func console(t *testing.T, endpoint string) {
	t.Helper()
	resp, err := http.Get(endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	built := resp.StatusCode == http.StatusOK && strings.Contains(string(body), `<div id="app">`)
	switch {
	case built:
	case os.Getenv("CI") != "":
		t.Fatalf("/ does not serve the built console (make test builds it): %d %s", resp.StatusCode, body)
	default:
		t.Logf("the console is not built (make console): / answers %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("/ answers the policy %q", csp)
	}
}

// banner reads the server's output until it printed the URL and the dev
// token, then keeps draining it (the server logs JSON to stdout).
func banner(t *testing.T, r io.Reader) (string, string) {
	t.Helper()
	type found struct{ url, token string }
	ch := make(chan found, 1)
	go func() {
		var f found
		urlRe, tokRe := regexp.MustCompile(`^export ANEXO_URL=(\S+)`), regexp.MustCompile(`^export ANEXO_TOKEN=(\S+)`)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				f.url = m[1]
			}
			if m := tokRe.FindStringSubmatch(sc.Text()); m != nil {
				f.token = m[1]
				ch <- f
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case f := <-ch:
		if f.url == "" {
			t.Fatal("make run printed a token but no ANEXO_URL")
		}
		return f.url, f.token
	case <-time.After(2 * time.Minute):
		t.Fatal("make run printed no dev token within 2 minutes")
	}
	return "", ""
}

// withoutEndpoints drops emulator endpoints from the environment: the soak
// runs the embedded ones, as `make run` does on a fresh machine.
func withoutEndpoints(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DYNAMODB_ENDPOINT=") && !strings.HasPrefix(kv, "S3_ENDPOINT=") {
			out = append(out, kv)
		}
	}
	return out
}
