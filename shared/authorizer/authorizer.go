// Package authorizer is the HTTP API Lambda authorizer (simple responses).
//
// Identity source: $request.header.Authorization (so API Gateway can cache
// per token). A known, unexpired token yields its principal as context. An
// unknown token is also let through, carrying only an auth_error code, so
// that the handler answers a precise problem+json 401 instead of API
// Gateway's bare {"message":"Forbidden"}; handlers refuse any request whose
// context has no account (shared/api.Principal). Storage failures are
// returned as errors (API Gateway answers 500) and never cached as denials.
package authorizer

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/auth"
)

// Handler is the Lambda entry point.
type Handler func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// New builds the authorizer over an auth service.
func New(svc *auth.Service, log *slog.Logger) Handler {
	return func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		var header string
		if len(req.IdentitySource) > 0 {
			header = req.IdentitySource[0]
		} else {
			header = req.Headers["authorization"]
		}
		p, err := svc.Authenticate(ctx, header)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindUnauthorized {
				log.ErrorContext(ctx, "authorizer failed", "request_id", req.RequestContext.RequestID, "err", err)
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
			}
			log.InfoContext(ctx, "token rejected", "request_id", req.RequestContext.RequestID, "code", e.Code)
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
				Context: map[string]any{auth.CtxError: e.Code}}, nil
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: p.ToContext()}, nil
	}
}
