package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/inbound/httpapi"
)

// addDashboard draws what an operator watches: requests and errors, latency
// p50/p99 (per route too with detailed metrics), each function's errors,
// throttles and duration, DynamoDB throttling, and the failed
// asynchronous invocations queued.
func (s *Stack) addDashboard(props Props, stage awsapigatewayv2.HttpStage, names []string) {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	opts := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String(stat)}
	}
	graph := func(title string, width float64, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(width),
			Height: jsii.Number(6), Left: &metrics})
	}
	perRoute := func(stat string) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, r := range httpapi.All() {
			out = append(out, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/ApiGateway"),
				MetricName: jsii.String("Latency"), Period: period, Statistic: jsii.String(stat), Label: jsii.String(r.Key()),
				DimensionsMap: &map[string]*string{"ApiId": s.API.ApiId(), "Stage": stage.StageName(), "Route": jsii.String(r.Key())}}))
		}
		return out
	}
	perFunction := func(metric func(name string) awscloudwatch.IMetric) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, name := range names {
			out = append(out, metric(name))
		}
		return out
	}
	fnMetric := func(m string, stat string) func(string) awscloudwatch.IMetric {
		return func(name string) awscloudwatch.IMetric {
			o := opts(stat)
			o.Label = jsii.String(name)
			return s.Functions[name].Metric(jsii.String(m), o)
		}
	}
	rows := []*[]awscloudwatch.IWidget{{
		graph("Requests", 8, stage.MetricCount(opts("Sum"))),
		graph("4xx / 5xx", 8, stage.MetricClientError(opts("Sum")), stage.MetricServerError(opts("Sum"))),
		graph("Latency p50 / p99", 8, stage.MetricLatency(opts("p50")), stage.MetricLatency(opts("p99"))),
	}}
	if props.DetailedMetrics {
		rows = append(rows, &[]awscloudwatch.IWidget{
			graph("Latency p50 per route", 12, perRoute("p50")...),
			graph("Latency p99 per route", 12, perRoute("p99")...),
		})
	}
	rows = append(rows, &[]awscloudwatch.IWidget{
		graph("Function errors", 8, perFunction(fnMetric("Errors", "Sum"))...),
		graph("Function throttles", 8, perFunction(fnMetric("Throttles", "Sum"))...),
		graph("Function duration p99", 8, perFunction(fnMetric("Duration", "p99"))...),
	}, &[]awscloudwatch.IWidget{
		graph("DynamoDB throttled requests", 12, s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
			Period: period, Operations: &tableOperations})),
		graph("Failed async invocations queued", 12, s.AsyncFailures.MetricApproximateNumberOfMessagesVisible(opts("Maximum"))),
	})
	awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{Widgets: &rows})
}
