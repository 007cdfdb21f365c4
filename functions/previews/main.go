// Command previews is the Lambda an EventBridge rule on the deployment's
// bus invokes for each new version and each malware verdict: it renders
// the version's previews once its bytes may be served.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Previews(app.Lambda())) }
