package iam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Enforcer checks every AWS call of one function against its policy, as
// IAM does for the function's role in AWS. It runs as SDK middleware in the
// Initialize step, so presigning is checked too (in AWS the URL would be
// refused when used; here the signing call fails at once).
type Enforcer struct {
	Function string
	Policy   Policy
	Names    Names // what the policy's resources mean
	Log      *slog.Logger

	mu     sync.Mutex
	denied []string
}

// NewEnforcer enforces the function's policy from Policies.
func NewEnforcer(function string, names Names, log *slog.Logger) (*Enforcer, error) {
	p, ok := Policies[function]
	if !ok {
		return nil, fmt.Errorf("iam: no policy for function %q", function)
	}
	if log == nil {
		log = slog.Default()
	}
	if names.Key != "" {
		p = p.WithKey()
	}
	return &Enforcer{Function: function, Policy: p, Names: names, Log: log}, nil
}

// Install adds the enforcer to an AWS config's middleware stacks.
func (e *Enforcer) Install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("iam-enforce", e.handle), middleware.After)
	})
}

// Denied lists the calls refused so far (tests fail on any they did not
// expect).
func (e *Enforcer) Denied() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.denied...)
}

// ResetDenied forgets refused calls (after a test that expected them).
func (e *Enforcer) ResetDenied() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.denied = nil
}

func (e *Enforcer) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	call, err := required(in.Parameters, e.Names)
	if err != nil {
		return e.deny(ctx, call.service, err.Error())
	}
	for i, a := range call.needs {
		if ok, why := e.Policy.permits(a, call.items[i]); !ok {
			if why != "" {
				why = " because no statement's condition holds: " + why
			}
			return e.deny(ctx, call.service, fmt.Sprintf("%s is not authorized to perform: %s on resource: %s%s (%s)",
				e.Function, a.Action, a.Resource.ARN(e.Names.arns()), why, call.op))
		}
	}
	for _, a := range call.needs {
		Used.add(e.Function, a)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil && call.readsObject && notFound(err) {
		// S3 answers a read of a missing key with 404 only to callers
		// that may list the bucket; everyone else gets 403.
		list := Access{Action: listBucket, Resource: Resource{Kind: KindBucket}}
		if !e.Policy.Allows(list) {
			return out, md, e.refusal(ctx, call.service, fmt.Sprintf("%s read a missing object without %s: AWS answers 403 (%s)", e.Function, list, call.op))
		}
		Used.add(e.Function, list)
	}
	return out, md, err
}

func (e *Enforcer) deny(ctx context.Context, service, msg string) (middleware.InitializeOutput, middleware.Metadata, error) {
	return middleware.InitializeOutput{}, middleware.Metadata{}, e.refusal(ctx, service, msg)
}

// refusal records and logs a refused call and builds AWS's answer to it.
func (e *Enforcer) refusal(ctx context.Context, service, msg string) error {
	e.mu.Lock()
	e.denied = append(e.denied, msg)
	e.mu.Unlock()
	e.Log.ErrorContext(ctx, "iam: access denied", "function", e.Function, "denied", msg)
	return accessDenied(service, msg)
}

// accessDenied is the error AWS returns: S3 403 AccessDenied, DynamoDB 400
// AccessDeniedException, GuardDuty 403 AccessDeniedException.
func accessDenied(service, msg string) error {
	status, code := http.StatusForbidden, "AccessDenied"
	switch service {
	case "dynamodb", "eventbridge":
		status, code = http.StatusBadRequest, "AccessDeniedException"
	case "guardduty":
		code = "AccessDeniedException"
	}
	return &awshttp.ResponseError{RequestID: "iam-local", ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "User: " + msg, Fault: smithy.FaultClient},
	}}
}

func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
