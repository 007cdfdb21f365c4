package httpapi

import "github.com/anexo/anexo/shared/inbound/lambdas"

// Throttle is API Gateway's token bucket for a route: Rate requests a
// second, Burst at once. The stack sets one per route; the local router
// enforces the same.
type Throttle struct{ Rate, Burst float64 }

// Throttles bound each function's routes, so that no one kind of request
// (a flood of listings, of batches that carry bytes through Lambda) takes
// the region's API Gateway quota (10,000 requests a second per account)
// from the upload path. Their sum is 9,700 a second. An upload is an open
// and a completion: 1,000 uploads a second, three times what one
// account's item takes (docs/performance.md#scale), so several accounts
// upload at full speed together; the 5,000 a second across accounts that
// DynamoDB would take need a quota increase and larger values (the
// stack's routeThrottles).
var Throttles = map[string]Throttle{
	lambdas.SessionsOpen:     {1000, 2000},
	lambdas.SessionsComplete: {1000, 2000},
	lambdas.SessionsParts:    {2000, 4000}, // more part URLs, the status of a resumed upload
	lambdas.Companion:        {1000, 2000}, // Uppy: its own open, sign and complete calls
	lambdas.Files:            {2000, 4000}, // listings, reads, downloads (one 302 each)
	lambdas.Attachments:      {1000, 2000},
	lambdas.Events:           {500, 1000},
	lambdas.Batches:          {100, 200}, // up to 4 MiB through Lambda each: 400 MiB/s
	lambdas.Tokens:           {50, 100},
	lambdas.Webhooks:         {50, 100}, // a test or a retry waits for the endpoint
}
