package console_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/platform/devserver"
)

// requestLinks are the links the request page's run opens.
type requestLinks struct {
	Link, Expired, Revoked string
	Deal                   string // the deal's UUID
	ID                     string // the request's
}

const passcode = "segredo-1"

// makeRequests makes, before the console's run revokes its token, a
// request for deal 9001 (two required slots, a passcode), a revoked one
// and one whose expiry passed (written as the store keeps it: the API
// makes none shorter than an hour), and the files the page sends.
func makeRequests(ctx context.Context, t *testing.T, srv *devserver.Server, acct, token, work string) requestLinks {
	t.Helper()
	api := &client.Client{Endpoint: srv.URL, Token: token}
	if _, err := api.Do(ctx, "PUT", "/v1/entities/deal/9001", map[string]any{"title": "Venda apto 302"}, nil); err != nil {
		t.Fatal(err)
	}
	fr, link, err := api.CreateFileRequest(ctx, client.NewFileRequest{Entity: client.RequestEntity{Type: "deal", ID: "9001"},
		Title: "Documentos para a venda", Message: "Olá Maria,\nenvie os documentos abaixo.", Passcode: passcode,
		Slots: []client.Slot{{Name: "RG", Required: true, Accept: []string{".pdf", "image/*"}, MaxSize: 1 << 20},
			{Name: "Comprovante de residência", Required: true, Accept: []string{".pdf"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link.URL, srv.URL+"/request.html#anr_") {
		t.Fatalf("a request's link: %+v", link)
	}
	rv, rvLink, err := api.CreateFileRequest(ctx, client.NewFileRequest{Entity: client.RequestEntity{Type: "deal", ID: "9001"}, Title: "Antigo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.RevokeFileRequest(ctx, rv.ID); err != nil {
		t.Fatal(err)
	}
	secret := "anr_" + strings.Repeat("e", 43)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	old := requests.Request{AccountID: acct, ID: uuid.NewString(), Title: "Vencido", MaxFiles: 1, MaxBytes: 1 << 20,
		Target:    requests.Target{Entity: entities.Ref{Type: entities.Deal, UUID: fr.Entity.UUID, Code: 9001}, Kind: entities.KindMedia},
		ExpiresAt: past, LinkHash: requests.HashLink(secret), CreatedAt: past.Add(-time.Hour)}
	if err := srv.Deps.Store().CreateRequest(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	files := map[string]int{"rg.pdf": 40 << 10, "foto-grande.jpg": 2 << 20, "programa.exe": 1 << 10, "comprovante.pdf": 21<<20 + 7}
	for name, n := range files {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(work, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return requestLinks{Link: link.URL, Revoked: rvLink.URL, Expired: srv.URL + "/request.html#" + secret, Deal: fr.Entity.UUID, ID: fr.ID}
}

// requestPage runs test/request.mjs, then checks what the request holds
// and the events it made.
func requestPage(ctx context.Context, t *testing.T, chromium, base, checker, shots, work string, l requestLinks) {
	t.Helper()
	drive(ctx, t, "request.mjs", shots, []string{"request-expired", "request-passcode", "request", "request-refused", "request-fulfilled", "request-pt-BR"},
		"CHROMIUM="+chromium, "ANEXO_URL="+base, "ANEXO_TOKEN="+checker, "SHOTS="+shots, "WORK="+work,
		"LINK="+l.Link, "PASSCODE="+passcode, "EXPIRED="+l.Expired, "REVOKED="+l.Revoked, "DEAL="+l.Deal)
	// the events of the request: both files received, then fulfilled
	api := &client.Client{Endpoint: base, Token: checker}
	count := map[string]int{}
	for range 100 {
		evs, _, err := api.Events(ctx, client.EventsQuery{Types: []string{"file_request.file_received", "file_request.fulfilled"}})
		if err != nil {
			t.Fatal(err)
		}
		count = map[string]int{}
		for _, e := range evs {
			count[e.Type]++
		}
		if count["file_request.fulfilled"] == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if count["file_request.file_received"] != 2 || count["file_request.fulfilled"] != 1 {
		t.Fatalf("the request's events: %v", count)
	}
}
