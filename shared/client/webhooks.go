package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Webhook is a webhook as the API shows it (never its secret).
type Webhook struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Description    string     `json:"description"`
	Types          []string   `json:"types"`
	Enabled        bool       `json:"enabled"`
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	FailingSince   *time.Time `json:"failing_since"`
	PreviousUntil  *time.Time `json:"previous_secret_valid_until"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// NewWebhook registers an endpoint; no Types: every event.
type NewWebhook struct {
	URL         string   `json:"url"`
	Types       []string `json:"types,omitempty"`
	Description string   `json:"description,omitempty"`
}

// Attempt is one delivery attempt.
type Attempt struct {
	At        time.Time `json:"at"`
	Status    *int      `json:"status"`
	LatencyMS int64     `json:"latency_ms"`
	Response  string    `json:"response"`
	Error     *string   `json:"error"`
}

// Delivery is one event's delivery to a webhook.
type Delivery struct {
	ID        string    `json:"id"`
	EventType string    `json:"event_type"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Attempts  []Attempt `json:"attempts"`
}

// Webhooks lists the account's webhooks (webhooks:admin).
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	_, err := c.Do(ctx, http.MethodGet, "/v1/webhooks", nil, &out)
	return out.Webhooks, err
}

// CreateWebhook registers an endpoint and returns it with its signing
// secret (shown this once).
func (c *Client) CreateWebhook(ctx context.Context, in NewWebhook) (Webhook, string, error) {
	var out struct {
		Webhook Webhook `json:"webhook"`
		Secret  string  `json:"secret"`
	}
	_, err := c.Do(ctx, http.MethodPost, "/v1/webhooks", in, &out)
	return out.Webhook, out.Secret, err
}

// DeleteWebhook removes a webhook.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), nil, nil)
	return err
}

// TestWebhook sends a webhook.test event now and returns the delivery.
func (c *Client) TestWebhook(ctx context.Context, id string) (Delivery, error) {
	var out Delivery
	_, err := c.Do(ctx, http.MethodPost, "/v1/webhooks/"+url.PathEscape(id)+"/test", nil, &out)
	return out, err
}
