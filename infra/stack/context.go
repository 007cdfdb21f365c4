package stack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ContextString reads a context value (cdk.json "context" or -c key=value).
func ContextString(scope constructs.Construct, key, def string) string {
	v := scope.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func contextNumber(scope constructs.Construct, key string) float64 {
	v := scope.Node().TryGetContext(jsii.String(key))
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			panic(fmt.Sprintf("context %s: %q is not a number", key, x))
		}
		return f
	}
	return 0
}

// contextStrings accepts a JSON list (cdk.json) or a comma-separated string (-c).
func contextStrings(scope constructs.Construct, key string) []string {
	switch x := scope.Node().TryGetContext(jsii.String(key)).(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, v := range x {
			out = append(out, fmt.Sprint(v))
		}
		return out
	case string:
		var list []string
		if json.Unmarshal([]byte(x), &list) == nil {
			return list
		}
		return strings.Split(x, ",")
	}
	return nil
}

// ContextBool reads true/false (cdk.json or -c key=false).
func ContextBool(scope constructs.Construct, key string, def bool) bool {
	switch x := scope.Node().TryGetContext(jsii.String(key)).(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			panic(fmt.Sprintf("context %s: %q is not true or false", key, x))
		}
		return b
	}
	return def
}

// FromContext builds props from CDK context keys: stage, allowedOrigins,
// assetDir, logRetentionDays, throttleRate, throttleBurst, authorizerTtl,
// alarmEmail, alarmTopicArn, concurrencyAlarm, terminationProtection (default true), domainName +
// certificateArn, edge (+ edgeWebAclArn, edgeRatePerIp, edgeRatePerToken),
// and account + region
// (both or neither: a stage pinned to its account and region; without
// them the stack is environment agnostic).
func FromContext(scope constructs.Construct) Props {
	var env *awscdk.Environment
	account, region := ContextString(scope, "account", ""), ContextString(scope, "region", "")
	if (account == "") != (region == "") {
		panic("context account and region go together: -c account=123456789012 -c region=sa-east-1")
	}
	if account != "" {
		env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	return Props{
		StackProps:       awscdk.StackProps{Env: env, TerminationProtection: jsii.Bool(ContextBool(scope, "terminationProtection", true))},
		StageName:        ContextString(scope, "stage", ""),
		AllowedOrigins:   contextStrings(scope, "allowedOrigins"),
		AssetDir:         ContextString(scope, "assetDir", ""),
		LogRetentionDays: int(contextNumber(scope, "logRetentionDays")),
		ThrottleRate:     contextNumber(scope, "throttleRate"),
		ThrottleBurst:    contextNumber(scope, "throttleBurst"),
		AuthorizerTTL:    int(contextNumber(scope, "authorizerTtl")),
		AlarmEmail:       ContextString(scope, "alarmEmail", ""),
		AlarmTopicARN:    ContextString(scope, "alarmTopicArn", ""),
		ConcurrencyAlarm: contextNumber(scope, "concurrencyAlarm"),
		DomainName:       ContextString(scope, "domainName", ""),
		CertificateARN:   ContextString(scope, "certificateArn", ""),
		Edge:             ContextBool(scope, "edge", false),
		EdgeWebACLArn:    ContextString(scope, "edgeWebAclArn", ""),
		EdgeRatePerIP:    contextNumber(scope, "edgeRatePerIp"),
		EdgeRatePerToken: contextNumber(scope, "edgeRatePerToken"),
	}
}
