package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/infra/cfnlint"
	"github.com/anexo/anexo/infra/stack"
	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/triggers"
	"github.com/anexo/anexo/shared/platform/iam"
)

// customProps set every operations option away from its default.
var customProps = stack.Props{
	Tags:                  map[string]string{"team": "crm", "cost-center": "42"},
	PermissionsBoundary:   "arn:aws:iam::123456789012:policy/anexo-boundary",
	LogRetentionDays:      400,
	LogLevel:              "debug",
	DetailedMetrics:       true,
	RouteThrottles:        map[string]stack.Throttle{lambdas.Batches: {Rate: 5, Burst: 10}},
	DeliveriesConcurrency: 5,
	ReservedConcurrency:   stack.RecommendedReservations,
	BackupRetentionDays:   90,
	BackupVaultLock:       true,
	BackupCopyTo:          "arn:aws:backup:sa-east-1:210987654321:backup-vault:anexo-copies",
	DataEvents:            true,
	Deployment:            stack.DeployLinear,
	KMSKey:                stack.CreateKey,
}

var customSynth *synth

func custom(t *testing.T) synth {
	if customSynth == nil {
		s := build(t, customProps)
		customSynth = &s
	}
	return *customSynth
}

// TestRouteThrottles: every route has its function's throttle (the
// defaults, or the one context sets), the defaults sum within API
// Gateway's regional quota, and the stage is created after the routes its
// settings name.
func TestRouteThrottles(t *testing.T) {
	sum := 0.0
	for _, th := range stack.DefaultRouteThrottles {
		sum += th.Rate
	}
	if sum > 10000 {
		t.Errorf("default route throttles sum to %v requests a second, past API Gateway's 10,000", sum)
	}
	cfnlint.Doc(t, custom(t).doc) // every option set (the default template: TestCDKSynth)
	for name, s := range map[string]synth{"default": defaults(t), "custom": custom(t)} {
		id, st := s.one(t, "AWS::ApiGatewayV2::Stage")
		settings := props(st)["RouteSettings"].(map[string]any)
		routes := httpapi.All()
		if len(settings) != len(routes) {
			t.Errorf("%s: %d route settings for %d routes", name, len(settings), len(routes))
		}
		for _, r := range routes {
			want := stack.DefaultRouteThrottles[r.Function]
			if name == "custom" && r.Function == lambdas.Batches {
				want = customProps.RouteThrottles[lambdas.Batches]
			}
			got, _ := settings[r.Key()].(map[string]any)
			if got["ThrottlingRateLimit"] != want.Rate || got["ThrottlingBurstLimit"] != want.Burst || got["DetailedMetricsEnabled"] != (name == "custom") {
				t.Errorf("%s: %s: %v, want %+v", name, r.Key(), got, want)
			}
		}
		deps, _ := json.Marshal(s.doc["Resources"].(map[string]any)[id].(map[string]any)["DependsOn"])
		for rid := range s.resources("AWS::ApiGatewayV2::Route") {
			if !strings.Contains(string(deps), `"`+rid+`"`) {
				t.Errorf("%s: the stage does not wait for route %s", name, rid)
			}
		}
	}
}

// TestConcurrencyIsolation: the deliveries' event source is capped (20 by
// default), nothing is reserved by default, and the recommended
// reservations go on the authorizer and the upload path.
func TestConcurrencyIsolation(t *testing.T) {
	for name, c := range map[string]struct {
		s    synth
		cap  float64
		kept map[string]float64
	}{"default": {defaults(t), stack.DefaultDeliveriesConcurrency, nil}, "custom": {custom(t), 5, stack.RecommendedReservations}} {
		ids := c.s.functionIDs(t)
		capped := 0
		for _, m := range c.s.resources("AWS::Lambda::EventSourceMapping") {
			if sc, ok := props(m)["ScalingConfig"].(map[string]any); ok {
				// the function, or its alias (custom deploys by CodeDeploy)
				if fn, _ := json.Marshal(props(m)["FunctionName"]); sc["MaximumConcurrency"] != c.cap ||
					!strings.Contains(string(fn), ids[lambdas.Deliveries]) && !strings.Contains(string(fn), "FnDeliveriesLive") {
					t.Errorf("%s: the capped mapping %s, %v", name, fn, sc)
				}
				capped++
			}
		}
		if capped != 1 {
			t.Errorf("%s: %d capped mappings", name, capped)
		}
		fns := c.s.resources("AWS::Lambda::Function")
		for fn, id := range ids {
			got, ok := props(fns[id])["ReservedConcurrentExecutions"]
			if want, reserve := c.kept[fn]; ok != reserve || (ok && got != want) {
				t.Errorf("%s: %s reserves %v, want %v", name, fn, got, c.kept[fn])
			}
		}
	}
	if len(stack.RecommendedReservations) != 4 || stack.RecommendedReservations[lambdas.Authorizer] == 0 {
		t.Errorf("recommended reservations: %v", stack.RecommendedReservations)
	}
}

