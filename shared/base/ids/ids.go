// Package ids checks the UUIDs that name Anexo's records (files, versions,
// sessions, batches, tokens, entities) where they arrive from outside: in a
// path, a query or a body.
package ids

import (
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
)

// Example is the UUID error messages show.
const Example = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

// Valid reports whether v is a UUID in its canonical 36-character form.
func Valid(v string) bool {
	_, err := uuid.Parse(v)
	return err == nil && len(v) == 36
}

// Check is Valid as an error naming the field.
func Check(field, v string) error {
	if !Valid(v) {
		return apperr.Invalid(field, "must be a UUID like "+Example)
	}
	return nil
}
