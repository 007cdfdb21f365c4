// Package presigned sends what a client sends to presigned S3 URLs: a PUT
// of a part or object with its signed headers and exact length, a GET. The
// conformance suites and end-to-end tests use it, without the emulators.
package presigned

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/anexo/anexo/shared/base/readbody"
)

// Put sends body to a presigned URL with its signed headers, returning
// the status and ETag.
func Put(ctx context.Context, url string, headers map[string]string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

// Get downloads a URL.
func Get(ctx context.Context, url string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := readbody.All(resp.Body, resp.ContentLength)
	return resp.StatusCode, resp.Header, b, err
}

// PostForm uploads as a browser form does (Uppy's putObject): the fields
// of a presigned POST, then the file; it returns the status and body.
func PostForm(ctx context.Context, action string, fields map[string]string, name string, data []byte) (int, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			return 0, "", err
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, &buf)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
