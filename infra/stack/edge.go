package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/inbound/httpapi"
)

// addDomain serves the API at a custom domain: without the edge, a
// regional API Gateway domain name with the ACM certificate of the
// stack's region (DNS points the name at the DomainTarget output); with
// the edge, the name is CloudFront's (addEdge), so that no request to it
// passes around WAF.
func (s *Stack) addDomain(props Props, stage awsapigatewayv2.HttpStage, out func(string, *string, string)) {
	if (props.DomainName == "") != (props.CertificateARN == "") {
		panic("context domainName and certificateArn go together: -c domainName=files.example.com -c certificateArn=arn:aws:acm:…")
	}
	if props.DomainName == "" || props.Edge {
		return
	}
	s.regionalDomain("Domain", props.DomainName, props.CertificateARN, stage)
	out("DomainTarget", s.regional.RegionalDomainName(), "point "+props.DomainName+" here (CNAME, or an alias record)")
	out("DomainUrl", jsii.String("https://"+props.DomainName), "Base URL of the Anexo API at its domain")
}

// regionalDomain maps the stage at a regional API Gateway domain name.
func (s *Stack) regionalDomain(id, name, certificate string, stage awsapigatewayv2.HttpStage) {
	cert := awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String(id+"Certificate"), jsii.String(certificate))
	s.regional = awsapigatewayv2.NewDomainName(s.Stack, jsii.String(id), &awsapigatewayv2.DomainNameProps{
		DomainName: jsii.String(name), Certificate: cert, SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
	})
	awsapigatewayv2.NewApiMapping(s.Stack, jsii.String(id+"Mapping"), &awsapigatewayv2.ApiMappingProps{Api: s.API, DomainName: s.regional, Stage: stage})
}

// addEdge puts CloudFront in front of the API with a WAF web ACL: AWS's
// managed rule groups and a rate-based rule per client IP and one per
// Authorization value (a token that floods is blocked wherever it comes
// from). Nothing is cached: every request reaches API Gateway with all its
// headers but Host, and with the origin secret (X-Origin-Verify), without
// which the API refuses a request: the execute-api URL no longer bypasses
// WAF. With domainName the name is the distribution's (its certificate in
// us-east-1); with edgeOriginDomain CloudFront reaches the API at that
// regional domain and the execute-api endpoint is switched off. WAF for
// CloudFront lives in us-east-1: the stack creates the ACL (and its log
// group) when it is deployed there, else it takes an existing one
// (edgeWebAclArn).
func (s *Stack) addEdge(props Props, stage awsapigatewayv2.HttpStage, out func(string, *string, string)) awscloudfront.Distribution {
	if !props.Edge {
		if props.EdgeOriginDomain != "" || props.EdgeCertificateARN != "" {
			panic("context edgeOriginDomain and edgeCertificateArn need -c edge=true")
		}
		return nil
	}
	region := s.Stack.Region()
	inUSEast1 := !*awscdk.Token_IsUnresolved(region) && *region == "us-east-1"
	acl := props.EdgeWebACLArn
	if acl == "" {
		if !inUSEast1 {
			panic("context edge needs the stack in us-east-1 (-c account=… -c region=us-east-1), where WAF for CloudFront lives, " +
				"or an existing CloudFront web ACL: -c edgeWebAclArn=arn:aws:wafv2:us-east-1:…:global/webacl/…")
		}
		acl = *s.webACL(props).AttrArn()
	}
	var host, path *string
	if props.EdgeOriginDomain == "" {
		host, path = awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), s.API.ApiEndpoint(), nil)), stagePath(props.StageName)
	} else {
		if props.CertificateARN == "" {
			panic("context edgeOriginDomain needs certificateArn: a certificate of the stack's region for " + props.EdgeOriginDomain)
		}
		s.regionalDomain("OriginDomain", props.EdgeOriginDomain, props.CertificateARN, stage)
		host, path = jsii.String(props.EdgeOriginDomain), nil
		out("OriginTarget", s.regional.RegionalDomainName(), "point "+props.EdgeOriginDomain+" here (CNAME, or an alias record): CloudFront's origin")
	}
	origin := awscloudfrontorigins.NewHttpOrigin(host, &awscloudfrontorigins.HttpOriginProps{ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
		OriginPath: path, CustomHeaders: &map[string]*string{"X-Origin-Verify": s.originSecret.SecretValue().UnsafeUnwrap()}})
	dp := &awscloudfront.DistributionProps{
		Comment: jsii.String("Anexo API behind WAF"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               origin,
			AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
			// no caching: with it, CloudFront forwards Authorization too
			CachePolicy:         awscloudfront.CachePolicy_CACHING_DISABLED(),
			OriginRequestPolicy: awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
		},
		HttpVersion: awscloudfront.HttpVersion_HTTP2_AND_3,
		WebAclId:    jsii.String(acl),
		// a line per viewer request (CloudFront's standard logs, free but
		// for storage), in a bucket of their own: they still need ACLs
		EnableLogging: jsii.Bool(true),
		LogBucket:     newLogBucket(s.Stack, "EdgeLogs", props, awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED, s.accessLogs),
		LogFilePrefix: jsii.String("cloudfront/"),
	}
	if props.DomainName != "" {
		cert := props.EdgeCertificateARN
		if cert == "" && inUSEast1 {
			cert = props.CertificateARN
		}
		if !strings.HasPrefix(cert, "arn:aws:acm:us-east-1:") {
			panic("context domainName with edge: CloudFront takes a certificate of us-east-1: -c edgeCertificateArn=arn:aws:acm:us-east-1:…")
		}
		dp.DomainNames = jsii.Strings(props.DomainName)
		// TLS 1.2 or newer at the viewer (settable only with a certificate
		// of one's own: cloudfront.net's default one allows TLS 1.0)
		dp.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
		dp.Certificate = awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String("EdgeCertificate"), jsii.String(cert))
	}
	dist := awscloudfront.NewDistribution(s.Stack, jsii.String("Edge"), dp)
	out("EdgeUrl", jsii.String("https://"+*dist.DistributionDomainName()), "Base URL of the Anexo API through CloudFront and WAF")
	if props.DomainName != "" {
		out("DomainTarget", dist.DistributionDomainName(), "point "+props.DomainName+" here (CNAME, or an alias record to CloudFront)")
		out("DomainUrl", jsii.String("https://"+props.DomainName), "Base URL of the Anexo API at its domain (through CloudFront and WAF)")
	}
	return dist
}

