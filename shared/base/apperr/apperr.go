// Package apperr holds the error vocabulary shared by the domain, the
// adapters and the HTTP layer. The domain returns these; the API maps them to
// problem+json in exactly one place (shared/inbound/httpapi).
package apperr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind classifies an error for the transport layer.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindGone
	KindTooLarge
	KindUnprocessable
	KindQuota
	KindUnavailable
	// KindTooMany: the caller must wait before trying again (429).
	KindTooMany
)

// FieldError names one invalid input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error is a classified, client-presentable error.
type Error struct {
	Kind   Kind
	Code   string // stable machine code, e.g. "session_expired"
	Detail string // human sentence
	Fields []FieldError
	Extra  map[string]any // extension members of the problem document
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, " [%s: %s]", f.Field, f.Detail)
	}
	return b.String()
}

// New builds a classified error.
func New(kind Kind, code, detail string) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail}
}

// With adds an extension member and returns e.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

// Invalid reports one bad field.
func Invalid(field, detail string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_request", Detail: field + ": " + detail,
		Fields: []FieldError{{Field: field, Detail: detail}}}
}

// Fields collects field errors; Err returns nil when nothing was added.
type Fields []FieldError

// Add records a problem with a field.
func (f *Fields) Add(field, detail string) { *f = append(*f, FieldError{Field: field, Detail: detail}) }

// AddErr records the field problems of a validation error (nil: none).
func (f *Fields) AddErr(err error) {
	if e, ok := As(err); ok {
		*f = append(*f, e.Fields...)
	}
}

// Count adds an error when a batch of n items is empty or over max;
// what names the items ("files", "file ids").
func (f *Fields) Count(field string, n, max int, what, empty string) {
	switch {
	case n == 0:
		f.Add(field, empty)
	case n > max:
		f.Add(field, "at most "+strconv.Itoa(max)+" "+what+" per request")
	}
}

// Err returns the collected errors as one invalid-request error, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	detail := f[0].Field + ": " + f[0].Detail
	if len(f) > 1 {
		detail = fmt.Sprintf("%s (and %d more)", detail, len(f)-1)
	}
	return &Error{Kind: KindInvalid, Code: "invalid_request", Detail: detail, Fields: f}
}

// As extracts an *Error.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns the kind of err (KindInternal when unclassified).
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return KindInternal
}

// Sentinels returned by adapters; services translate them into *Error with
// context a client can act on.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("condition failed")
	ErrNoSuchUpload = errors.New("no such multipart upload")
	ErrBadDigest    = errors.New("checksum mismatch")
	ErrInvalidPart  = errors.New("invalid part")
	ErrQuota        = errors.New("quota exceeded")
	// ErrThrottled: the store refused the write for now (a key past its
	// write rate, transactions on one item that kept conflicting); the
	// request is safe to retry after a moment.
	ErrThrottled = errors.New("throttled")
)
