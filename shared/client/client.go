// Package client is a Go client of Anexo's native API: the requests the CLI
// (and anyone embedding Anexo in a Go program) makes, with problem+json
// errors decoded into *Problem.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one Anexo endpoint with one token.
type Client struct {
	Endpoint string // e.g. https://abc.execute-api.us-east-1.amazonaws.com
	Token    string
	HTTP     *http.Client // nil: a client with a 60 s timeout
	// UserAgent is sent on every request.
	UserAgent string
	// ScanWait is how long a download waits for a new version's malware
	// verdict (409 scan_pending) before it gives up (0: 2 minutes).
	ScanWait time.Duration
}

// Problem is an API error (RFC 9457 problem document).
type Problem struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	Field     string `json:"field"`
	RequestID string `json:"request_id"`
	// Missing lists missing parts (code parts_missing).
	Missing []int `json:"missing_parts"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("%d %s", p.Status, p.Code)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// IsStatus reports whether err is a Problem with one of the statuses.
func IsStatus(err error, statuses ...int) bool {
	var p *Problem
	if !errors.As(err, &p) {
		return false
	}
	for _, s := range statuses {
		if p.Status == s {
			return true
		}
	}
	return false
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// noRedirect returns the client's transport without following redirects
// (downloads answer 302 to a presigned URL the caller fetches itself).
func (c *Client) noRedirect() *http.Client {
	h := *c.http()
	h.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &h
}

// Do sends a JSON request and decodes a JSON answer into out (nil: drop
// it). It returns the status; 4xx and 5xx become *Problem errors. 207 is
// not an error: the per-item results are in out. A 503 throttled answer
// (storage refusing writes this fast) is retried after its Retry-After,
// and API Gateway's 429 (a route's throttle; it sends no Retry-After)
// after a jittered, doubling wait, up to Throttled times: every Anexo
// write is safe to repeat.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	for attempt := 1; ; attempt++ {
		status, b, wait, err := c.do(ctx, method, path, body, in != nil)
		switch {
		case err != nil:
			return status, err
		case status == http.StatusTooManyRequests && attempt < Throttled:
			if wait < 0 {
				wait = backoff(attempt)
			}
			fallthrough
		case status == http.StatusServiceUnavailable && wait >= 0 && attempt < Throttled:
			select {
			case <-ctx.Done():
				return status, ctx.Err()
			case <-time.After(wait):
			}
			continue
		case status >= 400:
			return status, decodeProblem(status, b)
		}
		if out != nil && len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return status, fmt.Errorf("decode %s %s: %w", method, path, err)
			}
		}
		return status, nil
	}
}

// Throttled bounds the tries of a request answered 503 throttled or 429.
const Throttled = 4

// backoff is the wait before try attempt+1 after a 429: 250 ms doubling,
// each with up to as much again of jitter (clients throttled together do
// not come back together).
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << (attempt - 1)
	return d + rand.N(d)
}

// do sends one request: the status, the body, and the wait its Retry-After
// asks for (-1: none).
func (c *Client) do(ctx context.Context, method, path string, body []byte, isJSON bool) (int, []byte, time.Duration, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Endpoint, "/")+path, r)
	if err != nil {
		return 0, nil, 0, err
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(req, c.http())
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, nil, -1, err
	}
	return resp.StatusCode, b, retryAfter(resp.Header), nil
}

// retryAfter is the wait an answer's Retry-After asks for, at most 30 s
// (-1: none).
func retryAfter(h http.Header) time.Duration {
	if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && secs >= 0 {
		return min(time.Duration(secs)*time.Second, 30*time.Second)
	}
	return -1
}

func (c *Client) send(req *http.Request, h *http.Client) (*http.Response, error) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	return h.Do(req)
}

func decodeProblem(status int, b []byte) error {
	p := &Problem{}
	if json.Unmarshal(b, p) != nil || p.Code == "" {
		// API Gateway's own answers ({"message": "Unauthorized"}) and proxies
		var gw struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &gw)
		p = &Problem{Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Detail: gw.Message}
		switch {
		case status == http.StatusForbidden && gw.Message == "Forbidden":
			p.Detail = "the API refused the token: unknown, malformed, revoked or expired (API Gateway's 403 Forbidden)"
		case status == http.StatusUnauthorized && gw.Message == "Unauthorized":
			p.Detail = "no token sent: set Authorization (API Gateway's 401 Unauthorized)"
		}
		if p.Detail == "" {
			p.Detail = strings.TrimSpace(string(b))
		}
	}
	p.Status = status
	return p
}

// Part is a presigned part upload.
type Part struct {
	Number    int               `json:"part_number"`
	Size      int64             `json:"size"`
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Checksum is a whole-file checksum S3 verifies at completion. Opened
// with the algorithm alone, a session takes the value at completion.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value,omitempty"`
}