// TestBackups: AWS Backup's daily plan covers both tables and the bucket,
// kept 35 days in a retained vault, with a role that may back up and
// restore S3 too; the custom synth locks the vault and copies each
// recovery point to another account's vault.
func TestBackups(t *testing.T) {
	def := defaults(t)
	_, plan := def.one(t, "AWS::Backup::BackupPlan")
	b, _ := json.Marshal(props(plan))
	for _, want := range []string{`"DeleteAfterDays":35`, `"ScheduleExpression":"cron(0 3 * * ? *)"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("backup plan lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "CopyActions") {
		t.Errorf("a copy action by default: %s", b)
	}
	_, sel := def.one(t, "AWS::Backup::BackupSelection")
	res, _ := json.Marshal(props(sel)["BackupSelection"].(map[string]any)["Resources"])
	for _, id := range []string{"Metadata", "SigningKeys", "Files"} {
		if !strings.Contains(string(res), `"`+id) {
			t.Errorf("backup selection lacks %s: %s", id, res)
		}
	}
	_, vault := def.one(t, "AWS::Backup::BackupVault")
	if vault["DeletionPolicy"] != "Retain" || props(vault)["LockConfiguration"] != nil {
		t.Errorf("vault: %v", vault)
	}
	role, _ := json.Marshal(def.resources("AWS::IAM::Role"))
	for _, policy := range []string{"AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores", "AWSBackupServiceRolePolicyForS3Backup", "AWSBackupServiceRolePolicyForS3Restore"} {
		if !strings.Contains(string(role), policy) {
			t.Errorf("no role has %s", policy)
		}
	}

	c := custom(t)
	_, vault = c.one(t, "AWS::Backup::BackupVault")
	if lock, _ := json.Marshal(props(vault)["LockConfiguration"]); string(lock) != `{"ChangeableForDays":3,"MinRetentionDays":90}` {
		t.Errorf("vault lock: %s", lock)
	}
	_, plan = c.one(t, "AWS::Backup::BackupPlan")
	if b, _ := json.Marshal(props(plan)); !strings.Contains(string(b), `"DestinationBackupVaultArn":"`+customProps.BackupCopyTo+`"`) ||
		!strings.Contains(string(b), `"DeleteAfterDays":90`) {
		t.Errorf("backup plan with a copy: %s", b)
	}

	off := build(t, stack.Props{NoBackup: true, NoMalwareProtection: true})
	off.tpl.ResourceCountIs(jsii.String("AWS::Backup::BackupPlan"), jsii.Number(0))
	// and without malware protection: no plan, no rule, no deny, versions off
	off.tpl.ResourceCountIs(jsii.String("AWS::GuardDuty::MalwareProtectionPlan"), jsii.Number(0))
	if b, _ := json.Marshal(off.doc); strings.Contains(string(b), "ANEXO_MALWARE_SCANNING") || strings.Contains(string(b), scanning.Tag) ||
		strings.Contains(string(b), triggers.ScanResultDetailType) || strings.Contains(string(b), "guardduty:SendObjectMalwareScan") {
		t.Error("a stack without malware protection scans, rescans, routes scan results or denies on the scan tag")
	}
}

