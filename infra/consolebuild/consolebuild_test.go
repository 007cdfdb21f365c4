package consolebuild

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOlder: a build step runs when its output is missing or a source is
// newer, and not otherwise (tests read clients/js/dist while the CDK app
// synthesizes beside them).
func TestOlder(t *testing.T) {
	dir := t.TempDir()
	out, src := filepath.Join(dir, "dist.js"), filepath.Join(dir, "src", "a.ts")
	_ = os.MkdirAll(filepath.Dir(src), 0o755)
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stale := older(out, filepath.Join(dir, "src", "*.ts"))
	if !stale() {
		t.Error("a missing output is not stale")
	}
	_ = os.WriteFile(out, nil, 0o644)
	past := time.Now().Add(-time.Hour)
	_ = os.Chtimes(src, past, past)
	if stale() {
		t.Error("an output newer than its sources is stale")
	}
	_ = os.Chtimes(src, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if !stale() {
		t.Error("an output older than a source is not stale")
	}
}
