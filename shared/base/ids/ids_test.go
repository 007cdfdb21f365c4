package ids

import (
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{
		Example: true, "3C90C3CC-0D44-4B50-8888-8DD25736052A": true,
		"": false, "3c90c3cc0d444b5088888dd25736052a": false, "{3c90c3cc-0d44-4b50-8888-8dd25736052a}": false,
		"urn:uuid:3c90c3cc-0d44-4b50-8888-8dd25736052a": false, "3c90c3cc-0d44-4b50-8888-8dd25736052g": false, "../etc": false,
	} {
		err := Check("id", v)
		if (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok %v", v, err, ok)
		}
		if e, is := apperr.As(err); err != nil && (!is || e.Fields[0].Field != "id") {
			t.Errorf("Check(%q) = %v, want a field error naming id", v, err)
		}
	}
}
