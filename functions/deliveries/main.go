// Command deliveries is the Lambda the deliveries queue invokes: it posts
// signed webhook deliveries and schedules the retries of failed ones.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Deliveries(app.Lambda())) }
