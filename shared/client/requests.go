package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Slot is a document a file request asks for.
type Slot struct {
	Name     string   `json:"name"`
	Required bool     `json:"required"`
	Accept   []string `json:"accept,omitempty"`
	MaxSize  int64    `json:"max_size,omitempty"`
	MaxFiles int      `json:"max_files,omitempty"`
	Received int      `json:"received,omitempty"` // files it holds (answers only)
}

// Uploader is who sent a received file, as they said.
type Uploader struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Receipt is a file a request received.
type Receipt struct {
	Slot        string    `json:"slot"`
	FileUUID    string    `json:"file_uuid"`
	VersionUUID string    `json:"version_uuid"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	Uploader    Uploader  `json:"uploader"`
	ReceivedAt  time.Time `json:"received_at"`
	Status      string    `json:"status"`
}

// FileRequest is a file request as its account sees it.
type FileRequest struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Title  string `json:"title"`
	Entity struct {
		Type  string `json:"type"`
		UUID  string `json:"uuid"`
		Code  int64  `json:"code"`
		Title string `json:"title"`
	} `json:"entity"`
	Slots         []Slot     `json:"slots"`
	MaxFiles      int        `json:"max_files"`
	MaxBytes      int64      `json:"max_bytes"`
	ReceivedBytes int64      `json:"received_bytes"`
	Received      []Receipt  `json:"received"`
	Passcode      bool       `json:"passcode"`
	ExpiresAt     time.Time  `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	FulfilledAt   *time.Time `json:"fulfilled_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
}

// RequestEntity names the entity a request fills: its type and its UUID
// or the CRM's numeric code.
type RequestEntity struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NewFileRequest describes a request to make.
type NewFileRequest struct {
	Entity    RequestEntity `json:"entity"`
	Title     string        `json:"title"`
	Message   string        `json:"message,omitempty"`
	Slots     []Slot        `json:"slots,omitempty"`
	MaxFiles  int           `json:"max_files,omitempty"`
	MaxBytes  int64         `json:"max_bytes,omitempty"`
	ExpiresIn int64         `json:"expires_in,omitempty"` // seconds
	Passcode  string        `json:"passcode,omitempty"`
}

// Link is a request's link: its secret and the page's URL with it
// (empty when the deployment names no page). Answered once.
type Link struct {
	Secret string `json:"secret"`
	URL    string `json:"url"`
}

type requestWithLink struct {
	FileRequest FileRequest `json:"file_request"`
	Link        struct {
		Secret string  `json:"secret"`
		URL    *string `json:"url"`
	} `json:"link"`
}

func (r requestWithLink) split() (FileRequest, Link) {
	l := Link{Secret: r.Link.Secret}
	if r.Link.URL != nil {
		l.URL = *r.Link.URL
	}
	return r.FileRequest, l
}

// CreateFileRequest makes a file request (requests:admin) and returns it
// with its link.
func (c *Client) CreateFileRequest(ctx context.Context, in NewFileRequest) (FileRequest, Link, error) {
	var out requestWithLink
	_, err := c.Do(ctx, http.MethodPost, "/v1/file-requests", in, &out)
	r, l := out.split()
	return r, l, err
}

// FileRequests lists the account's requests, newest first, every page
// (status: open, fulfilled, expired or revoked; "" for all).
func (c *Client) FileRequests(ctx context.Context, status string) ([]FileRequest, error) {
	var all []FileRequest
	q := url.Values{"limit": {"100"}}
	if status != "" {
		q.Set("status", status)
	}
	for {
		var page struct {
			Page struct {
				Next *string `json:"next_cursor"`
			} `json:"_page"`
			Embedded struct {
				Requests []FileRequest `json:"file_requests"`
			} `json:"_embedded"`
		}
		if _, err := c.Do(ctx, http.MethodGet, "/v1/file-requests?"+q.Encode(), nil, &page); err != nil {
			return all, err
		}
		all = append(all, page.Embedded.Requests...)
		if page.Page.Next == nil {
			return all, nil
		}
		q.Set("after", *page.Page.Next)
	}
}

// GetFileRequest reads one request.
func (c *Client) GetFileRequest(ctx context.Context, id string) (FileRequest, error) {
	var out FileRequest
	_, err := c.Do(ctx, http.MethodGet, "/v1/file-requests/"+url.PathEscape(id), nil, &out)
	return out, err
}

// RevokeFileRequest withdraws a request: its link stops working.
func (c *Client) RevokeFileRequest(ctx context.Context, id string) (FileRequest, error) {
	var out FileRequest
	_, err := c.Do(ctx, http.MethodPost, "/v1/file-requests/"+url.PathEscape(id)+"/revoke", nil, &out)
	return out, err
}

// RelinkFileRequest gives a request a new link; the old one stops working.
func (c *Client) RelinkFileRequest(ctx context.Context, id string) (FileRequest, Link, error) {
	var out requestWithLink
	_, err := c.Do(ctx, http.MethodPost, "/v1/file-requests/"+url.PathEscape(id)+"/link", nil, &out)
	r, l := out.split()
	return r, l, err
}
