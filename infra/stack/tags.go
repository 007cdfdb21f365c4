package stack

import (
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// tag puts app=anexo, stage=<stage> and props.Tags on every resource
// that takes tags (a cost report groups by them). The dashboard is left
// out: aws-cdk-lib tags it, CloudFormation's schema (cfn-lint) has no
// Tags on a dashboard.
func tag(st awscdk.Stack, props Props) {
	tags := map[string]string{"app": "anexo", "stage": strings.TrimPrefix(props.StageName, "$")}
	maps.Copy(tags, props.Tags)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		awscdk.Tags_Of(st).Add(jsii.String(k), jsii.String(tags[k]), &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings("AWS::CloudWatch::Dashboard")})
	}
}
