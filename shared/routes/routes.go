// Package routes is the single list of HTTP API routes: the local router
// serves it, the CDK stack deploys it, and tests check both against it.
package routes

import "github.com/anexo/anexo/shared/auth"

// Lambda function names (folders under functions/).
const (
	FnAuthorizer       = "authorizer"
	FnSessionsOpen     = "sessions-open"
	FnSessionsParts    = "sessions-parts"
	FnSessionsComplete = "sessions-complete"
	FnFiles            = "files"
	FnAttachments      = "attachments"
	FnBatches          = "batches"   // Wegly batch uploads: bytes pass through Lambda
	FnTokens           = "tokens"    // the account's tokens (tokens:admin)
	FnCompanion        = "companion" // Uppy's companion routes under upload tickets
	FnSweeper          = "sweeper"   // scheduled: purges trashed files past their window
	FnRecorder         = "recorder"  // S3 ObjectCreated:Post: records browser form uploads
)

// Background lists functions run by a schedule or an event rather than by
// routes.
var Background = []string{FnSweeper, FnRecorder}

// Route is one API Gateway route.
type Route struct {
	Method   string
	Path     string // API Gateway syntax: /v1/sessions/{id}
	Function string
	// Scope is what the caller's token must carry; the HTTP layer checks
	// it before the route runs. Empty only for public routes.
	Scope  auth.Scope
	Public bool // no authorizer: no token (the companion routes carry a ticket)
}

// Find returns the route with this key.
func Find(key string) (Route, bool) {
	for _, r := range All {
		if r.Key() == key {
			return r, true
		}
	}
	return Route{}, false
}

// Key is the API Gateway route key.
func (r Route) Key() string { return r.Method + " " + r.Path }

// All lists every route.
var All = []Route{
	{Method: "POST", Path: "/v1/sessions", Function: FnSessionsOpen, Scope: auth.ScopeWrite},
	{Method: "POST", Path: "/v1/upload-tickets", Function: FnSessionsOpen, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/params", Function: FnCompanion, Public: true},
	{Method: "POST", Path: "/v1/uppy/{ticket}/s3/multipart", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}/{partNumber}", Function: FnCompanion, Public: true},
	{Method: "POST", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}/complete", Function: FnCompanion, Public: true},
	{Method: "DELETE", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/sessions/{id}", Function: FnSessionsParts, Scope: auth.ScopeWrite},
	{Method: "POST", Path: "/v1/sessions/{id}/parts", Function: FnSessionsParts, Scope: auth.ScopeWrite},
	{Method: "POST", Path: "/v1/sessions/{id}/complete", Function: FnSessionsComplete, Scope: auth.ScopeWrite},
	{Method: "DELETE", Path: "/v1/sessions/{id}", Function: FnSessionsComplete, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/v1/files", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/files/{uuid}", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/files/{uuid}/download", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/files/{uuid}/versions", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/files/{uuid}/versions/{version_uuid}", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "POST", Path: "/v1/files/{uuid}/versions/{version_uuid}/promote", Function: FnFiles, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/v1/usage", Function: FnFiles, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/openapi.json", Function: FnFiles, Public: true},
	{Method: "DELETE", Path: "/v1/files", Function: FnFiles, Scope: auth.ScopeDelete},
	{Method: "POST", Path: "/v1/files/restore", Function: FnFiles, Scope: auth.ScopeDelete},
	{Method: "POST", Path: "/v1/files/purge", Function: FnFiles, Scope: auth.ScopeDelete},
	{Method: "PUT", Path: "/v1/entities/{entity_type}/{entity_id}", Function: FnAttachments, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/v1/entities/{entity_type}/{entity_id}", Function: FnAttachments, Scope: auth.ScopeRead},
	{Method: "POST", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments, Scope: auth.ScopeWrite},
	{Method: "DELETE", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/files/{uuid}/usages", Function: FnAttachments, Scope: auth.ScopeRead},
	{Method: "POST", Path: "/api/2.0/crm/{entityType}/{entityid}/files", Function: FnAttachments, Scope: auth.ScopeWrite},
	{Method: "POST", Path: "/integrations/external/files/batches", Function: FnBatches, Scope: auth.ScopeWrite},
	{Method: "GET", Path: "/integrations/external/files/batches/{id}", Function: FnBatches, Scope: auth.ScopeRead},
	{Method: "GET", Path: "/v1/tokens", Function: FnTokens, Scope: auth.ScopeTokens},
	{Method: "POST", Path: "/v1/tokens", Function: FnTokens, Scope: auth.ScopeTokens},
	{Method: "GET", Path: "/v1/tokens/{id}", Function: FnTokens, Scope: auth.ScopeTokens},
	{Method: "DELETE", Path: "/v1/tokens/{id}", Function: FnTokens, Scope: auth.ScopeTokens},
	{Method: "POST", Path: "/v1/tokens/{id}/rotate", Function: FnTokens, Scope: auth.ScopeTokens},
}

// Functions lists every function that serves routes, plus the authorizer.
func Functions() []string {
	seen := map[string]bool{}
	out := []string{FnAuthorizer}
	for _, r := range All {
		if !seen[r.Function] {
			seen[r.Function] = true
			out = append(out, r.Function)
		}
	}
	return out
}
