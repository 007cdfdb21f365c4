// Package batchsend sends entries through an AWS batch call (EventBridge's
// PutEvents, SQS's SendMessageBatch): in calls within the call's limits,
// each entry the call fails sent again, with backoff, a few times.
package batchsend

import (
	"context"
	"fmt"
	"time"
)

// Limits bound one call: its entries, and their bytes.
type Limits struct {
	Entries, Bytes int
}

// Split cuts entries, in order, into calls within lim (an entry larger
// than lim.Bytes goes alone: the call refuses it).
func Split[T any](entries []T, lim Limits, size func(T) int) [][]T {
	var out [][]T
	var cur []T
	bytes := 0
	for _, e := range entries {
		n := size(e)
		if len(cur) == lim.Entries || (len(cur) > 0 && bytes+n > lim.Bytes) {
			out, cur, bytes = append(out, cur), nil, 0
		}
		cur, bytes = append(cur, e), bytes+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Attempts bounds the calls one batch gets.
const Attempts = 5

// Send makes a call with entries, then again with the entries it failed,
// after 50 ms doubling, up to Attempts calls. send returns the entries
// to send again and why they failed; an error without entries ends it at
// once.
func Send[T any](ctx context.Context, entries []T, send func([]T) (again []T, err error)) error {
	total := len(entries)
	for attempt := 0; ; attempt++ {
		again, err := send(entries)
		switch {
		case len(again) == 0:
			return err
		case attempt == Attempts-1:
			return fmt.Errorf("%d of %d entries failed: %w", len(again), total, err)
		}
		entries = again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}
