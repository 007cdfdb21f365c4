package keyring

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrBadSeal is any sealed token that does not verify: malformed, altered,
// signed with an unknown, retired or expired key.
var ErrBadSeal = errors.New("keyring: the token does not verify")

// A sealed token is "<key id>.<payload>.<mac>", payload and mac base64url:
// the mac is HMAC-SHA256 under the key, over the label (which keeps a
// cursor from passing for a ticket), the key id and the payload.

func mac(secret []byte, label, id, payload string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label + "\x00" + id + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SealWith signs payload with k.
func SealWith(k Key, label string, payload []byte) string {
	body := base64.RawURLEncoding.EncodeToString(payload)
	return k.ID + "." + body + "." + mac(k.Secret, label, k.ID, body)
}

// Seal signs payload with the ring's signing key.
func (r *Ring) Seal(ctx context.Context, label string, payload []byte) (string, error) {
	k, err := r.Signing(ctx)
	if err != nil {
		return "", err
	}
	return SealWith(k, label, payload), nil
}

// Open verifies a sealed token and returns its payload; ErrBadSeal unless
// it verifies (storage errors are returned as they are).
func (r *Ring) Open(ctx context.Context, label, token string) ([]byte, error) {
	id, rest, ok := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || len(id) > 64 || len(token) > 4096 {
		return nil, ErrBadSeal
	}
	secret, valid, err := r.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !valid || !hmac.Equal([]byte(sig), []byte(mac(secret, label, id, body))) {
		return nil, ErrBadSeal
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, ErrBadSeal
	}
	return payload, nil
}
