// Command infra is the CDK app (cdk.json runs it through infra/app.sh,
// which checks for Go first). Settings come from CDK context (cdk.json or
// -c key=value). The app builds what it deploys: every function's
// linux/arm64 bootstrap under assetDir, reproducibly and from go build's
// cache, before the stack refers to it; -c buildAssets=false takes the
// bootstraps already there (a pipeline that built them in an earlier step).
// It builds the files console too (npm, into assetDir/console) unless
// -c console=false.
package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/infra/consolebuild"
	"github.com/anexo/anexo/infra/lambdabuild"
	"github.com/anexo/anexo/infra/stack"
	"github.com/anexo/anexo/shared/platform/iam"
)

func main() {
	err := synth()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "anexo infra:", err)
		os.Exit(1)
	}
}

// synth turns a bad setting (the stack panics on one) into an error.
func synth() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	app := awscdk.NewApp(nil)
	props := stack.FromContext(app).Defaults()
	if stack.ContextBool(app, "buildAssets", true) {
		root, err := lambdabuild.Root()
		if err != nil {
			return err
		}
		fns := slices.Sorted(maps.Keys(iam.Policies))
		if err := lambdabuild.Build(context.Background(), root, props.AssetDir, lambdabuild.GOARCH, fns); err != nil {
			return err
		}
		if props.Console {
			if err := consolebuild.Build(context.Background(), root, props.ConsoleDir()); err != nil {
				return err
			}
		}
	}
	stack.New(app, stack.ContextString(app, "stackName", "Anexo"), props)
	if stack.ContextBool(app, "nag", false) {
		stack.Nag(app)
	}
	app.Synth(nil)
	return nil
}
