// Command authorizer is the HTTP API Lambda authorizer.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Authorizer(app.Lambda())) }
