package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/triggers"
)

// addPreviews hands the bus's version events (a new version; a malware
// verdict) to the previews function, asynchronously: retried twice, then
// kept in the async failures queue.
func (s *Stack) addPreviews() {
	types := make([]string, len(triggers.PreviewTypes))
	for i, t := range triggers.PreviewTypes {
		types[i] = string(t)
	}
	awsevents.NewRule(s.Stack, jsii.String("PreviewEvents"), &awsevents.RuleProps{
		Description:  jsii.String("Anexo: new versions and their malware verdicts, to the previews function"),
		EventBus:     s.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(eventbus.Source), DetailType: jsii.Strings(types...)},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(s.live(lambdas.Previews),
			&awseventstargets.LambdaFunctionProps{DeadLetterQueue: s.AsyncFailures, RetryAttempts: jsii.Number(2)})},
	})
}
