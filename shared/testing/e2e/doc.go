// Package e2e is the end-to-end suite: the whole API over real HTTP through
// the local router (API Gateway's routing, authorizer and events), every
// function's handler with its IAM policy enforced, real presigned part
// uploads to the embedded S3 or moto_server, responses checked against the
// OpenAPI document, fault injection at every AWS call of the multi-step
// writes, the upload page in headless Chromium, and the benchmarks that
// count requests and billed units per operation.
package e2e
