package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
)

// refusing cancels every transaction with a failed condition on each item
// whose sort key starts with one of fail, as DynamoDB reports it: a reason
// per item, in the items' order.
type refusing struct {
	dynamo.API
	fail []string
}

func (r *refusing) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	for i, it := range in.TransactItems {
		reasons[i].Code = aws.String("None")
		var sk types.AttributeValue
		switch {
		case it.Put != nil:
			sk = it.Put.Item[dynamo.AttrSK]
		case it.Update != nil:
			sk = it.Update.Key[dynamo.AttrSK]
		case it.Delete != nil:
			sk = it.Delete.Key[dynamo.AttrSK]
		case it.ConditionCheck != nil:
			sk = it.ConditionCheck.Key[dynamo.AttrSK]
		}
		for _, f := range r.fail {
			if s, ok := sk.(*types.AttributeValueMemberS); ok && strings.HasPrefix(s.Value, f) {
				reasons[i].Code = aws.String("ConditionalCheckFailed")
			}
		}
	}
	return nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
}

// TestFailedConditionsNameTheirItem: the error of a cancelled transaction
// is the one the failed item carries, found by the item and not by its
// position (a completion's session, file and account; an attachment's
// file, version and attachment), and a condition that carries none is a
// conflict.
func TestFailedConditionsNameTheirItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	commit := upload.Commit{Session: upload.Session{ID: "s", AccountID: "a"}, NewFile: true,
		File:    files.File{AccountID: "a", UUID: "f", ID: 7, VersionUUID: "v", Name: "a.txt", CreatedAt: now, UpdatedAt: now},
		Version: files.Version{AccountID: "a", FileUUID: "f", UUID: "v", Size: 5, CreatedAt: now}}
	for _, c := range []struct {
		fail []string
		want error
	}{
		{[]string{"S#"}, upload.ErrSessionNotOpen},
		{[]string{"F#f"}, upload.ErrFileGone}, // the file and its version: the file decides
		{[]string{"ACCOUNT"}, apperr.ErrQuota},
		{[]string{"ACCOUNT", "S#"}, upload.ErrSessionNotOpen},
		{[]string{"N#"}, apperr.ErrConflict},
	} {
		err := dynamo.New(&refusing{fail: c.fail}, "anexo").Commit(ctx, commit)
		if !errors.Is(err, c.want) {
			t.Errorf("commit failing %v: %v, want %v", c.fail, err, c.want)
		}
	}
	att := entities.Attachment{Entity: entities.Ref{Type: "leads", UUID: "e"}, FileUUID: "f", VersionUUID: "v", Kind: entities.KindMedia}
	for _, c := range []struct {
		fail []string
		want error
	}{
		{[]string{"F#f#V#"}, entities.ErrVersionGone},
		{[]string{"F#f"}, entities.ErrFileGone}, // the file and the version: the file decides
		{[]string{"X#"}, entities.ErrAlreadyAttached},
		{[]string{"X#", "F#f#V#"}, entities.ErrVersionGone},
	} {
		err := dynamo.New(&refusing{fail: c.fail}, "anexo").Attach(ctx, "a", att, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("attach failing %v: %v, want %v", c.fail, err, c.want)
		}
	}
}
