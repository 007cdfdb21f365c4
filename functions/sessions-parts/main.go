// Command sessions-parts is the sessions-parts Lambda: its routes are declared in shared/inbound/httpapi.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.SessionsParts(app.Lambda())) }
