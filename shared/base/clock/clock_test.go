package clock

import (
	"testing"
	"time"
)

func TestNow(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 6, 0, 0, 123456789, time.FixedZone("CET", 3600))
	got := Func(func() time.Time { return at }).Now()
	if want := time.Date(2026, 12, 2, 5, 0, 0, 123456000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if d := time.Since(Func(nil).Now()); d < 0 || d > time.Minute || Func(nil).Now().Location() != time.UTC {
		t.Errorf("a nil Func is not time.Now in UTC")
	}
}