// TestMalwareProtection: the bucket has a GuardDuty malware protection
// plan that tags, with a role GuardDuty assumes and that reads and tags the
// bucket's objects; the bucket sends EventBridge notifications (the plan's
// trigger); a rule on the default bus sends the bucket's scan results to
// the scans function (retried, then the async failures queue); the bucket
// refuses GetObject on objects tagged THREATS_FOUND to all but the
// scanner; every function knows scanning is on.
func TestMalwareProtection(t *testing.T) {
	s := defaults(t)
	ids := s.functionIDs(t)
	bucket := map[string]any{"Ref": bucketID(t, s)}
	_, plan := s.one(t, "AWS::GuardDuty::MalwareProtectionPlan")
	p := props(plan)
	roleRef := p["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	if fmt.Sprint(p["ProtectedResource"]) != fmt.Sprint(map[string]any{"S3Bucket": map[string]any{"BucketName": bucket}}) ||
		fmt.Sprint(p["Actions"]) != fmt.Sprint(map[string]any{"Tagging": map[string]any{"Status": "ENABLED"}}) {
		t.Errorf("plan: %v", p)
	}
	role := s.resources("AWS::IAM::Role")[roleRef]
	if b, _ := json.Marshal(props(role)["AssumeRolePolicyDocument"]); !strings.Contains(string(b), `"Service":"malware-protection-plan.guardduty.amazonaws.com"`) {
		t.Errorf("the plan's role trusts %s", b)
	}
	var granted []string
	for _, pol := range s.resources("AWS::IAM::Policy") {
		if fmt.Sprint(props(pol)["Roles"]) != fmt.Sprint([]any{map[string]any{"Ref": roleRef}}) {
			continue
		}
		for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			switch a := st.(map[string]any)["Action"].(type) {
			case string:
				granted = append(granted, a)
			case []any:
				for _, x := range a {
					granted = append(granted, x.(string))
				}
			}
		}
	}
	for _, want := range []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
		"s3:PutBucketNotification", "events:PutRule", "events:PutTargets"} {
		if !slices.Contains(granted, want) {
			t.Errorf("the plan's role lacks %s (has %v)", want, granted)
		}
	}
	nc, _ := json.Marshal(s.resources("Custom::S3BucketNotifications"))
	if !strings.Contains(string(nc), `"EventBridgeConfiguration":{}`) {
		t.Errorf("the bucket does not send EventBridge notifications: %s", nc)
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), assertions.Match_ObjectLike(obj(map[string]any{
		"EventPattern": map[string]any{"source": []any{triggers.ScanResultSource}, "detail-type": []any{triggers.ScanResultDetailType},
			"detail": map[string]any{"resourceType": []any{"S3_OBJECT"}, "s3ObjectDetails": map[string]any{"bucketName": []any{bucket}}}},
		"Targets": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(obj(map[string]any{
			"Arn":              assertions.Match_AnyValue(),
			"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 2},
			"DeadLetterConfig": assertions.Match_ObjectLike(obj(map[string]any{"Arn": assertions.Match_AnyValue()}))}))}),
	})))
	rules, _ := json.Marshal(s.resources("AWS::Events::Rule"))
	if !strings.Contains(string(rules), ids[lambdas.Scans]) {
		t.Errorf("no rule targets the scans function %s", ids[lambdas.Scans])
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), assertions.Match_ObjectLike(obj(map[string]any{
		"Bucket": bucket,
		"PolicyDocument": assertions.Match_ObjectLike(obj(map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(obj(map[string]any{"Sid": "NoInfectedObjectServed", "Effect": "Deny", "Principal": map[string]any{"AWS": "*"},
				"Action": []any{"s3:GetObject", "s3:GetObjectVersion"},
				"Condition": map[string]any{"StringEquals": map[string]any{"s3:ExistingObjectTag/" + scanning.Tag: "THREATS_FOUND"},
					"ArnNotEquals": map[string]any{"aws:PrincipalArn": map[string]any{"Fn::GetAtt": []any{roleRef, "Arn"}}}}}))})}))})))
	for fn, id := range ids {
		env := props(s.resources("AWS::Lambda::Function")[id])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if env["ANEXO_MALWARE_SCANNING"] != "1" {
			t.Errorf("%s does not know scanning is on", fn)
		}
	}
}

