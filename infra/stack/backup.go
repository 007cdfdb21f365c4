package stack

import (
	"slices"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/platform/iam"
)

// addBackup backs up both tables and the bucket with AWS Backup, apart
// from the stack's own protections (point-in-time recovery, versioning):
// a daily recovery point at 03:00 UTC kept props.BackupRetentionDays in
// the stack's vault (retained when the stack is deleted), locked with
// props.BackupVaultLock, copied to props.BackupCopyTo when set. AWS
// Backup's role may back up and restore (AWS's managed policies, S3's
// included). docs/operations.md has the restore drill.
func (s *Stack) addBackup(props Props) {
	if props.NoBackup {
		return
	}
	keep := awscdk.Duration_Days(jsii.Number(props.BackupRetentionDays))
	vp := &awsbackup.BackupVaultProps{RemovalPolicy: awscdk.RemovalPolicy_RETAIN}
	if props.BackupVaultLock {
		// compliance mode once the 3 days to change one's mind are over:
		// no one, root included, deletes a recovery point before its time
		vp.LockConfiguration = &awsbackup.LockConfiguration{MinRetention: keep, ChangeableFor: awscdk.Duration_Days(jsii.Number(3))}
	}
	vault := awsbackup.NewBackupVault(s.Stack, jsii.String("BackupVault"), vp)
	rule := &awsbackup.BackupPlanRuleProps{
		RuleName:           jsii.String("Daily"),
		ScheduleExpression: awsevents.Schedule_Cron(&awsevents.CronOptions{Hour: jsii.String("3"), Minute: jsii.String("0")}),
		DeleteAfter:        keep,
	}
	if props.BackupCopyTo != "" {
		rule.CopyActions = &[]*awsbackup.BackupPlanCopyActionProps{{
			DestinationBackupVault: awsbackup.BackupVault_FromBackupVaultArn(s.Stack, jsii.String("BackupCopyVault"), jsii.String(props.BackupCopyTo)),
			DeleteAfter:            keep,
		}}
	}
	plan := awsbackup.NewBackupPlan(s.Stack, jsii.String("BackupPlan"), &awsbackup.BackupPlanProps{BackupVault: vault})
	plan.AddRule(awsbackup.NewBackupPlanRule(rule))
	role := awsiam.NewRole(s.Stack, jsii.String("BackupRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("Anexo: AWS Backup backs up and restores the tables and the bucket"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForBackup")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForRestores")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AWSBackupServiceRolePolicyForS3Backup")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AWSBackupServiceRolePolicyForS3Restore")),
		},
	})
	plan.AddSelection(jsii.String("Data"), &awsbackup.BackupSelectionOptions{
		Role: role,
		Resources: &[]awsbackup.BackupResource{
			awsbackup.BackupResource_FromDynamoDbTable(s.Table),
			awsbackup.BackupResource_FromDynamoDbTable(s.Keys),
			awsbackup.BackupResource_FromArn(s.Bucket.BucketArn()),
		},
	})
}

// limitPermanentDeletes lets only the functions whose policy grants
// s3:DeleteObjectVersion (iam.Policies: those that purge trash, replace
// or abandon uploaded bytes) delete a version for good: the bucket denies
// it to every other principal of the account, people included. A
// mistaken or stolen administrator credential can then trash a file but
// not destroy it. S3's lifecycle rules are not principals: they still
// expire noncurrent versions.
func (s *Stack) limitPermanentDeletes() {
	var roles []string
	for name, statements := range iam.Policies {
		for _, st := range statements {
			if slices.Contains(st.Actions, iam.DeleteObjectVersion) {
				roles = append(roles, name)
				break
			}
		}
	}
	if len(roles) == 0 {
		panic("stack: no function may delete an object version: the bucket policy would deny everyone")
	}
	sort.Strings(roles)
	arns := make([]*string, len(roles))
	for i, name := range roles {
		arns[i] = s.Functions[name].Role().RoleArn()
	}
	s.Bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PermanentDeletesOnlyByThePurgingFunctions"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(iam.DeleteObjectVersion),
		Resources:  jsii.Strings(*s.Bucket.ArnForObjects(jsii.String("*"))),
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": arns}},
	}))
}
