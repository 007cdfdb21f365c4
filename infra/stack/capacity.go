package stack

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Throttle is a route's rate and burst (httpapi.Throttle).
type Throttle = httpapi.Throttle

// DefaultRouteThrottles are httpapi.Throttles: the local router enforces
// the same.
var DefaultRouteThrottles = httpapi.Throttles

// routeThrottles sets each route's throttle (its function's, from
// DefaultRouteThrottles overridden by props.RouteThrottles). A route's
// settings name a route that must exist first: the stage waits for the
// routes.
func (s *Stack) routeThrottles(props Props, stage awsapigatewayv2.HttpStage) {
	for fn := range props.RouteThrottles {
		if _, ok := DefaultRouteThrottles[fn]; !ok {
			panic(fmt.Sprintf("context routeThrottles: %q is not a function with routes (%v)", fn, slices.Sorted(maps.Keys(DefaultRouteThrottles))))
		}
	}
	settings := map[string]any{}
	for _, r := range httpapi.All() {
		t, ok := props.RouteThrottles[r.Function]
		if !ok {
			t = DefaultRouteThrottles[r.Function]
		}
		if t.Rate == 0 {
			panic("stack: no throttle for the routes of " + r.Function)
		}
		// CloudFormation's names: RouteSettings is plain JSON to the CDK
		settings[r.Key()] = map[string]any{"ThrottlingRateLimit": t.Rate, "ThrottlingBurstLimit": t.Burst,
			"DetailedMetricsEnabled": props.DetailedMetrics}
	}
	cfn := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfn.SetRouteSettings(settings)
	for _, c := range *s.API.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if route, ok := c.(awsapigatewayv2.CfnRoute); ok {
			cfn.AddResourceDependency(route, jsii.String("its route settings name the route"))
		}
	}
}

// DefaultDeliveriesConcurrency caps the webhook deliveries: at most 20
// invocations at once, each up to ten 10 s attempts, whatever the queue
// holds, so slow endpoints cannot take the account's concurrency from the
// API.
const DefaultDeliveriesConcurrency = webhooks.Concurrency

// RecommendedReservations is -c reservedConcurrency=recommended: the
// authorizer (every authorized request) and the upload path keep this
// much of the account's concurrency whatever else runs (and cannot use
// more). 250 in all: the account must keep 100 unreserved, so a quota of
// at least 350 (the default is 1,000; a new account's may be 10).
var RecommendedReservations = map[string]float64{
	lambdas.Authorizer:       100,
	lambdas.SessionsOpen:     50,
	lambdas.SessionsParts:    50,
	lambdas.SessionsComplete: 50,
}

// checkReservations refuses a reservation for a function that does not
// exist.
func checkReservations(props Props) {
	for name := range props.ReservedConcurrency {
		if !slices.Contains(lambdas.All(), name) {
			panic(fmt.Sprintf("context reservedConcurrency: %q is not a function (%v)", name, lambdas.All()))
		}
	}
}

// reserved is the function's reserved concurrency, nil for none.
func reserved(props Props, fn string) *float64 {
	n, ok := props.ReservedConcurrency[fn]
	if !ok {
		return nil
	}
	return jsii.Number(n)
}
