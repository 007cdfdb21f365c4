package catalog_test

import (
	"testing"

	"github.com/anexo/anexo/shared/domain/catalog"
)

// TestNextLimit: a page's first request reads its size plus one; later ones
// follow the filters' selectivity; PerCall and the budget cap every one.
func TestNextLimit(t *testing.T) {
	r := catalog.ListRequest{Need: 50, PerCall: 500, Budget: 1000}
	for _, c := range []struct {
		name                     string
		matched, evaluated, prev int
		want                     int
	}{
		{"first request", 0, 0, 0, 51},
		{"half matched so far", 20, 40, 51, 30*40*5/(20*4) + 1},
		{"nothing matched: four times", 0, 51, 51, 204},
		{"capped by PerCall", 0, 255, 204, 500},
		{"capped by the budget left", 1, 900, 500, 100},
		{"one to go", 49, 49, 51, 2},
	} {
		if got := r.NextLimit(c.matched, c.evaluated, c.prev); got != c.want {
			t.Errorf("%s: NextLimit(%d, %d, %d) = %d, want %d", c.name, c.matched, c.evaluated, c.prev, got, c.want)
		}
	}
	small := catalog.ListRequest{Need: 250, PerCall: 25, Budget: 60}
	if got := small.NextLimit(0, 0, 0); got != 25 {
		t.Errorf("small PerCall: %d", got)
	}
}