// newOriginSecret is the edge's shared secret: CloudFront sends it to the
// API in X-Origin-Verify; the functions and the authorizer refuse a
// request without it (ANEXO_ORIGIN_SECRET). Rotate it by changing the
// secret's value and deploying again.
func (s *Stack) newOriginSecret() {
	s.originSecret = awssecretsmanager.NewSecret(s.Stack, jsii.String("EdgeOriginSecret"), &awssecretsmanager.SecretProps{
		Description:          jsii.String("Anexo: the header CloudFront adds and the API checks (X-Origin-Verify)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true)},
	})
}

// stagePath is the origin path of a named stage ("" for $default).
func stagePath(stage string) *string {
	if stage == "$default" || stage == "" {
		return nil
	}
	return jsii.String("/" + stage)
}

// webACL is the edge's ACL: AWS's managed rule groups (common threats,
// known bad inputs, IP reputation), then rate-based rules, each blocking
// a key past its limit per 5 minutes (an address; a token; on a file
// request's public routes, an address and a link); its log
// (Authorization, the origin secret and a request's link redacted) in a
// CloudWatch group.
func (s *Stack) webACL(props Props) awswafv2.CfnWebACL {
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true)}
	}
	rule := func(name string, priority int, st *awswafv2.CfnWebACL_RateBasedStatementProperty) *awswafv2.CfnWebACL_RuleProperty {
		return &awswafv2.CfnWebACL_RuleProperty{Name: jsii.String(name), Priority: jsii.Number(priority),
			Action:           &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: st},
			VisibilityConfig: visibility(name)}
	}
	managed := func(name string, priority int, counted ...string) *awswafv2.CfnWebACL_RuleProperty {
		var overrides []any
		for _, r := range counted {
			overrides = append(overrides, &awswafv2.CfnWebACL_RuleActionOverrideProperty{Name: jsii.String(r),
				ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}}})
		}
		st := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{VendorName: jsii.String("AWS"), Name: jsii.String(name)}
		if len(overrides) > 0 {
			st.RuleActionOverrides = &overrides
		}
		return &awswafv2.CfnWebACL_RuleProperty{Name: jsii.String(name), Priority: jsii.Number(priority),
			OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: st},
			VisibilityConfig: visibility(name)}
	}
	acl := awswafv2.NewCfnWebACL(s.Stack, jsii.String("EdgeAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("CLOUDFRONT"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("AnexoEdge"),
		Rules: &[]any{
			managed("AWSManagedRulesAmazonIpReputationList", 0),
			// bodies are file bytes (Wegly batches, Kommo's parts): the
			// rules that read a body would block files by their content,
			// so they count (and log) instead
			managed("AWSManagedRulesCommonRuleSet", 1, BodyRulesCounted...),
			managed("AWSManagedRulesKnownBadInputsRuleSet", 2, "Log4JRCE_BODY", "JavaDeserializationRCE_BODY"),
			rule("RatePerIp", 3, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("IP"),
				Limit: jsii.Number(props.EdgeRatePerIP), EvaluationWindowSec: jsii.Number(300)}),
			rule("RatePerToken", 4, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("CUSTOM_KEYS"),
				Limit: jsii.Number(props.EdgeRatePerToken), EvaluationWindowSec: jsii.Number(300),
				CustomKeys: &[]any{&awswafv2.CfnWebACL_RateBasedStatementCustomKeyProperty{Header: &awswafv2.CfnWebACL_RateLimitHeaderProperty{
					Name:                jsii.String("authorization"),
					TextTransformations: &[]any{&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
				}}}}),
			// a file request's link opened, or a file's upload opened
			// through it: per address, and per link (whoever holds it)
			rule("RequestLinkPerIp", 5, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("IP"),
				Limit: jsii.Number(RequestLinkRatePerIP), EvaluationWindowSec: jsii.Number(300), ScopeDownStatement: requestLinkRoutes()}),
			rule("RequestLinkPerLink", 6, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("CUSTOM_KEYS"),
				Limit: jsii.Number(RequestLinkRatePerLink), EvaluationWindowSec: jsii.Number(300), ScopeDownStatement: requestLinkRoutes(),
				CustomKeys: &[]any{&awswafv2.CfnWebACL_RateBasedStatementCustomKeyProperty{Header: &awswafv2.CfnWebACL_RateLimitHeaderProperty{
					Name:                jsii.String(strings.ToLower(httpapi.RequestHeader)),
					TextTransformations: &[]any{&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
				}}}}),
		},
	})
	// WAF logs to a group whose name starts with aws-waf-logs-; tokens
	// and the origin secret never reach it
	logs := awslogs.NewLogGroup(s.Stack, jsii.String("EdgeAclLogs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("aws-waf-logs-" + *s.Stack.StackName()), Retention: retention(props.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	awswafv2.NewCfnLoggingConfiguration(s.Stack, jsii.String("EdgeAclLogging"), &awswafv2.CfnLoggingConfigurationProps{
		ResourceArn: acl.AttrArn(), LogDestinationConfigs: &[]any{logs.LogGroupArn()},
		RedactedFields: &[]any{
			&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": "authorization"}},
			&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": "x-origin-verify"}},
			&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": strings.ToLower(httpapi.RequestHeader)}},
			&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{SingleHeader: map[string]any{"Name": strings.ToLower(httpapi.PasscodeHeader)}},
		},
	})
	return acl
}

