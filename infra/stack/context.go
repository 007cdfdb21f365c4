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

// contextMap accepts a JSON object (cdk.json) or key=value pairs separated
// by commas (-c tags=team=crm,costCenter=42).
func contextMap(scope constructs.Construct, key string) map[string]string {
	out := map[string]string{}
	switch x := scope.Node().TryGetContext(jsii.String(key)).(type) {
	case map[string]any:
		for k, v := range x {
			out[k] = fmt.Sprint(v)
		}
	case string:
		var m map[string]any
		if json.Unmarshal([]byte(x), &m) == nil {
			for k, v := range m {
				out[k] = fmt.Sprint(v)
			}
			break
		}
		for _, pair := range strings.Split(x, ",") {
			k, v, ok := strings.Cut(pair, "=")
			if !ok || strings.TrimSpace(k) == "" {
				panic(fmt.Sprintf("context %s: %q is not key=value", key, pair))
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// ContextBool reads true/false (cdk.json or -c key=false).
func ContextBool(scope constructs.Construct, key string, def bool) bool {
	switch x := scope.Node().TryGetContext(jsii.String(key)).(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(x) {
		case "on":
			return true
		case "off":
			return false
		}
		b, err := strconv.ParseBool(x)
		if err != nil {
			panic(fmt.Sprintf("context %s: %q is not true, false, on or off", key, x))
		}
		return b
	}
	return def
}

// FromContext builds props from CDK context keys: stage, allowedOrigins,
// assetDir, logRetentionDays (a number, or never), logLevel, tags,
// permissionsBoundary, detailedMetrics, throttleRate, throttleBurst,
// routeThrottles, deliveriesConcurrency, reservedConcurrency, backup,
// backupRetentionDays, backupVaultLock, backupCopyTo, dataEvents, authorizerTtl,
// alarmEmail, alarmTopicArn, concurrencyAlarm, terminationProtection (default true), domainName +
// certificateArn, edge (+ edgeWebAclArn, edgeRatePerIp, edgeRatePerToken,
// edgeCertificateArn, edgeOriginDomain), deployment, kmsKey, malwareProtection (default true),
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
		StackProps:            awscdk.StackProps{Env: env, TerminationProtection: jsii.Bool(ContextBool(scope, "terminationProtection", true))},
		StageName:             ContextString(scope, "stage", ""),
		AllowedOrigins:        contextStrings(scope, "allowedOrigins"),
		AssetDir:              ContextString(scope, "assetDir", ""),
		LogRetentionDays:      retentionDays(scope),
		LogLevel:              ContextString(scope, "logLevel", ""),
		Tags:                  contextMap(scope, "tags"),
		PermissionsBoundary:   ContextString(scope, "permissionsBoundary", ""),
		DetailedMetrics:       ContextBool(scope, "detailedMetrics", false),
		RouteThrottles:        routeThrottles(scope),
		DeliveriesConcurrency: contextNumber(scope, "deliveriesConcurrency"),
		ReservedConcurrency:   reservedConcurrency(scope),
		NoBackup:              !ContextBool(scope, "backup", true),
		BackupRetentionDays:   contextNumber(scope, "backupRetentionDays"),
		BackupVaultLock:       ContextBool(scope, "backupVaultLock", false),
		DataEvents:            ContextBool(scope, "dataEvents", false),
		BackupCopyTo:          ContextString(scope, "backupCopyTo", ""),
		ThrottleRate:          contextNumber(scope, "throttleRate"),
		ThrottleBurst:         contextNumber(scope, "throttleBurst"),
		AuthorizerTTL:         int(contextNumber(scope, "authorizerTtl")),
		AlarmEmail:            ContextString(scope, "alarmEmail", ""),
		AlarmTopicARN:         ContextString(scope, "alarmTopicArn", ""),
		ConcurrencyAlarm:      contextNumber(scope, "concurrencyAlarm"),
		DomainName:            ContextString(scope, "domainName", ""),
		CertificateARN:        ContextString(scope, "certificateArn", ""),
		Edge:                  ContextBool(scope, "edge", false),
		EdgeWebACLArn:         ContextString(scope, "edgeWebAclArn", ""),
		EdgeRatePerIP:         contextNumber(scope, "edgeRatePerIp"),
		EdgeRatePerToken:      contextNumber(scope, "edgeRatePerToken"),
		Deployment:            ContextString(scope, "deployment", ""),
		KMSKey:                ContextString(scope, "kmsKey", ""),
		NoMalwareProtection:   !ContextBool(scope, "malwareProtection", true),
		Console:               ContextBool(scope, "console", true),
	}
}

// retentionDays reads logRetentionDays: a number of days, or "never"
// (NeverExpire).
func retentionDays(scope constructs.Construct) int {
	if ContextString(scope, "logRetentionDays", "") == "never" {
		return NeverExpire
	}
	return int(contextNumber(scope, "logRetentionDays"))
}

// routeThrottles reads routeThrottles: per function, "rate:burst"
// (-c routeThrottles=batches=50:100,files=2000:4000, or a JSON object).
func routeThrottles(scope constructs.Construct) map[string]Throttle {
	out := map[string]Throttle{}
	for fn, v := range contextMap(scope, "routeThrottles") {
		r, b, ok := strings.Cut(v, ":")
		rate, err1 := strconv.ParseFloat(r, 64)
		burst, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil || rate <= 0 || burst <= 0 {
			panic(fmt.Sprintf("context routeThrottles: %s=%q is not rate:burst (two positive numbers)", fn, v))
		}
		out[fn] = Throttle{Rate: rate, Burst: burst}
	}
	return out
}

// reservedConcurrency reads reservedConcurrency: "recommended" (what
// RecommendedReservations reserves), or per function a number
// (-c reservedConcurrency=authorizer=100,sessions-open=50).
func reservedConcurrency(scope constructs.Construct) map[string]float64 {
	if ContextString(scope, "reservedConcurrency", "") == "recommended" {
		return RecommendedReservations
	}
	out := map[string]float64{}
	for fn, v := range contextMap(scope, "reservedConcurrency") {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("context reservedConcurrency: %s=%q is not a positive number", fn, v))
		}
		out[fn] = n
	}
	return out
}
