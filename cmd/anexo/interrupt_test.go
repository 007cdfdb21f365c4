package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// packageDir is this package's directory, read before any test starts the
// embedded S3 (which moves the process's working directory).
var packageDir, _ = os.Getwd()

// buildCLI builds the anexo binary once for the package's tests, into a
// directory of its own removed after them.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin, err := cliBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var cliBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "anexo-cli-")
	if err != nil {
		return "", err
	}
	testenv.AtExit(func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "anexo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = packageDir
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// TestInterruptedUploadsConverge runs the CLI as a user does and
// interrupts it (SIGINT and SIGKILL in turn) at moments spread over an
// upload: early, during the parts, during completion, after it.
// Then it runs the same command line again. Every round ends with one
// file, identical bytes and exact usage; a third run answers the same file
// instead of uploading a second copy.
func TestInterruptedUploadsConverge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildCLI(t)
	url, token := server(t, 0)
	state := filepath.Join(dir, "state")
	command := func(path string) *exec.Cmd {
		cmd := exec.Command(bin, "upload", path, "--quiet", "--parallel", "2", "--state-dir", state)
		cmd.Env = append(os.Environ(), "ANEXO_URL="+url, "ANEXO_TOKEN="+token)
		return cmd
	}
	c := &client.Client{Endpoint: url, Token: token}
	ctx := context.Background()
	var want int64
	// Round 0 runs uninterrupted and measures an upload; the others are
	// interrupted at fractions of that time, so the moments fall in
	// the open, the parts, completion and after it on a fast or a slow machine.
	var upload time.Duration
	for i := range 14 {
		delay := time.Duration(float64(upload) * float64(i) / 12)
		sig := map[bool]os.Signal{true: syscall.SIGINT, false: syscall.SIGKILL}[i%2 == 0]
		path, data := writeRandom(t, dir, fmt.Sprintf("round%02d.bin", i), 24*mib+i)
		want += int64(len(data))
		first := command(path)
		var log bytes.Buffer
		first.Stdout, first.Stderr = &log, &log
		start := time.Now()
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			_ = first.Wait()
			upload = time.Since(start)
		} else {
			time.Sleep(delay)
			_ = first.Process.Signal(sig)
			_ = first.Wait()
		}
		t.Logf("round %d: %v after %v, exit %d", i, sig, delay, first.ProcessState.ExitCode())
		if code := first.ProcessState.ExitCode(); code != 0 && code != -1 && code != exitInterrupted {
			t.Fatalf("round %d (%v after %v): exit %d\n%s", i, sig, delay, code, log.String())
		}
		var uuid string
		for run := range 2 {
			out, err := command(path).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("round %d (%v after %v), run %d: %v\n%s\nfirst run:\n%s", i, sig, delay, run+2, err, stderr, log.String())
			}
			got := strings.Fields(string(out))[0]
			if run == 1 && got != uuid {
				t.Fatalf("round %d: the same command answered %s, then %s", i, uuid, got)
			}
			uuid = got
		}
		dst := filepath.Join(dir, "down.bin")
		if _, err := c.Download(ctx, uuid, "", dst, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("round %d: downloaded bytes differ", i)
		}
		var u struct {
			UsedBytes int64 `json:"used_bytes"`
			FileCount int64 `json:"file_count"`
		}
		if _, err := c.Do(ctx, "GET", "/v1/usage", nil, &u); err != nil {
			t.Fatal(err)
		}
		if u.FileCount != int64(i+1) || u.UsedBytes != want {
			t.Fatalf("round %d (%v after %v): %d files, %d bytes; want %d, %d", i, sig, delay, u.FileCount, u.UsedBytes, i+1, want)
		}
	}
}
