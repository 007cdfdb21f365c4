package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// addConsole deploys the built files console (props.ConsoleDir()) to a
// private bucket of its own that only CloudFront reads (origin access
// control), with the headers a page holding a token needs: its
// Content-Security-Policy (its own scripts and styles; connections to the
// API at api and to the buckets' regional endpoints, where parts go and
// previews come from), HSTS, no framing, no sniffing, no referrer.
// config.json tells the page where the API is. Hashed assets are cached
// for a year; index.html, request.html (the page a file request's link
// opens: the request-making function names it) and config.json
// revalidate, and each deploy invalidates them. The API's CORS must admit ConsoleUrl: allowedOrigins
// does by default ("*"); with a list, add it.
func (s *Stack) addConsole(props Props, api *string, out func(string, *string, string)) {
	if !props.Console {
		return
	}
	st := s.Stack
	bucket := awss3.NewBucket(st, jsii.String("Console"), &awss3.BucketProps{
		ServerAccessLogsBucket: s.accessLogs,
		ServerAccessLogsPrefix: jsii.String("console/"),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		// retained like the other buckets: CloudFormation cannot delete a
		// bucket with objects, and auto-deletion would add a custom
		// resource's function for a bucket of a few hundred KB
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	storage := []string{"https://" + *s.Bucket.BucketRegionalDomainName(), "https://" + *s.Previews.BucketRegionalDomainName()}
	headers := awscloudfront.NewResponseHeadersPolicy(st, jsii.String("ConsoleHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("Anexo console: CSP, HSTS, no framing, no sniffing, no referrer"),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: jsii.String(httpapi.ConsoleCSP(*api, storage...)), Override: jsii.Bool(true)},
			ContentTypeOptions:    &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:          &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy:        &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_NO_REFERRER, Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(365)),
				IncludeSubdomains: jsii.Bool(true), Override: jsii.Bool(true)},
		},
		CustomHeadersBehavior: &awscloudfront.ResponseCustomHeadersBehavior{CustomHeaders: &[]*awscloudfront.ResponseCustomHeader{
			{Header: jsii.String("Cross-Origin-Opener-Policy"), Value: jsii.String("same-origin"), Override: jsii.Bool(true)}}},
	})
	dist := awscloudfront.NewDistribution(st, jsii.String("ConsoleEdge"), &awscloudfront.DistributionProps{
		Comment:           jsii.String("Anexo files console"),
		DefaultRootObject: jsii.String("index.html"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
		},
		HttpVersion: awscloudfront.HttpVersion_HTTP2_AND_3,
	})
	logs := awslogs.NewLogGroup(st, jsii.String("ConsoleDeployLogs"), &awslogs.LogGroupProps{
		Retention: retention(props.LogRetentionDays), RemovalPolicy: awscdk.RemovalPolicy_DESTROY, EncryptionKey: s.key,
	})
	// the hashed assets first, cached for good; then the page and its
	// configuration, revalidated and invalidated at each deploy
	assets := awss3deployment.NewBucketDeployment(st, jsii.String("ConsoleAssets"), &awss3deployment.BucketDeploymentProps{
		DestinationBucket: bucket,
		Sources:           &[]awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(props.ConsoleDir()), nil)},
		Include:           jsii.Strings("assets/*"),
		Exclude:           jsii.Strings("*"),
		Prune:             jsii.Bool(false), // pages still open keep their scripts
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String("public, max-age=31536000, immutable"))},
		LogGroup:          logs,
	})
	page := awss3deployment.NewBucketDeployment(st, jsii.String("ConsolePage"), &awss3deployment.BucketDeploymentProps{
		DestinationBucket: bucket,
		Sources: &[]awss3deployment.ISource{
			awss3deployment.Source_Asset(jsii.String(props.ConsoleDir()), nil),
			awss3deployment.Source_JsonData(jsii.String("config.json"), map[string]any{"endpoint": api}, nil),
		},
		Exclude:           jsii.Strings("assets/*", "sizes.json"),
		Prune:             jsii.Bool(false),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_NoCache()},
		Distribution:      dist,
		DistributionPaths: jsii.Strings("/", "/index.html", "/request.html", "/config.json"),
		LogGroup:          logs,
	})
	page.Node().AddDependency(assets)
	suppress(dist, true,
		finding{"AwsSolutions-CFR1", "The console is the same static files for everyone; who may do what is the token's (the API's answers), so no country is refused", nil},
		finding{"AwsSolutions-CFR2", "Static files only: nothing behind this distribution takes input; the API the page calls has its own throttles (and WAF under -c edge=true)", nil},
		finding{"AwsSolutions-CFR3", "Static files, the same for every viewer, carrying no data: the API logs every request the page makes", nil},
		finding{"AwsSolutions-CFR4", "The console is served at *.cloudfront.net with CloudFront's default certificate, whose minimum CloudFront fixes (TLSv1); browsers negotiate TLS 1.3", nil})
	for _, c := range *st.Node().Children() {
		if strings.HasPrefix(*c.Node().Id(), "Custom::CDKBucketDeployment") {
			suppress(c, true,
				finding{"AwsSolutions-IAM4", "CDK's own deploy-time handler that copies the console's build into its bucket; it logs with AWSLambdaBasicExecutionRole",
					[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}},
				finding{"AwsSolutions-IAM5", "CDK's bucket deployment grants read of its asset objects and write of the console bucket's objects (wildcard actions and keys, as CDK generates them) and CloudFront invalidations (which take no resource); it runs at deploy time only", nil},
				finding{"AwsSolutions-L1", "CDK pins the bucket deployment handler's runtime with aws-cdk-lib; an upgrade of the library moves it", nil},
				finding{"Serverless-LambdaLatestVersion", "CDK pins the bucket deployment handler's runtime with aws-cdk-lib; an upgrade of the library moves it", nil},
				finding{"Serverless-LambdaDLQ", "A CloudFormation custom resource's handler: a failure fails the deploy, which reports it", nil},
				finding{"Serverless-LambdaTracing", "A deploy-time handler of CDK's, outside every request path", nil})
		}
	}
	// file requests' links open the console's request page (PAGE#secret)
	s.Functions[lambdas.Attachments].AddEnvironment(jsii.String("ANEXO_REQUEST_PAGE"),
		jsii.String("https://"+*dist.DistributionDomainName()+"/request.html"), nil)
	out("ConsoleUrl", jsii.String("https://"+*dist.DistributionDomainName()), "The files console (sign in with a token of the account)")
}