// Session is an upload session.
type Session struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	FileUUID    string    `json:"file_uuid"`
	VersionUUID string    `json:"version_uuid"`
	FileName    string    `json:"file_name"`
	FileSize    int64     `json:"file_size"`
	PartSize    int64     `json:"part_size"`
	PartCount   int       `json:"part_count"`
	Checksum    *Checksum `json:"checksum"`
	ExpiresAt   time.Time `json:"expires_at"`
	Parts       []Part    `json:"parts"`
}

// File is a catalogue file.
type File struct {
	UUID         string     `json:"uuid"`
	ID           int64      `json:"id"`
	VersionUUID  string     `json:"version_uuid"`
	Name         string     `json:"name"`
	Extension    string     `json:"extension"`
	Type         string     `json:"type"`
	MimeType     string     `json:"mime_type"`
	Size         int64      `json:"size"`
	VersionCount int64      `json:"version_count"`
	Source       string     `json:"source"`
	IsTrashed    bool       `json:"is_trashed"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	DeletedAt    *time.Time `json:"deleted_at"`
	PurgeAt      *time.Time `json:"purge_at"`
	CreatedBy    string     `json:"created_by"`
	Scan         Scan       `json:"scan"`
	Previews     []Preview  `json:"previews"`
}

// Preview is an image of a version: a JPEG at most Size pixels on its
// long edge, URL a link signed for a few minutes.
type Preview struct {
	Size   int    `json:"size"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Type   string `json:"type"`
	URL    string `json:"url"`
}

// Scan is a version's malware verdict: status pending, clean, infected,
// unsupported, failed or off. An infected version's bytes are erased at
// PurgeAt (PurgedAt once they were).
type Scan struct {
	Status    string     `json:"status"`
	ScannedAt *time.Time `json:"scanned_at"`
	Threats   []string   `json:"threats"`
	PurgeAt   *time.Time `json:"purge_at"`
	PurgedAt  *time.Time `json:"purged_at"`
}

// OpenInput opens a session.
type OpenInput struct {
	FileName    string     `json:"file_name"`
	FileSize    int64      `json:"file_size"`
	ContentType string     `json:"content_type,omitempty"`
	FileUUID    string     `json:"file_uuid,omitempty"`
	Checksum    *Checksum  `json:"checksum,omitempty"`
	Attach      []AttachTo `json:"attach,omitempty"`
}

// AttachTo is an entity a session attaches its file to at completion.
type AttachTo struct {
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
}

// Open opens an upload session.
func (c *Client) Open(ctx context.Context, in OpenInput) (Session, error) {
	var s Session
	_, err := c.Do(ctx, "POST", "/v1/sessions", in, &s)
	return s, err
}

// SignParts asks for presigned part URLs (checksums keyed by part number
// when the session verifies one).
func (c *Client) SignParts(ctx context.Context, id string, numbers []int, checksums map[int]string) ([]Part, error) {
	body := map[string]any{"part_numbers": numbers}
	if len(checksums) > 0 {
		m := map[string]string{}
		for n, v := range checksums {
			m[fmt.Sprint(n)] = v
		}
		body["checksums"] = m
	}
	var out struct {
		Parts []Part `json:"parts"`
	}
	_, err := c.Do(ctx, "POST", "/v1/sessions/"+url.PathEscape(id)+"/parts", body, &out)
	return out.Parts, err
}

// UploadedPart is a part S3 holds.
type UploadedPart struct {
	Number   int    `json:"part_number"`
	Size     int64  `json:"size"`
	ETag     string `json:"etag"`
	Checksum string `json:"checksum"` // the part's CRC S3 verified
}

// SessionState is what a client needs to resume.
type SessionState struct {
	Session  Session        `json:"session"`
	Uploaded []UploadedPart `json:"uploaded_parts"`
	Missing  []int          `json:"missing_parts"`
	Bytes    int64          `json:"bytes_uploaded"`
	File     *File          `json:"file"`
}

// State reads a session's state.
func (c *Client) State(ctx context.Context, id string) (SessionState, error) {
	var st SessionState
	_, err := c.Do(ctx, "GET", "/v1/sessions/"+url.PathEscape(id), nil, &st)
	return st, err
}

// Complete completes a session; sum is the whole file's checksum for a
// session opened with its algorithm alone (nil: the server combines the
// part checksums S3 verified).
func (c *Client) Complete(ctx context.Context, id string, sum *Checksum) (File, error) {
	var f File
	var body any
	if sum != nil {
		body = map[string]any{"checksum": sum}
	}
	_, err := c.Do(ctx, "POST", "/v1/sessions/"+url.PathEscape(id)+"/complete", body, &f)
	return f, err
}

// Abort aborts a session.
func (c *Client) Abort(ctx context.Context, id string) error {
	_, err := c.Do(ctx, "DELETE", "/v1/sessions/"+url.PathEscape(id), nil, nil)
	return err
}

// Get reads a file.
func (c *Client) Get(ctx context.Context, uuid string) (File, error) {
	var f File
	_, err := c.Do(ctx, "GET", "/v1/files/"+url.PathEscape(uuid), nil, &f)
	return f, err
}

