// Command recorder is the Lambda S3 invokes on ObjectCreated:Post: it
// records browser form uploads (Uppy's /s3/params path) as files.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Recorder(app.Lambda())) }
