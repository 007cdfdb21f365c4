package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// alarms makes the stack's alarms. Every one notifies one topic, which
// always exists: the stack's own (AlarmEmail subscribes an address to it)
// or an existing one (AlarmTopicARN: a pager's, a chat's). The alarms
// marked to page also feed one composite alarm, "<stack> unhealthy",
// which says in one place that users are affected. docs/operations.md
// has a runbook entry per alarm.
type alarms struct {
	st     awscdk.Stack
	topic  awssns.ITopic
	paging []awscloudwatch.IAlarm
}

func newAlarms(st awscdk.Stack, props Props, key awskms.IKey) *alarms {
	a := &alarms{st: st}
	if props.AlarmTopicARN != "" {
		a.topic = awssns.Topic_FromTopicArn(st, jsii.String("AlarmTopic"), jsii.String(props.AlarmTopicARN))
		return a
	}
	t := awssns.NewTopic(st, jsii.String("Alarms"), &awssns.TopicProps{DisplayName: jsii.String("Anexo alarms"), EnforceSSL: jsii.Bool(true), MasterKey: key})
	if props.AlarmEmail != "" {
		// a notification SNS could not deliver waits here (14 days) to be read
		dlq := awssqs.NewQueue(st, jsii.String("AlarmEmailDLQ"), &awssqs.QueueProps{RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), EnforceSSL: jsii.Bool(true)})
		t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlarmEmail), &awssnssubscriptions.EmailSubscriptionProps{DeadLetterQueue: dlq}))
	}
	a.topic = t
	return a
}

// rule is when an alarm fires: its threshold crossed in Of of the last In
// periods (1 of 1 unless set), below it with Below, missing data breaching
// with Breach; Page puts it in the composite alarm. Runbook is its entry
// in docs/operations.md (the alarm's id in lower case unless set).
type rule struct {
	Threshold float64
	Below     bool
	Of, In    int
	Breach    bool
	Page      bool
	Runbook   string
}

// add makes an alarm on m that notifies the topic when it fires and when
// it clears.
func (a *alarms) add(id string, m awscloudwatch.IMetric, r rule, what string) awscloudwatch.Alarm {
	if r.In == 0 {
		r.Of, r.In = 1, 1
	}
	cmp, missing := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING
	if r.Below {
		cmp = awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD
	}
	if r.Breach {
		missing = awscloudwatch.TreatMissingData_BREACHING
	}
	if r.Runbook == "" {
		r.Runbook = strings.ToLower(id)
	}
	al := awscloudwatch.NewAlarm(a.st, jsii.String(id), &awscloudwatch.AlarmProps{
		Metric: m, Threshold: jsii.Number(r.Threshold), EvaluationPeriods: jsii.Number(float64(r.In)),
		DatapointsToAlarm: jsii.Number(float64(r.Of)), ComparisonOperator: cmp, TreatMissingData: missing,
		AlarmDescription: jsii.String(what + " (runbook: docs/operations.md#" + r.Runbook + ")"),
	})
	action := awscloudwatchactions.NewSnsAction(a.topic)
	al.AddAlarmAction(action)
	al.AddOkAction(action)
	if r.Page {
		a.paging = append(a.paging, al)
	}
	return al
}

// rate is 100 × part / whole over period: a percentage, 0 without traffic.
func rate(label string, part, whole awscloudwatch.IMetric, period awscdk.Duration) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("IF(whole > 0, 100 * part / whole, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"part": part, "whole": whole},
		Label:        jsii.String(label), Period: period,
	})
}

// composite makes the one alarm that pages: any paging alarm firing.
func (a *alarms) composite() {
	rules := make([]awscloudwatch.IAlarmRule, len(a.paging))
	for i, al := range a.paging {
		rules[i] = al
	}
	c := awscloudwatch.NewCompositeAlarm(a.st, jsii.String("Unhealthy"), &awscloudwatch.CompositeAlarmProps{
		AlarmRule: awscloudwatch.AlarmRule_AnyOf(rules...),
		AlarmDescription: jsii.String("Anexo is unhealthy: users are affected (one of its paging alarms fired; " +
			"its own notification names which; runbook: docs/operations.md#unhealthy)"),
	})
	// no fixed name (CloudFormation names it), like every other resource
	c.Node().DefaultChild().(awscloudwatch.CfnCompositeAlarm).AddPropertyDeletionOverride(jsii.String("AlarmName"))
	action := awscloudwatchactions.NewSnsAction(a.topic)
	c.AddAlarmAction(action)
	c.AddOkAction(action)
}
