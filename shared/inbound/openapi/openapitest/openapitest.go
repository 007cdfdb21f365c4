// Package openapitest checks handler responses against the OpenAPI
// document in tests (pb33f's libopenapi-validator: OpenAPI 3.1, JSON Schema
// 2020-12). It stays out of the Lambda binaries.
package openapitest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/anexo/anexo/shared/inbound/openapi"
)

var (
	once   sync.Once
	shared validator.Validator
	errs   []error
)

// Validator returns the document's validator, failing t if the document
// itself is invalid.
func Validator(t testing.TB) validator.Validator {
	t.Helper()
	once.Do(func() {
		doc, err := libopenapi.NewDocument(openapi.YAML)
		if err != nil {
			errs = append(errs, err)
			return
		}
		v, es := validator.NewValidator(doc)
		errs = append(errs, es...)
		if len(es) == 0 {
			if ok, verrs := v.ValidateDocument(); !ok {
				for _, e := range verrs {
					errs = append(errs, fmt.Errorf("%s: %s", e.Message, e.Reason))
				}
			}
		}
		shared = v
	})
	if len(errs) > 0 {
		t.Fatalf("openapi.yaml: %v", errs)
	}
	return shared
}

// Checker collects responses that do not match the document.
type Checker struct {
	v        validator.Validator
	mu       sync.Mutex
	failures []string
	checked  int
}

// New returns a checker that fails t at cleanup when any response checked
// did not validate.
func New(t testing.TB) *Checker {
	t.Helper()
	c := &Checker{v: Validator(t)}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.failures {
			t.Error(f)
		}
	})
	return c
}

// Observe validates one function response to request r (the local
// router's Observe hook).
func (c *Checker) Observe(r *http.Request, resp events.APIGatewayV2HTTPResponse) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		body, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	hr := &http.Response{StatusCode: resp.StatusCode, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	req := r.Clone(r.Context())
	req.Body = http.NoBody
	ok, verrs := c.v.ValidateHttpResponse(req, hr)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	if ok {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %d does not match openapi.yaml:", r.Method, r.URL.Path, resp.StatusCode)
	for _, e := range verrs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s at %s (%s)", se.Reason, se.FieldPath, se.KeywordLocation)
		}
	}
	if len(body) > 600 {
		body = body[:600]
	}
	fmt.Fprintf(&b, "\n  body: %s", body)
	c.failures = append(c.failures, b.String())
}

// Checked is how many responses were validated.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}
