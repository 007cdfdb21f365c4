package batches_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// crashOnce fails the first CommitBatch: the process died after storing
// the objects and before the transaction.
type crashOnce struct {
	*memory.Store
	crashed bool
}

func (c *crashOnce) CommitBatch(ctx context.Context, b batches.Batch, now time.Time, rec *outbox.Record) error {
	if !c.crashed {
		c.crashed = true
		return errors.New("the process died")
	}
	return c.Store.CommitBatch(ctx, b, now, rec)
}

// store is the memory store, or a wrapper of it that fails a step.
type store interface {
	batches.Store
	entities.Store
	PutAccount(ctx context.Context, a auth.Account) error
}

// newService is batches on st and blobs, for a new account whose token
// may do everything, with its lead 7.
func newService(t *testing.T, st store, blobs *memory.Blobs, clock func() time.Time) (*batches.Service, auth.Principal, entities.Ref) {
	t.Helper()
	ctx := context.Background()
	ents := &entities.Service{Store: st, Clock: clock}
	p := auth.Principal{AccountID: uuid.NewString(), Name: "crm", Scopes: auth.AllScopes}
	if err := st.PutAccount(ctx, auth.Account{ID: p.AccountID, Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	lead := entities.Ref{Type: entities.Lead, Code: 7}
	if _, _, err := ents.Upsert(ctx, p, lead, entities.UpsertInput{}); err != nil {
		t.Fatal(err)
	}
	return &batches.Service{Store: st, Blobs: blobs, Entities: ents, Clock: clock}, p, lead
}

// lostAnswer writes the first PutPending and reports a conflict: its
// answer was lost and the SDK's retry found the item it had written.
type lostAnswer struct {
	*memory.Store
	lost bool
}

func (l *lostAnswer) PutPending(ctx context.Context, b batches.Batch) error {
	if err := l.Store.PutPending(ctx, b); err != nil || l.lost {
		return err
	}
	l.lost = true
	return apperr.ErrConflict
}

// TestPendingWriteRetried: a pending record refused as existing because
// this very attempt wrote it (or another with the key did) is taken up,
// not refused: the batch completes once, with the recorded plan.
func TestPendingWriteRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &lostAnswer{Store: &memory.Store{}}
	svc, p, lead := newService(t, st, &memory.Blobs{}, time.Now)
	in := batches.Input{Target: lead, TargetField: "lead_code", IdempotencyKey: "k",
		Files: []batches.Upload{{Field: "files", Name: "a.txt", ContentType: "text/plain", Data: []byte("alpha")}}}
	b, created, err := svc.Create(ctx, p, in)
	if err != nil || !created || b.Status != batches.StatusCompleted || !st.lost {
		t.Fatalf("Create = %+v %v %v", b, created, err)
	}
	if u, _ := st.Usage(ctx, p.AccountID); u.UsedBytes != 5 || u.FileCount != 1 {
		t.Fatalf("usage = %+v", u)
	}
}

// TestBatchesOnMemory: a batch records its files attached to the target
// all at once; a retry with its idempotency key after a crash finishes the
// same batch; the same key with another request is refused; a crashed
// batch without a key is swept, bytes and all, after its window.
func TestBatchesOnMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &crashOnce{Store: &memory.Store{}}
	blobs := &memory.Blobs{}
	svc, p, lead := newService(t, st, blobs, clock)
	in := batches.Input{Target: lead, TargetField: "lead_code", IdempotencyKey: "k1",
		Files: []batches.Upload{{Field: "files", Name: "a.txt", ContentType: "text/plain", Data: []byte("alpha")},
			{Field: "files", Name: "b.txt", ContentType: "text/plain", Data: []byte("bravo")}}}
	if _, _, err := svc.Create(ctx, p, in); err == nil {
		t.Fatal("the crashed attempt succeeded")
	}
	b, _, err := svc.Create(ctx, p, in)
	if err != nil || b.Status != batches.StatusCompleted || len(b.Items) != 2 {
		t.Fatalf("the retry = %+v %v", b, err)
	}
	again, created, err := svc.Create(ctx, p, in)
	if err != nil || created || again.ID != b.ID {
		t.Fatalf("the same request again = %+v %v %v", again, created, err)
	}
	for _, it := range b.Items {
		if head, err := blobs.Head(ctx, it.Version.Key); err != nil || head.VersionID != it.Version.S3Version || head.Size != 5 {
			t.Fatalf("%s: object %+v %v, recorded %s", it.File.Name, head, err, it.Version.S3Version)
		}
		if vs, _ := blobs.Versions(ctx, it.Version.Key); len(vs) != 1 {
			t.Fatalf("%s has %d object versions after a retry, want 1", it.File.Name, len(vs))
		}
	}
	if u, _ := st.Usage(ctx, p.AccountID); u.UsedBytes != 10 || u.FileCount != 2 {
		t.Fatalf("usage = %+v", u)
	}
	other := in
	other.Files = other.Files[:1]
	if _, _, err := svc.Create(ctx, p, other); apperr.KindOf(err) != apperr.KindUnprocessable {
		t.Fatalf("the key with another request: %v, want idempotency_key_reused", err)
	}

	st.crashed = false
	lost := in
	lost.IdempotencyKey = ""
	if _, _, err := svc.Create(ctx, p, lost); err == nil {
		t.Fatal("the crashed attempt succeeded")
	}
	if n, err := svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep inside the window = %d %v", n, err)
	}
	now = now.Add(batches.Window + 5*time.Minute)
	if n, err := svc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("a sweep after the window = %d %v", n, err)
	}
	if u, _ := st.Usage(ctx, p.AccountID); u.UsedBytes != 10 || u.FileCount != 2 {
		t.Fatalf("usage after the sweep = %+v", u)
	}
}
