// Package authorizer is the HTTP API Lambda authorizer (simple responses).
//
// Identity source: $request.header.Authorization (so API Gateway caches its
// answer per token). A known, active token yields its principal as context.
// A malformed, unknown, expired or revoked token is denied here, so no
// route function runs for it: API Gateway answers 403 {"message":"Forbidden"}
// (HTTP APIs cannot customise that body), and a request without the header
// never reaches the authorizer (401 {"message":"Unauthorized"}). Storage
// failures are returned as errors (API Gateway answers 500) and never
// cached as denials. The secret's last use is recorded at most every
// auth.TouchEvery. With the stack's edge on, a request without the edge's
// secret (httpapi.OriginHeader, an identity source too) is denied before
// any token is looked up.
package authorizer

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/inbound/httpapi"
)

// Handler is the Lambda entry point.
type Handler func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// New builds the authorizer over an auth service; originSecret is the
// edge's ("" without an edge).
func New(svc *auth.Service, log *slog.Logger, originSecret string) Handler {
	return func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		if !httpapi.FromEdge(originSecret, req.Headers) {
			log.InfoContext(ctx, "request around the edge denied", "request_id", req.RequestContext.RequestID, "route", req.RouteKey)
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		}
		var header string
		if len(req.IdentitySource) > 0 {
			header = req.IdentitySource[0]
		} else {
			header = req.Headers["authorization"]
		}
		rid := req.RequestContext.RequestID
		p, t, err := svc.Authenticate(ctx, header)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindUnauthorized {
				log.ErrorContext(ctx, "authorizer failed", "request_id", rid, "err", err)
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
			}
			log.InfoContext(ctx, "token denied", "request_id", rid, "code", e.Code, "route", req.RouteKey)
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		}
		if err := svc.Touch(ctx, t, t.Hash); err != nil {
			log.WarnContext(ctx, "last-used time not recorded", "request_id", rid, "token_id", t.ID, "err", err)
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: p.ToContext()}, nil
	}
}
