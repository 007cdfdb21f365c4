package local_test

import (
	"context"
	"strings"
	"testing"

	apiclient "github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/load"
	"github.com/anexo/anexo/shared/testenv"
)

// TestSoak runs thousands of mixed operations (shared/load: uploads,
// versions, listings with cursors, reads, downloads compared byte for byte,
// trash, restore, attach, usage) from 8 concurrent workers against the
// local server on the embedded emulators — what `make run` serves — and
// asserts zero failed requests (no 5xx, no unexpected 4xx) and usage
// counters equal to the files' sizes at the end.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: long")
	}
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	rep, err := load.Run(context.Background(), load.Config{
		Client: &apiclient.Client{Endpoint: c.base, Token: c.token},
		Ops:    2500, Concurrency: 8, MaxFileSize: 32 << 10, Seed: 7, Dir: t.TempDir(),
	})
	var out strings.Builder
	rep.Write(&out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.ServerErrors(); n != 0 || !rep.OK() {
		t.Fatalf("%d 5xx; failures %v; usage want %+v got %+v", n, rep.Failures, rep.Usage.Want, rep.Usage.Got)
	}
	for op, s := range rep.Ops {
		if s.Count == 0 {
			t.Errorf("the mix never ran %s", op)
		}
	}
}
