// Command infra is the CDK app (cdk.json: "go run ./infra"). Settings come
// from CDK context (cdk.json or -c key=value); the stack is environment
// agnostic.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack.New(app, stack.ContextString(app, "stackName", "Anexo"), stack.FromContext(app))
	app.Synth(nil)
}
