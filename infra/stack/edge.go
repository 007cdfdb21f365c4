package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"
)

// addDomain serves the API at a custom domain (a regional API Gateway
// domain name with the ACM certificate of the stack's region); DNS points
// the name at the DomainTarget output.
func (s *Stack) addDomain(props Props, stage awsapigatewayv2.HttpStage, out func(string, *string, string)) {
	if (props.DomainName == "") != (props.CertificateARN == "") {
		panic("context domainName and certificateArn go together: -c domainName=files.example.com -c certificateArn=arn:aws:acm:…")
	}
	if props.DomainName == "" {
		return
	}
	cert := awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String("Certificate"), jsii.String(props.CertificateARN))
	dn := awsapigatewayv2.NewDomainName(s.Stack, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
		DomainName: jsii.String(props.DomainName), Certificate: cert, SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
	})
	awsapigatewayv2.NewApiMapping(s.Stack, jsii.String("DomainMapping"), &awsapigatewayv2.ApiMappingProps{Api: s.API, DomainName: dn, Stage: stage})
	out("DomainTarget", dn.RegionalDomainName(), "point "+props.DomainName+" here (CNAME, or an alias record)")
	out("DomainUrl", jsii.String("https://"+props.DomainName), "Base URL of the Anexo API at its domain")
}

// addEdge puts CloudFront in front of the API with a WAF web ACL: a
// rate-based rule per client IP and one per Authorization value (a token
// that floods is blocked wherever it comes from). Nothing is cached: every
// request reaches API Gateway with all its headers but Host. WAF for
// CloudFront lives in us-east-1: the stack creates the ACL when it is
// deployed there, else it takes an existing one (edgeWebAclArn).
func (s *Stack) addEdge(props Props, out func(string, *string, string)) {
	if !props.Edge {
		return
	}
	acl := props.EdgeWebACLArn
	if acl == "" {
		if region := s.Stack.Region(); *awscdk.Token_IsUnresolved(region) || *region != "us-east-1" {
			panic("context edge needs the stack in us-east-1 (-c account=… -c region=us-east-1), where WAF for CloudFront lives, " +
				"or an existing CloudFront web ACL: -c edgeWebAclArn=arn:aws:wafv2:us-east-1:…:global/webacl/…")
		}
		acl = *s.webACL(props).AttrArn()
	}
	origin := awscloudfrontorigins.NewHttpOrigin(awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), s.API.ApiEndpoint(), nil)),
		&awscloudfrontorigins.HttpOriginProps{ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTPS_ONLY, OriginPath: stagePath(props.StageName)})
	dist := awscloudfront.NewDistribution(s.Stack, jsii.String("Edge"), &awscloudfront.DistributionProps{
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
	})
	out("EdgeUrl", jsii.String("https://"+*dist.DistributionDomainName()), "Base URL of the Anexo API through CloudFront and WAF")
}

// stagePath is the origin path of a named stage ("" for $default).
func stagePath(stage string) *string {
	if stage == "$default" || stage == "" {
		return nil
	}
	return jsii.String("/" + stage)
}

// webACL is the edge's ACL: two rate-based rules, each blocking a key past
// its limit per 5 minutes.
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
	return awswafv2.NewCfnWebACL(s.Stack, jsii.String("EdgeAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("CLOUDFRONT"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("AnexoEdge"),
		Rules: &[]any{
			rule("RatePerIp", 0, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("IP"),
				Limit: jsii.Number(props.EdgeRatePerIP), EvaluationWindowSec: jsii.Number(300)}),
			rule("RatePerToken", 1, &awswafv2.CfnWebACL_RateBasedStatementProperty{AggregateKeyType: jsii.String("CUSTOM_KEYS"),
				Limit: jsii.Number(props.EdgeRatePerToken), EvaluationWindowSec: jsii.Number(300),
				CustomKeys: &[]any{&awswafv2.CfnWebACL_RateBasedStatementCustomKeyProperty{Header: &awswafv2.CfnWebACL_RateLimitHeaderProperty{
					Name:                jsii.String("authorization"),
					TextTransformations: &[]any{&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("NONE")}},
				}}}}),
		},
	})
}

// edgeDefaults are the rate limits per 5 minutes.
const (
	defaultEdgeRatePerIP    = 2000
	defaultEdgeRatePerToken = 10000
)
