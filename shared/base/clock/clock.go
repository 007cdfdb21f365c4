// Package clock is the time source services hold, so tests can move time.
package clock

import "time"

// Func tells the time; nil is time.Now.
type Func func() time.Time

// Now is the current time in UTC, to the microsecond: the precision the
// table stores, so a time read back equals the time written.
func (f Func) Now() time.Time {
	t := time.Now()
	if f != nil {
		t = f()
	}
	return t.UTC().Truncate(time.Microsecond)
}