// TestPermanentDeletes: the bucket denies s3:DeleteObjectVersion to every
// principal but the roles of the functions iam.Policies grants it to.
func TestPermanentDeletes(t *testing.T) {
	s := defaults(t)
	ids := s.functionIDs(t)
	var want []string
	for fn, statements := range iam.Policies {
		for _, st := range statements {
			if slices.Contains(st.Actions, iam.DeleteObjectVersion) {
				want = append(want, fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, roleOf(t, s, ids[fn])))
				break
			}
		}
	}
	if len(want) == 0 || len(want) == len(ids) {
		t.Fatalf("%d of %d functions may delete versions", len(want), len(ids))
	}
	slices.Sort(want)
	var policy map[string]any
	for _, p := range s.resources("AWS::S3::BucketPolicy") {
		if fmt.Sprint(props(p)["Bucket"]) == fmt.Sprint(map[string]any{"Ref": bucketID(t, s)}) {
			policy = p
		}
	}
	for _, st := range props(policy)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		m := st.(map[string]any)
		if m["Action"] != iam.DeleteObjectVersion {
			continue
		}
		var got []string
		for _, arn := range m["Condition"].(map[string]any)["ArnNotEquals"].(map[string]any)["aws:PrincipalArn"].([]any) {
			b, _ := json.Marshal(arn)
			got = append(got, string(b))
		}
		slices.Sort(got)
		if m["Effect"] != "Deny" || fmt.Sprint(m["Principal"]) != "map[AWS:*]" || !slices.Equal(got, want) {
			t.Fatalf("permanent deletes: %v; want a Deny to all but %v", m, want)
		}
		return
	}
	t.Fatal("the bucket policy does not limit permanent deletes")
}

// bucketID is the files bucket's logical id.
func bucketID(t *testing.T, s synth) string { return bucketNamed(t, s, "Files") }

// bucketNamed is the logical id of the bucket whose construct id is name.
func bucketNamed(t *testing.T, s synth, name string) string {
	t.Helper()
	for id := range s.resources("AWS::S3::Bucket") {
		if strings.HasPrefix(id, name) {
			return id
		}
	}
	t.Fatalf("no bucket %s", name)
	return ""
}

// roleOf is the logical id of a function's role.
func roleOf(t *testing.T, s synth, fnID string) string {
	t.Helper()
	role := props(s.resources("AWS::Lambda::Function")[fnID])["Role"].(map[string]any)["Fn::GetAtt"].([]any)
	return role[0].(string)
}

// TestTagsBoundaryLogs: app and stage tags (and context's) on resources,
// a permissions boundary on every role, any retention CloudWatch allows,
// the functions' log level, and the event archive.
func TestTagsBoundaryLogs(t *testing.T) {
	def, c := defaults(t), custom(t)
	tags := func(s synth, typ string) map[string]string {
		out := map[string]string{}
		for _, r := range s.resources(typ) {
			for _, tag := range props(r)["Tags"].([]any) {
				m := tag.(map[string]any)
				out[m["Key"].(string)] = m["Value"].(string)
			}
			break
		}
		return out
	}
	if got := tags(def, "AWS::DynamoDB::Table"); fmt.Sprint(got) != "map[app:anexo stage:default]" {
		t.Errorf("default tags: %v", got)
	}
	if got := tags(c, "AWS::Lambda::Function"); fmt.Sprint(got) != "map[app:anexo cost-center:42 stage:default team:crm]" {
		t.Errorf("custom tags: %v", got)
	}
	for id, r := range c.resources("AWS::IAM::Role") {
		if b, _ := json.Marshal(props(r)["PermissionsBoundary"]); !strings.Contains(string(b), customProps.PermissionsBoundary) {
			t.Errorf("role %s has no boundary: %s", id, b)
		}
	}
	for _, r := range def.resources("AWS::IAM::Role") {
		if props(r)["PermissionsBoundary"] != nil {
			t.Errorf("a boundary by default: %v", r)
		}
	}
	for name, s := range map[string]struct {
		s     synth
		days  float64
		level string
	}{"default": {def, 30, "INFO"}, "custom": {c, 400, "DEBUG"}} {
		for id, lg := range s.s.resources("AWS::Logs::LogGroup") {
			if props(lg)["RetentionInDays"] != s.days {
				t.Errorf("%s: log group %s keeps %v days", name, id, props(lg)["RetentionInDays"])
			}
		}
		for fn, id := range s.s.functionIDs(t) {
			cfg, _ := props(s.s.resources("AWS::Lambda::Function")[id])["LoggingConfig"].(map[string]any)
			if cfg["ApplicationLogLevel"] != s.level || cfg["LogFormat"] != "JSON" {
				t.Errorf("%s: %s logs %v", name, fn, cfg)
			}
		}
	}
	_, archive := def.one(t, "AWS::Events::Archive")
	if p := props(archive); p["RetentionDays"] != 30.0 || fmt.Sprint(p["EventPattern"]) != "map[source:[anexo]]" || p["KmsKeyIdentifier"] != nil {
		t.Errorf("archive: %v", p)
	}
}

