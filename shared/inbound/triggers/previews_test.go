package triggers_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/inbound/triggers"
)

type renders struct{ got []string }

func (r *renders) Render(_ context.Context, account, file, version string) (previews.Outcome, error) {
	r.got = append(r.got, account+" "+file+" "+version)
	return previews.Rendered, nil
}

// TestPreviewsTrigger: the bus's event (events/previews) renders the
// version it is about — data.version when it has one, else the file's
// main version; other types are ignored; an event without its file fails
// (to the failure destination).
func TestPreviewsTrigger(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "previews", "file-scanned.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	r := &renders{}
	h := triggers.Previews(slog.New(slog.DiscardHandler), r)
	ctx := context.Background()
	if err := h(ctx, ev); err != nil {
		t.Fatal(err)
	}
	created := ev
	created.DetailType = "file.created"
	created.Detail = json.RawMessage(`{"account_id":"a","data":{"file":{"uuid":"f","version_uuid":"v-main"}}}`)
	if err := h(ctx, created); err != nil {
		t.Fatal(err)
	}
	other := ev
	other.DetailType = "file.trashed"
	if err := h(ctx, other); err != nil {
		t.Fatal(err)
	}
	want := []string{"00000000-0000-4000-8000-000000000001 01a24d98-a47f-76da-a32b-ce7b17b54d47 01a24d98-a47e-7a99-b14e-b8a8d34a8071", "a f v-main"}
	if len(r.got) != 2 || r.got[0] != want[0] || r.got[1] != want[1] {
		t.Fatalf("rendered %q, want %q", r.got, want)
	}
	broken := ev
	broken.Detail = json.RawMessage(`{"data":{}}`)
	if err := h(ctx, broken); err == nil {
		t.Fatal("an event without its file was taken")
	}
}
