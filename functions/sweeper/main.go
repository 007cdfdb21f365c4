// Command sweeper is the scheduled Lambda that purges trashed files whose
// 30-day window has passed.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/app"
)

func main() {
	lambda.Start(app.MustConnect(context.Background(), app.FromEnv()).Sweeper())
}
