// Command sweeper is the scheduled Lambda: it purges trashed files past
// their window, the bytes of crashed batch uploads, and settles sessions.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Sweeper(app.Lambda())) }
