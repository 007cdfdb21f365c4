// Package load drives a running Anexo with a mix of concurrent operations
// (uploads through sessions, new versions, listings, reads, downloads,
// trash, restore, attach, usage) and checks what it sees: no 5xx, no
// unexpected error, every download equal to what was uploaded, and usage
// counters equal to the files' sizes at the end. cmd/anexo-load runs it
// against any endpoint; the soak test runs it against the local server.
package load

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/client"
)

// Config is one run.
type Config struct {
	Client      *client.Client
	Ops         int    // operations in all (default 1,000)
	Concurrency int    // workers (default 8)
	MaxFileSize int    // bytes (default 64 KiB); sizes are random in [0, MaxFileSize]
	Seed        uint64 // the mix and sizes are reproducible from it
	Dir         string // scratch directory (default: a temporary one)
}

// Mix is each operation's weight.
var Mix = []struct {
	Op     string
	Weight int
}{
	{"upload", 24}, {"version", 8}, {"list", 18}, {"get", 10}, {"download", 10},
	{"trash", 9}, {"restore", 7}, {"attach", 6}, {"usage", 8},
}

// Stats are one operation's results.
type Stats struct {
	Count  int
	Errors int
	lat    []time.Duration
}

// Percentile is the latency below which p of the operations finished.
func (s *Stats) Percentile(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	return s.lat[int(p*float64(len(s.lat)-1))]
}

// Report is what a run saw.
type Report struct {
	Elapsed  time.Duration
	Ops      map[string]*Stats
	Statuses map[int]int // HTTP statuses of failed requests
	Failures []string    // the first failures, described
	Usage    UsageCheck
}

// UsageCheck compares the account's counters with its files.
type UsageCheck struct {
	Want, Got Usage
}

// Usage is the account's counters.
type Usage struct {
	UsedBytes    int64 `json:"used_bytes"`
	TrashedBytes int64 `json:"trashed_bytes"`
	FileCount    int64 `json:"file_count"`
}

// OK reports a clean run: no failure and consistent usage.
func (r Report) OK() bool {
	return len(r.Failures) == 0 && r.Usage.Want == r.Usage.Got
}

// ServerErrors counts 5xx answers.
func (r Report) ServerErrors() int {
	n := 0
	for s, c := range r.Statuses {
		if s >= 500 {
			n += c
		}
	}
	return n
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) {
	total := 0
	for _, s := range r.Ops {
		total += s.Count
	}
	fmt.Fprintf(w, "%d operations in %s (%.0f ops/s)\n", total, r.Elapsed.Round(time.Millisecond), float64(total)/r.Elapsed.Seconds())
	fmt.Fprintf(w, "%-9s %7s %7s %9s %9s %9s\n", "op", "count", "errors", "p50", "p95", "p99")
	names := make([]string, 0, len(r.Ops))
	for k := range r.Ops {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := r.Ops[k]
		fmt.Fprintf(w, "%-9s %7d %7d %9s %9s %9s\n", k, s.Count, s.Errors, s.Percentile(0.5).Round(10*time.Microsecond),
			s.Percentile(0.95).Round(10*time.Microsecond), s.Percentile(0.99).Round(10*time.Microsecond))
	}
	fmt.Fprintf(w, "failed requests by status: %v (5xx: %d)\n", r.Statuses, r.ServerErrors())
	fmt.Fprintf(w, "usage: want %+v, got %+v\n", r.Usage.Want, r.Usage.Got)
	for _, f := range r.Failures {
		fmt.Fprintln(w, "failure:", f)
	}
}

// file is what a worker knows of one of its files.
type file struct {
	uuid    string
	total   int64  // bytes of all versions
	size    int64  // main version
	crc     uint32 // main version
	trashed bool
}

// worker owns its files, so its model of them is exact while the workers
// run concurrently.
type worker struct {
	r     *run
	rng   *rand.Rand
	files []*file
	dir   string
	n     int
}

type run struct {
	cfg      Config
	mu       sync.Mutex
	rep      Report
	failures int
}

// Run drives the endpoint until cfg.Ops operations are done or ctx ends.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Client == nil {
		return Report{}, errors.New("load: no client")
	}
	if cfg.Ops <= 0 {
		cfg.Ops = 1000
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 64 << 10
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "anexo-load-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	r := &run{cfg: cfg, rep: Report{Ops: map[string]*Stats{}, Statuses: map[int]int{}}}
	for _, m := range Mix {
		r.rep.Ops[m.Op] = &Stats{}
	}
	// the account's counters before the run: the load adds to them
	var before Usage
	if _, err := cfg.Client.Do(ctx, "GET", "/v1/usage", nil, &before); err != nil {
		return Report{}, fmt.Errorf("usage before the run: %w", err)
	}
	jobs := make(chan int)
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &worker{r: r, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), dir: filepath.Join(dir, fmt.Sprint(i))}
		if err := os.MkdirAll(w.dir, 0o755); err != nil {
			return Report{}, err
		}
		workers[i] = w
		wg.Go(func() {
			for range jobs {
				w.step(ctx)
			}
		})
	}
