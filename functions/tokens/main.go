// Command tokens is the tokens Lambda (see shared/routes for its routes).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/app"
	"github.com/anexo/anexo/shared/routes"
)

func main() {
	lambda.Start(app.MustConnect(context.Background(), app.FromEnv()).Handler(routes.FnTokens))
}
