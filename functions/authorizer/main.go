// Command authorizer is the HTTP API Lambda authorizer.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/app"
)

func main() {
	lambda.Start(app.MustConnect(context.Background(), app.FromEnv()).Authorizer())
}