// The rate limits of a file request's public routes that a person calls
// once per file (reading the request, opening an upload), per 5 minutes:
// per address, and per link. Part URLs and completions fall under the
// general per-address rule (a part URL per 8 MiB part).
const (
	RequestLinkRatePerIP   = 100
	RequestLinkRatePerLink = 300
)

// requestLinkRoutes matches those routes' paths (as the viewer sends
// them: a stage's prefix, when there is one, is the origin's).
func requestLinkRoutes() *awswafv2.CfnWebACL_StatementProperty {
	match := func(suffix string) *awswafv2.CfnWebACL_StatementProperty {
		return &awswafv2.CfnWebACL_StatementProperty{ByteMatchStatement: &awswafv2.CfnWebACL_ByteMatchStatementProperty{
			FieldToMatch: &awswafv2.CfnWebACL_FieldToMatchProperty{UriPath: map[string]any{}}, PositionalConstraint: jsii.String("ENDS_WITH"),
			SearchString:        jsii.String(suffix),
			TextTransformations: &[]any{&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}}}}
	}
	return &awswafv2.CfnWebACL_StatementProperty{OrStatement: &awswafv2.CfnWebACL_OrStatementProperty{
		Statements: &[]any{match(httpapi.PublicRequestPath), match(httpapi.PublicRequestPath + "/uploads")}}}
}

// BodyRulesCounted are the common rule set's rules that read the request
// body: they count rather than block (a body is a file's bytes).
var BodyRulesCounted = []string{"SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY", "GenericRFI_BODY", "EC2MetaDataSSRF_BODY"}

// edgeDefaults are the rate limits per 5 minutes.
const (
	defaultEdgeRatePerIP    = 2000
	defaultEdgeRatePerToken = 10000
)
