package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Position is where a page ended, in the store's own sort keys (opaque to
// clients: it travels only inside a signed cursor).
type Position struct {
	SortKey string `json:"s"`
	ItemKey string `json:"i"`
}

// CursorTTL bounds how long a cursor can be replayed.
const CursorTTL = 24 * time.Hour

type cursorBody struct {
	V int      `json:"v"`
	A string   `json:"a"` // account
	Q string   `json:"q"` // hash of the canonical query
	P Position `json:"p"`
	E int64    `json:"e"` // expiry, Unix seconds
}

func queryHash(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// cursorLabel keeps a cursor from passing for anything else the ring signs.
const cursorLabel = "anexo-cursor"

// EncodeCursor signs a position for one account and query.
func EncodeCursor(ctx context.Context, keys *keyring.Ring, account, canonical string, p Position, now time.Time) (string, error) {
	b, _ := json.Marshal(cursorBody{V: 1, A: account, Q: queryHash(canonical), P: p, E: now.Add(CursorTTL).Unix()})
	return keys.Seal(ctx, cursorLabel, b)
}

func badCursor(code, detail string) error {
	e := apperr.New(apperr.KindInvalid, code, detail)
	e.Fields = []apperr.FieldError{{Field: "cursor", Detail: detail}}
	return e
}

// DecodeCursor verifies a cursor: authentic, of this account, of this
// query, not expired.
func DecodeCursor(ctx context.Context, keys *keyring.Ring, cursor, account, canonical string, now time.Time) (Position, error) {
	raw, err := keys.Open(ctx, cursorLabel, cursor)
	if errors.Is(err, keyring.ErrBadSeal) {
		return Position{}, badCursor("invalid_cursor", "the cursor is malformed, was altered or its signing key was retired; use the one a previous page returned")
	}
	if err != nil {
		return Position{}, err
	}
	var c cursorBody
	if json.Unmarshal(raw, &c) != nil || c.V != 1 {
		return Position{}, badCursor("invalid_cursor", "the cursor is malformed")
	}
	switch {
	case c.A != account:
		return Position{}, badCursor("invalid_cursor", "the cursor was issued to another account")
	case c.Q != queryHash(canonical):
		return Position{}, badCursor("cursor_query_mismatch", "the cursor belongs to a different query: keep every filter and the order as on the first page")
	case now.Unix() > c.E:
		return Position{}, badCursor("cursor_expired", "the cursor expired; list again from the first page")
	}
	return c.P, nil
}