// TestOperationsContext: the -c spellings of the options, and the values
// refused with a message naming the key.
func TestOperationsContext(t *testing.T) {
	fromContext := func(ctx map[string]any) stack.Props {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		for k, v := range ctx {
			app.Node().SetContext(jsii.String(k), v)
		}
		return stack.FromContext(app)
	}
	p := fromContext(map[string]any{"tags": "team=crm, cost-center=42", "logRetentionDays": "never", "logLevel": "warn",
		"routeThrottles": "batches=50:100", "reservedConcurrency": "recommended", "deliveriesConcurrency": "7",
		"backup": "false", "backupVaultLock": "true", "permissionsBoundary": "boundary", "detailedMetrics": "true",
		"deployment": "linear", "malwareProtection": "off"})
	got := fmt.Sprintf("%v %d %s %v %v %v %v %v %s %v %s %v", p.Tags, p.LogRetentionDays, p.LogLevel, p.RouteThrottles, len(p.ReservedConcurrency),
		p.DeliveriesConcurrency, p.NoBackup, p.BackupVaultLock, p.PermissionsBoundary, p.DetailedMetrics, p.Deployment, p.NoMalwareProtection)
	if want := "map[cost-center:42 team:crm] -1 warn map[batches:{50 100}] 4 7 true true boundary true linear true"; got != want {
		t.Errorf("from context: %s, want %s", got, want)
	}
	if p := fromContext(map[string]any{"tags": map[string]any{"team": "crm"}, "reservedConcurrency": "authorizer=10"}); p.Tags["team"] != "crm" ||
		p.ReservedConcurrency[lambdas.Authorizer] != 10 || fromContext(nil).NoBackup {
		t.Errorf("JSON tags, one reservation: %+v", p)
	}
	dir := assets(t)
	for ctx, want := range map[string]string{
		"logRetentionDays=45":        "CloudWatch Logs keeps logs",
		"logLevel=verbose":           "context logLevel",
		"routeThrottles=nosuch=1:2":  `"nosuch" is not a function with routes`,
		"routeThrottles=files=fast":  "not rate:burst",
		"deliveriesConcurrency=1":    "context deliveriesConcurrency",
		"reservedConcurrency=x=5":    `"x" is not a function`,
		"tags=oops":                  "is not key=value",
		"reservedConcurrency=files=": "not a positive number",
		"deployment=blue-green":      "is not direct, canary or linear",
		"kmsKey=mine":                "neither create nor a KMS key's ARN",
		"backup=maybe":               `"maybe" is not true, false, on or off`,
	} {
		k, v, _ := strings.Cut(ctx, "=")
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			p := fromContext(map[string]any{k: v})
			p.AssetDir = dir
			stack.New(awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: featureFlags(t)}), "Anexo", p)
			return ""
		}()
		if !strings.Contains(msg, want) {
			t.Errorf("-c %s: %q, want a panic with %q", ctx, msg, want)
		}
	}
}

