package triggers

import (
	"context"
	"errors"
	"testing"
	"time"
)

// backlog is a sweep step over n due items, batch at a time.
type backlog struct {
	due, batch, calls int
	fail              error
}

func (b *backlog) step(context.Context) (int, error) {
	b.calls++
	if b.fail != nil {
		return 0, b.fail
	}
	n := min(b.due, b.batch)
	b.due -= n
	return n, nil
}

// TestDrain: a sweep works batch after batch until nothing is due (1,000
// due files: ten full batches and an empty look), stops with the time
// left under SweepReserve, and stops on an error.
func TestDrain(t *testing.T) {
	b := &backlog{due: 1000, batch: 100}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if n, err := drain(ctx, b.step, b.batch); n != 1000 || err != nil || b.due != 0 || b.calls != 11 {
		t.Fatalf("drained %d (%v) in %d calls, %d left", n, err, b.calls, b.due)
	}
	b = &backlog{due: 1000, batch: 100}
	late, cancel := context.WithTimeout(context.Background(), SweepReserve/2)
	defer cancel()
	if n, err := drain(late, b.step, b.batch); n != 100 || err != nil || b.calls != 1 {
		t.Fatalf("with little time: %d (%v) in %d calls", n, err, b.calls)
	}
	b = &backlog{due: 250, batch: 100}
	if n, _ := drain(context.Background(), b.step, b.batch); n != 250 || b.calls != 3 {
		t.Fatalf("no deadline: %d in %d calls", n, b.calls)
	}
	boom := errors.New("boom")
	b = &backlog{due: 250, batch: 100, fail: boom}
	if _, err := drain(context.Background(), b.step, b.batch); !errors.Is(err, boom) || b.calls != 1 {
		t.Fatalf("error: %v in %d calls", err, b.calls)
	}
}
