// Package routes is the single list of HTTP API routes: the local router
// serves it, the CDK stack deploys it, and tests check both against it.
package routes

// Lambda function names (folders under functions/).
const (
	FnAuthorizer       = "authorizer"
	FnSessionsOpen     = "sessions-open"
	FnSessionsParts    = "sessions-parts"
	FnSessionsComplete = "sessions-complete"
	FnFiles            = "files"
	FnAttachments      = "attachments"
	FnBatches          = "batches"   // Wegly batch uploads: bytes pass through Lambda
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
	Public   bool // no authorizer
}

// IsPublic reports whether the route with this key runs without the
// authorizer.
func IsPublic(key string) bool {
	for _, r := range All {
		if r.Key() == key {
			return r.Public
		}
	}
	return false
}

// Key is the API Gateway route key.
func (r Route) Key() string { return r.Method + " " + r.Path }

// All lists every route.
var All = []Route{
	{Method: "POST", Path: "/v1/sessions", Function: FnSessionsOpen},
	{Method: "POST", Path: "/v1/upload-tickets", Function: FnSessionsOpen},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/params", Function: FnCompanion, Public: true},
	{Method: "POST", Path: "/v1/uppy/{ticket}/s3/multipart", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}/{partNumber}", Function: FnCompanion, Public: true},
	{Method: "POST", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}/complete", Function: FnCompanion, Public: true},
	{Method: "DELETE", Path: "/v1/uppy/{ticket}/s3/multipart/{uploadId}", Function: FnCompanion, Public: true},
	{Method: "GET", Path: "/v1/sessions/{id}", Function: FnSessionsParts},
	{Method: "POST", Path: "/v1/sessions/{id}/parts", Function: FnSessionsParts},
	{Method: "POST", Path: "/v1/sessions/{id}/complete", Function: FnSessionsComplete},
	{Method: "DELETE", Path: "/v1/sessions/{id}", Function: FnSessionsComplete},
	{Method: "GET", Path: "/v1/files", Function: FnFiles},
	{Method: "GET", Path: "/v1/files/{uuid}", Function: FnFiles},
	{Method: "GET", Path: "/v1/files/{uuid}/download", Function: FnFiles},
	{Method: "GET", Path: "/v1/files/{uuid}/versions", Function: FnFiles},
	{Method: "GET", Path: "/v1/files/{uuid}/versions/{version_uuid}", Function: FnFiles},
	{Method: "POST", Path: "/v1/files/{uuid}/versions/{version_uuid}/promote", Function: FnFiles},
	{Method: "GET", Path: "/v1/usage", Function: FnFiles},
	{Method: "GET", Path: "/v1/openapi.json", Function: FnFiles, Public: true},
	{Method: "DELETE", Path: "/v1/files", Function: FnFiles},
	{Method: "POST", Path: "/v1/files/restore", Function: FnFiles},
	{Method: "POST", Path: "/v1/files/purge", Function: FnFiles},
	{Method: "PUT", Path: "/v1/entities/{entity_type}/{entity_id}", Function: FnAttachments},
	{Method: "GET", Path: "/v1/entities/{entity_type}/{entity_id}", Function: FnAttachments},
	{Method: "POST", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments},
	{Method: "DELETE", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments},
	{Method: "GET", Path: "/v1/entities/{entity_type}/{entity_id}/files", Function: FnAttachments},
	{Method: "GET", Path: "/v1/files/{uuid}/usages", Function: FnAttachments},
	{Method: "POST", Path: "/api/2.0/crm/{entityType}/{entityid}/files", Function: FnAttachments},
	{Method: "POST", Path: "/integrations/external/files/batches", Function: FnBatches},
	{Method: "GET", Path: "/integrations/external/files/batches/{id}", Function: FnBatches},
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