// TestAuditLogs: the files bucket's server access logs go to a bucket of
// their own (private, SSL only, retained, expired with the other logs);
// with dataEvents, a CloudTrail trail records every object-level call on
// the bucket (no management events, file validation on).
func TestAuditLogs(t *testing.T) {
	def := defaults(t)
	logsID := bucketNamed(t, def, "AccessLogs")
	def.tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(obj(map[string]any{
		"LoggingConfiguration": map[string]any{"DestinationBucketName": map[string]any{"Ref": logsID}, "LogFilePrefix": "files/"}})))
	logs := def.resources("AWS::S3::Bucket")[logsID]
	if b, _ := json.Marshal(logs); logs["DeletionPolicy"] != "Retain" || !strings.Contains(string(b), `"ExpirationInDays":30`) ||
		!strings.Contains(string(b), `"BlockPublicAcls":true`) {
		t.Errorf("access logs bucket: %s", b)
	}
	def.tpl.ResourceCountIs(jsii.String("AWS::CloudTrail::Trail"), jsii.Number(0))
	_, trail := custom(t).one(t, "AWS::CloudTrail::Trail")
	b, _ := json.Marshal(props(trail))
	if !strings.Contains(string(b), `"S3BucketName":{"Ref":"DataEventsLogs`) {
		t.Errorf("the trail does not write to its own bucket: %s", b)
	}
	custom(t).tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(obj(map[string]any{
		"LoggingConfiguration": map[string]any{"DestinationBucketName": map[string]any{"Ref": bucketNamed(t, custom(t), "AccessLogs")}, "LogFilePrefix": "DataEventsLogs/"}})))
	for _, want := range []string{`"EnableLogFileValidation":true`, `"IncludeManagementEvents":false`, `"ReadWriteType":"All"`, `"Type":"AWS::S3::Object"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("trail lacks %s: %s", want, b)
		}
	}
}

// TestDeployments: by default a deploy replaces the code at once (no
// alias); with linear (or canary, prod's default: TestStageThrottleAlarmsOutputs)
// every function gets the alias "live", which CodeDeploy shifts with
// that configuration and rolls back on the new version's error rate
// (its ExecutedVersion metrics), on a failed or a stopped deployment;
// everything that invokes a function invokes its alias — routes, the
// authorizer, the stream and queue mappings, the bucket's notification,
// the schedule — and the background functions' alias keeps their
// retries and failure destination.
func TestDeployments(t *testing.T) {
	def := defaults(t)
	def.tpl.ResourceCountIs(jsii.String("AWS::Lambda::Alias"), jsii.Number(0))
	def.tpl.ResourceCountIs(jsii.String("AWS::CodeDeploy::DeploymentGroup"), jsii.Number(0))
	s := custom(t)
	n := len(lambdas.All())
	aliases := s.resources("AWS::Lambda::Alias")
	if len(aliases) != n {
		t.Fatalf("%d aliases, want %d", len(aliases), n)
	}
	for id, a := range aliases {
		up, _ := a["UpdatePolicy"].(map[string]any)["CodeDeployLambdaAliasUpdate"].(map[string]any)
		if props(a)["Name"] != stack.LiveAlias || up == nil || up["DeploymentGroupName"] == nil {
			t.Errorf("alias %s: %v %v", id, props(a), a["UpdatePolicy"])
		}
	}
	groups := s.resources("AWS::CodeDeploy::DeploymentGroup")
	if len(groups) != n {
		t.Fatalf("%d deployment groups, want %d", len(groups), n)
	}
	alarms := s.resources("AWS::CloudWatch::Alarm")
	for id, g := range groups {
		p := props(g)
		rb, _ := json.Marshal(p["AutoRollbackConfiguration"])
		if p["DeploymentConfigName"] != "CodeDeployDefault.LambdaLinear10PercentEvery1Minute" ||
			string(rb) != `{"Enabled":true,"Events":["DEPLOYMENT_FAILURE","DEPLOYMENT_STOP_ON_REQUEST","DEPLOYMENT_STOP_ON_ALARM"]}` {
			t.Errorf("deployment group %s: %v %s", id, p["DeploymentConfigName"], rb)
		}
		ac := p["AlarmConfiguration"].(map[string]any)["Alarms"].([]any)
		name := ref(ac[0].(map[string]any)["Name"])
		m, _ := json.Marshal(alarms[name])
		if len(ac) != 1 || !strings.Contains(string(m), `"Name":"ExecutedVersion"`) || !strings.Contains(string(m), "100 * part / whole") {
			t.Errorf("deployment group %s rolls back on %s: %s", id, name, m)
		}
	}
	invokes := func(what string, v any) {
		b, _ := json.Marshal(v)
		hit := false
		for id := range aliases {
			hit = hit || strings.Contains(string(b), `"`+id+`"`)
		}
		if !hit && !strings.Contains(string(b), ":"+stack.LiveAlias) {
			t.Errorf("%s invokes no alias: %s", what, b)
		}
	}
	for id, in := range s.resources("AWS::ApiGatewayV2::Integration") {
		invokes("integration "+id, props(in)["IntegrationUri"])
	}
	_, authz := s.one(t, "AWS::ApiGatewayV2::Authorizer")
	invokes("the authorizer", props(authz)["AuthorizerUri"])
	for id, m := range s.resources("AWS::Lambda::EventSourceMapping") {
		invokes("mapping "+id, props(m)["FunctionName"])
	}
	_, notif := s.one(t, "Custom::S3BucketNotifications")
	invokes("the bucket's notification", props(notif)["NotificationConfiguration"])
	for id, r := range s.resources("AWS::Events::Rule") {
		if strings.HasPrefix(id, "SweeperSchedule") {
			invokes("the sweeper's schedule", props(r)["Targets"])
		}
	}
	configs := 0
	for id, c := range s.resources("AWS::Lambda::EventInvokeConfig") {
		if q, _ := json.Marshal(props(c)["Qualifier"]); strings.Contains(string(q), "Live") {
			configs++
			if b, _ := json.Marshal(props(c)); !strings.Contains(string(b), "OnFailure") || props(c)["MaximumRetryAttempts"] != 2.0 {
				t.Errorf("%s: %s", id, b)
			}
		}
	}
	if configs != len(lambdas.Background) {
		t.Errorf("%d aliases keep their async retries, want %d", configs, len(lambdas.Background))
	}
}

// TestDataKey: by default AWS's own keys encrypt everything; with kmsKey
// the bucket (SSE-KMS with a bucket key), both tables, the deliveries
// queues, the alarm topic and every log group are encrypted with the
// data key — created (rotated, retained, its policy open to CloudWatch
// Logs, CloudWatch alarms and EventBridge) or an existing one — and each
// function's role gets on it exactly what iam.Policy.WithKey derives from
// its policy, and knows its ARN (local mode checks the same grants).
func TestDataKey(t *testing.T) {
	def := defaults(t)
	def.tpl.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	if b, _ := json.Marshal(def.resources("AWS::S3::Bucket")[bucketID(t, def)]); !strings.Contains(string(b), `"SSEAlgorithm":"AES256"`) {
		t.Errorf("default bucket encryption: %s", b)
	}
	s := custom(t)
	keyID, key := s.one(t, "AWS::KMS::Key")
	kp, _ := json.Marshal(props(key)["KeyPolicy"])
	if props(key)["EnableKeyRotation"] != true || key["DeletionPolicy"] != "Retain" ||
		!strings.Contains(string(kp), "cloudwatch.amazonaws.com") || !strings.Contains(string(kp), "events.amazonaws.com") ||
		!strings.Contains(string(kp), "kms:EncryptionContext:aws:logs:arn") {
		t.Errorf("data key %v, policy %s", props(key), kp)
	}
	keyArn := map[string]any{"Fn::GetAtt": []any{keyID, "Arn"}}
	s.tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(obj(map[string]any{
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{"BucketKeyEnabled": true,
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keyArn}}}}})))
	for id, tb := range s.resources("AWS::DynamoDB::Table") {
		if b, _ := json.Marshal(props(tb)["SSESpecification"]); string(b) != `{"KMSMasterKeyId":{"Fn::GetAtt":["`+keyID+`","Arn"]},"SSEEnabled":true,"SSEType":"KMS"}` {
			t.Errorf("table %s: %s", id, b)
		}
	}
	encrypted := func(typ, prop string, want int) {
		n := 0
		for _, r := range s.resources(typ) {
			if b, _ := json.Marshal(props(r)[prop]); strings.Contains(string(b), keyID) {
				n++
			}
		}
		if n != want {
			t.Errorf("%d %s encrypted with the key, want %d", n, typ, want)
		}
	}
	encrypted("AWS::SQS::Queue", "KmsMasterKeyId", 2)
	encrypted("AWS::SNS::Topic", "KmsMasterKeyId", 1)
	encrypted("AWS::Logs::LogGroup", "KmsKeyId", len(lambdas.All())+1)
	ids := s.functionIDs(t)
	for fn, id := range ids {
		f := s.resources("AWS::Lambda::Function")[id]
		if env, _ := json.Marshal(props(f)["Environment"]); !strings.Contains(string(env), `"ANEXO_KMS_KEY":{"Fn::GetAtt":["`+keyID+`","Arn"]}`) {
			t.Errorf("%s does not know the key: %s", fn, env)
		}
		role := roleOf(t, s, id)
		var got []string
		for _, p := range s.resources("AWS::IAM::Policy") {
			if rs, _ := json.Marshal(props(p)["Roles"]); !strings.Contains(string(rs), `"`+role+`"`) {
				continue
			}
			for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				stm := st.(map[string]any)
				if r, _ := json.Marshal(stm["Resource"]); string(r) == `{"Fn::GetAtt":["`+keyID+`","Arn"]}` {
					b, _ := json.Marshal(stm["Action"])
					got = append(got, string(b))
				}
			}
		}
		var want []string
		if ws := iam.Policies[fn].WithKey(); ws[len(ws)-1].Resource.Kind == iam.KindKMSKey {
			b, _ := json.Marshal(ws[len(ws)-1].Actions)
			want = []string{string(b)}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s may %v on the key, want %v", fn, got, want)
		}
	}
	arn := "arn:aws:kms:sa-east-1:123456789012:key/1b0e6d1a-0000-4000-8000-000000000000"
	imported := build(t, stack.Props{KMSKey: arn})
	imported.tpl.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	imported.tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), assertions.Match_ObjectLike(obj(map[string]any{
		"SSESpecification": map[string]any{"KMSMasterKeyId": arn, "SSEEnabled": true, "SSEType": "KMS"}})))
}

// TestPreviewsStack: the previews live in a bucket of their own —
// unversioned, private, TLS only, logged, encrypted — which every
// function knows; a rule on the deployment's bus hands the version events
// to the previews function (retried, then the async failures queue).
func TestPreviewsStack(t *testing.T) {
	s := defaults(t)
	ids := s.functionIDs(t)
	var previews string
	for id, b := range s.resources("AWS::S3::Bucket") {
		if strings.HasPrefix(id, "Previews") {
			previews = id
			p := props(b)
			if p["VersioningConfiguration"] != nil || p["LoggingConfiguration"] == nil || p["BucketEncryption"] == nil ||
				fmt.Sprint(p["PublicAccessBlockConfiguration"]) != fmt.Sprint(map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}) {
				t.Errorf("the previews bucket: %v", p)
			}
		}
	}
	if previews == "" {
		t.Fatal("no previews bucket")
	}
	for fn, id := range ids {
		env := props(s.resources("AWS::Lambda::Function")[id])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if fmt.Sprint(env["PREVIEWS_BUCKET_NAME"]) != fmt.Sprint(map[string]any{"Ref": previews}) {
			t.Errorf("%s does not know the previews bucket: %v", fn, env["PREVIEWS_BUCKET_NAME"])
		}
	}
	types := make([]any, len(triggers.PreviewTypes))
	for i, ty := range triggers.PreviewTypes {
		types[i] = string(ty)
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), assertions.Match_ObjectLike(obj(map[string]any{
		"EventBusName": assertions.Match_AnyValue(),
		"EventPattern": map[string]any{"source": []any{eventbus.Source}, "detail-type": types},
		"Targets": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(obj(map[string]any{
			"Arn":              assertions.Match_AnyValue(),
			"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 2},
			"DeadLetterConfig": assertions.Match_ObjectLike(obj(map[string]any{"Arn": assertions.Match_AnyValue()}))}))}),
	})))
	rules, _ := json.Marshal(s.resources("AWS::Events::Rule"))
	if !strings.Contains(string(rules), ids[lambdas.Previews]) {
		t.Errorf("no rule targets the previews function %s", ids[lambdas.Previews])
	}
}