feed:
	for range cfg.Ops {
		select {
		case jobs <- 0:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	r.rep.Elapsed = time.Since(start)
	for _, s := range r.rep.Ops {
		slices.Sort(s.lat)
	}
	want := before
	for _, w := range workers {
		for _, f := range w.files {
			if f.trashed {
				want.TrashedBytes += f.total
			} else {
				want.UsedBytes += f.total
				want.FileCount++
			}
		}
	}
	r.rep.Usage.Want = want
	if _, err := cfg.Client.Do(ctx, "GET", "/v1/usage", nil, &r.rep.Usage.Got); err != nil {
		return r.rep, fmt.Errorf("usage after the run: %w", err)
	}
	return r.rep, ctx.Err()
}

// record adds one operation's outcome.
func (r *run) record(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.rep.Ops[op]
	s.Count++
	s.lat = append(s.lat, d)
	if err == nil {
		return
	}
	s.Errors++
	var p *client.Problem
	if errors.As(err, &p) {
		r.rep.Statuses[p.Status]++
	} else {
		r.rep.Statuses[0]++ // no HTTP answer, or a wrong one
	}
	if r.failures++; r.failures <= 20 {
		r.rep.Failures = append(r.rep.Failures, op+": "+err.Error())
	}
}

// pick chooses an operation by weight.
func (w *worker) pick() string {
	total := 0
	for _, m := range Mix {
		total += m.Weight
	}
	n := w.rng.IntN(total)
	for _, m := range Mix {
		if n < m.Weight {
			return m.Op
		}
		n -= m.Weight
	}
	return Mix[0].Op
}

// some returns one of the worker's files in the given state, or nil.
func (w *worker) some(trashed bool) *file {
	var c []*file
	for _, f := range w.files {
		if f.trashed == trashed {
			c = append(c, f)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[w.rng.IntN(len(c))]
}

func (w *worker) step(ctx context.Context) {
	op := w.pick()
	active, trashed := w.some(false), w.some(true)
	switch {
	case op == "restore" && trashed == nil, op != "upload" && op != "list" && op != "usage" && op != "restore" && active == nil:
		op = "upload" // nothing to act on yet
	}
	t0 := time.Now()
	err := w.do(ctx, op, active, trashed)
	w.r.record(op, time.Since(t0), err)
}

func (w *worker) do(ctx context.Context, op string, active, trashed *file) error {
	c := w.r.cfg.Client
	switch op {
	case "upload", "version":
		data := make([]byte, w.rng.IntN(w.r.cfg.MaxFileSize+1))
		for i := range data {
			data[i] = byte(w.rng.Uint32())
		}
		w.n++
		path := filepath.Join(w.dir, fmt.Sprintf("load-%d.bin", w.n))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		defer os.Remove(path)
		o := client.UploadOptions{StateDir: w.dir, NoChecksum: w.rng.IntN(2) == 0}
		if op == "version" {
			o.FileUUID = active.uuid
		}
		f, err := c.Upload(ctx, path, o)
		if err != nil {
			return err
		}
		if op == "version" {
			if f.UUID != active.uuid {
				return fmt.Errorf("new version landed on file %s, not %s", f.UUID, active.uuid)
			}
			active.total += int64(len(data))
			active.size, active.crc = int64(len(data)), crc32.ChecksumIEEE(data)
			return nil
		}
		w.files = append(w.files, &file{uuid: f.UUID, total: int64(len(data)), size: int64(len(data)), crc: crc32.ChecksumIEEE(data)})
		return nil
	case "list":
		q := url.Values{"limit": {fmt.Sprint(1 + w.rng.IntN(100))}}
		switch w.rng.IntN(4) {
		case 1:
			q.Set("filter[extensions][]", "bin")
		case 2:
			q.Set("filter[deleted]", "true")
		case 3:
			q.Set("order[created_at]", "asc")
		}
		page, err := c.List(ctx, q, "")
		if err == nil && page.Next != "" { // and the next page, through the signed cursor
			_, err = c.List(ctx, q, page.Next)
		}
		return err
	case "get":
		f, err := c.Get(ctx, active.uuid)
		if err == nil && (f.Size != active.size || f.IsTrashed) {
			err = fmt.Errorf("file %s: size %d trashed %v, want %d false", f.UUID, f.Size, f.IsTrashed, active.size)
		}
		return err
	case "download":
		dst := filepath.Join(w.dir, "download.bin")
		defer os.Remove(dst)
		if _, err := c.Download(ctx, active.uuid, "", dst, nil); err != nil {
			return err
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			return err
		}
		if int64(len(got)) != active.size || crc32.ChecksumIEEE(got) != active.crc {
			return fmt.Errorf("file %s downloads %d other bytes (want %d)", active.uuid, len(got), active.size)
		}
		return nil
	case "trash", "restore":
		f, method, path, want := active, "DELETE", "/v1/files", "trashed"
		if op == "restore" {
			f, method, path, want = trashed, "POST", "/v1/files/restore", "restored"
		}
		res, err := c.Batch(ctx, method, path, []string{f.uuid})
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].Status != want {
			return fmt.Errorf("%s %s: %+v", op, f.uuid, res)
		}
		f.trashed = op == "trash"
		return nil
	case "attach":
		// one of 50 leads, registered by the first attach to its UUID
		lead := fmt.Sprintf("00000000-0000-4000-8000-%012d", 1+w.rng.IntN(50))
		res, err := c.Attach(ctx, "POST", "lead", lead, []client.AttachSpec{{FileUUID: active.uuid}})
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].Status != "attached" && res[0].Status != "already_attached" {
			return fmt.Errorf("attach %s: %+v", active.uuid, res)
		}
		return nil
	case "usage":
		_, err := c.Do(ctx, "GET", "/v1/usage", nil, &Usage{})
		return err
	}
	return fmt.Errorf("unknown operation %q", op)
}
