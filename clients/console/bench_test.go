package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// BenchmarkConsoleLargeAccount: an account of CONSOLE_FILES files (default
// 3,000: the embedded DynamoDB's writes slow down as its table grows, so
// seeding takes 13 s for 1,000, 2 min for 3,000 and over 28 min for
// 10,000; recorded through the store as completions record them, 1% of
// them named relatorio-…) and the console in headless Chromium: ms to the
// first page of 50 after a fresh load, the median of five next pages, and
// of each the part after the API's answer arrived (the console's own:
// *RenderMs); search as you type to its results (less the 250 ms the
// screen waits for typing to pause); the DOM's elements and the
// JavaScript heap. The API runs on this machine on the embedded DynamoDB,
// whose queries, unlike DynamoDB's, slow down as the table grows.
func BenchmarkConsoleLargeAccount(b *testing.B) {
	chromium := ready(b)
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("CONSOLE_FILES")); err == nil && v > 0 {
		n = v
	}
	out := filepath.Join(b.TempDir(), "dist")
	if o, err := exec.Command("node", filepath.Join(dir, "build.mjs"), out).CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, o)
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{Config: testenv.Config(testenv.Embedded(b)), Console: out, NoThrottle: true})
	if err != nil {
		b.Fatal(err)
	}
	acct, token, err := srv.NewAccount(ctx, "large", 0, "")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := seedStore(ctx, srv, acct, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d files in %s", n, time.Since(t0).Round(time.Second))
	var last map[string]float64
	for b.Loop() {
		cmd := exec.Command("node", filepath.Join(dir, "test", "large.mjs"))
		cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token, "TERM=relatorio")
		o, err := cmd.Output()
		var m map[string]any
		if jerr := json.Unmarshal(o, &m); err != nil || jerr != nil || m["error"] != nil {
			b.Fatalf("large.mjs: %v %v %s", err, jerr, o)
		}
		last = map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				last[k] = f
			}
		}
	}
	for _, k := range []string{"firstPageMs", "firstRenderMs", "nextPageMs", "nextRenderMs", "searchMs", "searchRows", "domNodes", "heapMB"} {
		b.ReportMetric(last[k], k)
	}
}

// seedStore records n files in the account as completed uploads do (a
// session and its commit), 16 at a time.
func seedStore(ctx context.Context, srv *devserver.Server, acct string, n int) error {
	store := srv.Deps.Store()
	first, _, err := store.ReserveFileIDs(ctx, acct, n)
	if err != nil {
		return err
	}
	base := time.Now().Add(-time.Duration(n) * time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				name := fmt.Sprintf("documento-%05d.txt", i)
				if i%100 == 0 {
					name = fmt.Sprintf("relatorio-%05d.pdf", i)
				}
				at := base.Add(time.Duration(i) * time.Minute)
				f := files.File{AccountID: acct, UUID: uuid.NewString(), ID: first + int64(i), VersionUUID: uuid.NewString(), Name: name,
					SanitizedName: files.Sanitize(name), Extension: files.Extension(name), Size: int64(len(name)), VersionCount: 1,
					Source: "api", CreatedAt: at, UpdatedAt: at, CreatedBy: "large", UpdatedBy: "large"}
				f.MimeType, _ = files.MimeType("", name)
				f.Type = files.Kind(f.MimeType, f.Extension)
				sess := upload.Session{AccountID: acct, ID: uuid.NewString(), FileUUID: f.UUID, VersionUUID: f.VersionUUID, NewFile: true,
					FileID: f.ID, FileName: name, Plan: upload.Plan{Size: f.Size, PartSize: f.Size, PartCount: 1}, Status: upload.StatusOpen,
					CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
				err := store.PutSession(ctx, sess)
				if err == nil {
					err = store.Commit(ctx, upload.Commit{Session: sess, File: f, NewFile: true, Version: files.Version{AccountID: acct,
						FileUUID: f.UUID, UUID: f.VersionUUID, Size: f.Size, Name: name, CreatedAt: at, Key: files.ObjectKey(acct, f.UUID, f.VersionUUID)}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
