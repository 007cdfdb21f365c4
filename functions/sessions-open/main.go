// Command sessions-open is the sessions-open Lambda: its routes are declared in shared/inbound/httpapi.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.SessionsOpen(app.Lambda())) }