// Page is one page of a listing.
type Page struct {
	Files []File
	Next  string
}

// List reads one page of GET /v1/files with a raw query (filters, limit).
func (c *Client) List(ctx context.Context, query url.Values, cursor string) (Page, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/v1/files"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Page struct {
			Next *string `json:"next_cursor"`
		} `json:"_page"`
		Embedded struct {
			Files []File `json:"files"`
		} `json:"_embedded"`
	}
	if _, err := c.Do(ctx, "GET", path, nil, &out); err != nil {
		return Page{}, err
	}
	p := Page{Files: out.Embedded.Files}
	if out.Page.Next != nil {
		p.Next = *out.Page.Next
	}
	return p, nil
}

// DownloadURL resolves a file's (or a version's) presigned GET URL.
func (c *Client) DownloadURL(ctx context.Context, uuid, versionUUID string) (string, error) {
	path := "/v1/files/" + url.PathEscape(uuid) + "/download"
	if versionUUID != "" {
		path += "?version_uuid=" + url.QueryEscape(versionUUID)
	}
	deadline := time.Now().Add(c.scanWait())
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.Endpoint, "/")+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := c.send(req, c.noRedirect())
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusFound:
			return resp.Header.Get("Location"), nil
		case resp.StatusCode < 400:
			return "", fmt.Errorf("download: unexpected status %d", resp.StatusCode)
		}
		err = decodeProblem(resp.StatusCode, b)
		var p *Problem
		if !errors.As(err, &p) || p.Code != "scan_pending" || !time.Now().Before(deadline) {
			return "", err
		}
		// the malware scan has not reported yet: wait as asked, then ask again
		wait := retryAfter(resp.Header)
		if wait <= 0 {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(min(wait, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// scanWait is how long a download waits for a pending malware scan.
func (c *Client) scanWait() time.Duration {
	if c.ScanWait > 0 {
		return c.ScanWait
	}
	return 2 * time.Minute
}

// ItemResult is one item of a batch answer (trash, restore, purge, attach).
type ItemResult struct {
	UUID   string   `json:"uuid"`
	Status string   `json:"status"`
	File   *File    `json:"file"`
	Error  *Problem `json:"error"`
}

// Batch runs trash (DELETE /v1/files), restore or purge on uuids.
func (c *Client) Batch(ctx context.Context, method, path string, uuids []string) ([]ItemResult, error) {
	body := make([]map[string]string, len(uuids))
	for i, u := range uuids {
		body[i] = map[string]string{"uuid": u}
	}
	var out struct {
		Embedded struct {
			Files []ItemResult `json:"files"`
		} `json:"_embedded"`
	}
	_, err := c.Do(ctx, method, path, body, &out)
	return out.Embedded.Files, err
}

// AttachSpec is one attachment of an attach or detach request.
type AttachSpec struct {
	FileUUID    string `json:"file_uuid"`
	Kind        string `json:"kind,omitempty"`
	NoteID      string `json:"note_id,omitempty"`
	FieldID     string `json:"field_id,omitempty"`
	VersionUUID string `json:"version_uuid,omitempty"`
}

// Attach attaches (method POST) or detaches (DELETE) files to an entity.
func (c *Client) Attach(ctx context.Context, method, entityType, entityID string, specs []AttachSpec) ([]ItemResult, error) {
	var out struct {
		Embedded struct {
			Attachments []struct {
				Attachment struct {
					FileUUID string `json:"file_uuid"`
				} `json:"attachment"`
				Status string   `json:"status"`
				File   *File    `json:"file"`
				Error  *Problem `json:"error"`
			} `json:"attachments"`
		} `json:"_embedded"`
	}
	_, err := c.Do(ctx, method, "/v1/entities/"+url.PathEscape(entityType)+"/"+url.PathEscape(entityID)+"/files",
		map[string]any{"files": specs}, &out)
	res := make([]ItemResult, len(out.Embedded.Attachments))
	for i, a := range out.Embedded.Attachments {
		res[i] = ItemResult{UUID: a.Attachment.FileUUID, Status: a.Status, File: a.File, Error: a.Error}
	}
	return res, err
}

// Event is one event of the account's feed.
type Event struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// EventsQuery asks for a page of the feed.
type EventsQuery struct {
	After string    // a cursor from the previous page
	Since time.Time // without After: events at or after this time
	Types []string
	Limit int
}

// Events reads a page of the account's events and the cursor to read on
// from (files:read).
func (c *Client) Events(ctx context.Context, q EventsQuery) ([]Event, string, error) {
	v := url.Values{}
	if q.After != "" {
		v.Set("after", q.After)
	} else if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	for _, t := range q.Types {
		v.Add("type[]", t)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Page struct {
			Next string `json:"next_cursor"`
		} `json:"_page"`
		Embedded struct {
			Events []Event `json:"events"`
		} `json:"_embedded"`
	}
	path := "/v1/events"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	_, err := c.Do(ctx, "GET", path, nil, &out)
	return out.Embedded.Events, out.Page.Next, err
}
