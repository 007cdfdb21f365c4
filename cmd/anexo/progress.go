package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/client"
)

// bar draws progress on stderr: redrawn in place on a terminal, a line
// every few seconds otherwise (logs, CI).
type bar struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	last    time.Time
	phase   string
	lastN   int64
	lastT   time.Time
	rate    float64 // bytes/s, smoothed
	printed bool
}

func newBar(w io.Writer, label string) *bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &bar{w: w, label: label, tty: tty, start: now, lastT: now}
}

func (b *bar) update(p client.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if p.Phase != b.phase {
		b.phase, b.lastN, b.lastT, b.rate = p.Phase, p.Done, now, 0
	}
	if dt := now.Sub(b.lastT).Seconds(); dt >= 0.25 {
		inst := float64(p.Done-b.lastN) / dt
		if b.rate == 0 {
			b.rate = inst
		} else {
			b.rate = 0.7*b.rate + 0.3*inst
		}
		b.lastN, b.lastT = p.Done, now
	}
	interval := 5 * time.Second
	if b.tty {
		interval = 100 * time.Millisecond
	}
	if now.Sub(b.last) < interval && p.Done < p.Total {
		return
	}
	b.last = now
	b.draw(p)
}

func (b *bar) draw(p client.Progress) {
	pct := 100.0
	if p.Total > 0 {
		pct = float64(p.Done) * 100 / float64(p.Total)
	}
	eta := "--"
	if b.rate > 0 && p.Done < p.Total {
		eta = time.Duration(float64(p.Total-p.Done) / b.rate * float64(time.Second)).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s %-11s %5.1f%% %10s / %-10s %10s/s  ETA %s", b.label, p.Phase, pct, human(p.Done), human(p.Total), human(int64(b.rate)), eta)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
	b.printed = true
}

// done ends the bar's line.
func (b *bar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty && b.printed {
		fmt.Fprintln(b.w)
	}
}

// human formats bytes in IEC units.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
