// Command scans is the Lambda an EventBridge rule invokes with GuardDuty's
// malware scan results: it records each verdict on its file version.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Scans(app.Lambda())) }
