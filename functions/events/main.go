// Command events is the event feed's Lambda: its routes are declared in shared/inbound/httpapi.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Events(app.Lambda())) }
