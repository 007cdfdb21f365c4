package entities_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// TestDirectoryAndAttachments: entities referenced by code are registered
// once, attach reports each file's outcome (attached, already attached,
// trashed, missing) without failing the others, and detach and usages
// agree — on the memory store, which the conformance suite holds to the
// table's rules.
func TestDirectoryAndAttachments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &memory.Store{}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	svc := &entities.Service{Store: st, Clock: func() time.Time { return now }}
	p := auth.Principal{AccountID: uuid.NewString(), Name: "crm", Scopes: auth.AllScopes}
	if err := st.PutAccount(ctx, auth.Account{ID: p.AccountID, Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	add := func(id int64) files.File {
		f := files.File{AccountID: p.AccountID, UUID: uuid.NewString(), ID: id, VersionUUID: uuid.NewString(), Name: "f.txt",
			Size: 1, TotalBytes: 1, VersionCount: 1, CreatedAt: now}
		if err := st.AddFile(f, files.Version{AccountID: p.AccountID, FileUUID: f.UUID, UUID: f.VersionUUID, Size: 1}); err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, trashed := add(1), add(2)
	if err := st.TrashFile(ctx, trashed, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	title := "Acme"
	lead := entities.Ref{Type: entities.Lead, Code: 42}
	e, created, err := svc.Upsert(ctx, p, lead, entities.UpsertInput{Title: &title})
	if err != nil || !created || e.Code != 42 || e.Title != "Acme" {
		t.Fatalf("Upsert = %+v %v %v", e, created, err)
	}
	if again, created, err := svc.Upsert(ctx, p, lead, entities.UpsertInput{Title: &title}); err != nil || created || again.UUID != e.UUID {
		t.Fatalf("the same upsert again = %+v %v %v", again, created, err)
	}
	specs := []entities.Spec{{FileUUID: a.UUID}, {FileUUID: trashed.UUID}, {FileUUID: uuid.NewString()}}
	_, res, err := svc.Attach(ctx, p, lead, specs)
	if err != nil || len(res) != 3 || res[0].Status != "attached" || res[0].Err != nil ||
		apperr.KindOf(res[1].Err) != apperr.KindConflict ||
		apperr.KindOf(res[2].Err) != apperr.KindNotFound {
		t.Fatalf("Attach = %+v %v", res, err)
	}
	if _, res, _ := svc.Attach(ctx, p, lead, specs[:1]); res[0].Status != "already_attached" {
		t.Fatalf("attaching twice = %+v", res)
	}
	if _, us, err := svc.Usages(ctx, p, a.UUID); err != nil || len(us) != 1 || us[0].Entity.UUID != e.UUID {
		t.Fatalf("Usages = %+v %v", us, err)
	}
	if _, res, err := svc.Detach(ctx, p, lead, specs[:1]); err != nil || res[0].Status != "detached" {
		t.Fatalf("Detach = %+v %v", res, err)
	}
	if _, res, _ := svc.Detach(ctx, p, lead, specs[:1]); res[0].Status != "not_attached" {
		t.Fatalf("detaching twice = %+v", res)
	}
	other := auth.Principal{AccountID: uuid.NewString(), Scopes: auth.AllScopes}
	if _, err := svc.Get(ctx, other, entities.Ref{Type: entities.Lead, UUID: e.UUID}); apperr.KindOf(err) != apperr.KindNotFound {
		t.Fatalf("another account's entity: %v", err)
	}
}
