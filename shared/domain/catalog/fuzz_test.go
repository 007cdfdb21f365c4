package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// FuzzParseQuery: any query string either parses into a query whose
// canonical form is stable, or is refused as invalid input naming a field
// — never a panic, never another kind of error.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10", "filter[name]=a&filter[term]=b&filter[extensions][]=pdf,docx",
		"filter[size][from]=1&filter[size][to]=2&filter[size][unit]=MB",
		"filter[date][type]=updated_at&filter[date][from]=1700000000&filter[date][to]=2026-01-01T00:00:00Z",
		"filter[date][date_preset]=last_week&order[created_at]=asc",
		"filter[uuid][]=3c90c3cc-0d44-4b50-8888-8dd25736052a", "filter[deleted]=true&filter[source]=wegly",
		"filter[entity][type]=lead&filter[entity][id]=4521&filter[entity][kind][]=note",
		"filter[entity][type]=deal&filter[entity][id]=3c90c3cc-0d44-4b50-8888-8dd25736052a",
		"%zz", "filter[size][from]=1e400", "limit=-1&cursor=x", "filter[created_by][]=" + string(make([]byte, 300)),
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw, now)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) == 0 {
				t.Fatalf("%q: %v is not an invalid-input error naming a field", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("%q: limit %d", raw, q.Limit)
		}
		again, err := ParseQuery(raw, now)
		if err != nil || again.Canonical() != q.Canonical() {
			t.Fatalf("%q: canonical form is not stable", raw)
		}
		// a cursor for this query decodes for it, and for no other account
		ctx, keys := context.Background(), testRing(now)
		c, _ := EncodeCursor(ctx, keys, "a", q.Canonical(), Position{SortKey: "s", ItemKey: "i"}, now)
		if p, err := DecodeCursor(ctx, keys, c, "a", q.Canonical(), now); err != nil || p.SortKey != "s" {
			t.Fatalf("%q: own cursor: %v", raw, err)
		}
		if _, err := DecodeCursor(ctx, keys, c, "b", q.Canonical(), now); err == nil {
			t.Fatalf("%q: cursor accepted for another account", raw)
		}
	})
}

// testRing is a cursor ring in memory.
func testRing(now time.Time) *keyring.Ring {
	return &keyring.Ring{Store: &keyring.Memory{}, Purpose: "cursor", Lifetime: CursorTTL, Clock: func() time.Time { return now }}
}

// FuzzDecodeCursor: arbitrary cursors are refused cleanly.
func FuzzDecodeCursor(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ctx, keys := context.Background(), testRing(now)
	seed, _ := EncodeCursor(ctx, keys, "a", "q", Position{SortKey: "s", ItemKey: "i"}, now)
	f.Add(seed)
	f.Add("")
	f.Add("eyJ9.x")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := DecodeCursor(ctx, keys, c, "a", "q", now)
		if err == nil {
			// only a cursor signed with the key decodes: re-signing its
			// position must give a cursor that decodes to the same place
			again, _ := EncodeCursor(ctx, keys, "a", "q", p, now)
			if q, err := DecodeCursor(ctx, keys, again, "a", "q", now); err != nil || q != p {
				t.Fatalf("%q decoded to %+v", c, p)
			}
			return
		}
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || len(e.Fields) == 0 || e.Fields[0].Field != "cursor" {
			t.Fatalf("%q: %v", c, err)
		}
	})
}

// TestSizeFilterNumbers: a size filter is a plain decimal; NaN, infinities,
// exponents, hex, signs and overflow are refused naming the field.
func TestSizeFilterNumbers(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, ok := range []string{"0", "1", "1.5", "1048576"} {
		if _, err := ParseQuery("filter[size][from]="+ok, now); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "Infinity", "1e3", "0x10", "-1", "+1", "1_000", " 1", "1.", ".5", "99999999999999999999",
		"5000000&filter[size][unit]=TB"} {
		_, err := ParseQuery("filter[size][from]="+bad, now)
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid || e.Fields[0].Field != "filter[size][from]" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
