package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestEventsTailFollows: tail keeps polling and prints each new event
// once; interrupted, it exits 130 with the cursor to resume from, and
// resuming from it prints only what came after.
func TestEventsTailFollows(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	c := cli{t: t, url: url, token: token, state: t.TempDir()}
	p, _ := writeRandom(t, t.TempDir(), "a.bin", 10)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb testenv.Output
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"events", "tail", "--endpoint", url, "--token", token, "--interval", "50ms", "--json"}, &out, &errb)
	}()
	uuid := strings.Fields(c.ok("upload", "--quiet", p))[0]
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), uuid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a few more polls: nothing twice
	cancel()
	if code := <-done; code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if n := strings.Count(out.String(), `"type":"file.created"`); n != 1 || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("tail printed:\n%s", out.String())
	}
	_, cursor, ok := strings.Cut(errb.String(), "resume with: anexo events tail --after ")
	if !ok {
		t.Fatalf("no cursor to resume from:\n%s", errb.String())
	}
	c.ok("rm", uuid)
	// the feed serves an event once it has settled (a millisecond here)
	var got string
	for deadline := time.Now().Add(5 * time.Second); got == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = c.ok("events", "tail", "--once", "--after", strings.TrimSpace(cursor))
	}
	if lines := strings.Split(strings.TrimSpace(got), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "\tfile.trashed\t") || !strings.Contains(lines[0], uuid) {
		t.Fatalf("resumed tail printed:\n%s", got)
	}
	if code, _, _ := c.run("events", "tail", "extra"); code != exitUsage {
		t.Fatal("a stray argument was accepted")
	}
}
