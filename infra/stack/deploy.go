package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// How a deploy replaces the functions' code (Props.Deployment).
const (
	// DeployDirect: every invocation runs the new code as soon as
	// CloudFormation updates the function (the default outside prod).
	DeployDirect = "direct"
	// DeployCanary: CodeDeploy sends 10 % of the invocations to the new
	// version for 5 minutes, then all (the default for stage=prod).
	DeployCanary = "canary"
	// DeployLinear: 10 % more of the invocations every minute.
	DeployLinear = "linear"
)

// LiveAlias is the alias API Gateway, the event sources and the
// schedule invoke when deploys shift traffic.
const LiveAlias = "live"

// deploymentConfigs are CodeDeploy's configurations per mode.
var deploymentConfigs = map[string]func() awscodedeploy.ILambdaDeploymentConfig{
	DeployCanary: awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES,
	DeployLinear: awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE,
}

// deployment is the mode props ask for: Deployment, or by default canary
// for the prod stage and direct elsewhere.
func deployment(props Props) string {
	switch d := props.Deployment; {
	case d == "" && props.StageName == "prod":
		return DeployCanary
	case d == "":
		return DeployDirect
	case d == DeployDirect || deploymentConfigs[d] != nil:
		return d
	default:
		panic(fmt.Sprintf("context deployment: %q is not direct, canary or linear", d))
	}
}

// released is what invokes the function: under canary or linear deploys
// its alias "live", which CodeDeploy moves from version to version
// (rolling back when the new version's error rate alarms); otherwise
// the function itself. Asynchronous invocations of the alias keep the
// function's retries and failure destination.
func (s *Stack) released(props Props, al *alarms, name string, fn awslambda.Function, async *awslambda.EventInvokeConfigOptions) awslambda.IFunction {
	mode := deployment(props)
	if mode == DeployDirect {
		return fn
	}
	if s.deployments == nil {
		s.deployments = awscodedeploy.NewLambdaApplication(s.Stack, jsii.String("Deployments"), nil)
		s.deployRole = awsiam.NewRole(s.Stack, jsii.String("DeployRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("codedeploy.amazonaws.com"), nil),
			ManagedPolicies: &[]awsiam.IManagedPolicy{
				awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSCodeDeployRoleForLambdaLimited"))},
		})
	}
	cid := "Fn" + construct(name)
	version := fn.CurrentVersion()
	ap := &awslambda.AliasProps{AliasName: jsii.String(LiveAlias), Version: version}
	if async != nil {
		ap.OnFailure, ap.RetryAttempts = async.OnFailure, async.RetryAttempts
	}
	alias := awslambda.NewAlias(s.Stack, jsii.String(cid+"Live"), ap)
	// the new version's own invocations through the alias (Lambda's
	// ExecutedVersion dimension), a minute at a time
	dims := map[string]*string{"FunctionName": fn.FunctionName(), "Resource": jsii.String(*fn.FunctionName() + ":" + LiveAlias), "ExecutedVersion": version.Version()}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	metric := func(m string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String(m),
			DimensionsMap: &dims, Period: minute, Statistic: jsii.String("Sum")})
	}
	alarm := al.add(cid+"CanaryErrors", rate(name+" new version errors %", metric("Errors"), metric("Invocations"), minute),
		rule{Threshold: 1, Of: 2, In: 3, Runbook: "function-canary-errors"},
		"Anexo "+name+": 1 % or more of the current version's invocations failed in 2 of the last 3 minutes; during a deploy, CodeDeploy rolls it back")
	awscodedeploy.NewLambdaDeploymentGroup(s.Stack, jsii.String(cid+"Deployment"), &awscodedeploy.LambdaDeploymentGroupProps{
		Application:      s.deployments,
		Alias:            alias,
		DeploymentConfig: deploymentConfigs[mode](),
		Alarms:           &[]interfacesawscloudwatch.IAlarmRef{alarm},
		Role:             s.deployRole,
		AutoRollback: &awscodedeploy.AutoRollbackConfig{
			FailedDeployment: jsii.Bool(true), StoppedDeployment: jsii.Bool(true), DeploymentInAlarm: jsii.Bool(true)},
	})
	return alias
}

// live is what invokes the function name: its alias or itself (released).
func (s *Stack) live(name string) awslambda.IFunction {
	if l, ok := s.liveFns[name]; ok {
		return l
	}
	panic("stack: no function " + name)
}
