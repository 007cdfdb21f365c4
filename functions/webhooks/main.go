// Command webhooks is the webhooks' Lambda: its routes are declared in shared/inbound/httpapi.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Webhooks(app.Lambda())) }
