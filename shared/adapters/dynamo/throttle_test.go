package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/files"
)

// contended cancels every transaction as DynamoDB does when another
// transaction holds an item or the item's partition is past its rate.
type contended struct {
	dynamo.API
	reason string
	calls  int
}

func (c *contended) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls++
	reasons := make([]types.CancellationReason, len(in.TransactItems))
	for i := range reasons {
		reasons[i].Code = aws.String("None")
	}
	reasons[len(reasons)-1].Code = aws.String(c.reason)
	return nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
}

// TestContendedTransactionIsThrottled: a transaction that keeps conflicting
// (or is throttled) is retried with backoff, then reported as
// apperr.ErrThrottled — not as a failed condition (which would tell the
// client its file changed) nor as an unexplained failure.
func TestContendedTransactionIsThrottled(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"TransactionConflict", "ThrottlingError"} {
		api := &contended{reason: reason}
		s := dynamo.New(api, "anexo")
		now := time.Now()
		f := files.File{AccountID: "a", UUID: "f", VersionUUID: "v", VersionCount: 1, TotalBytes: 1}
		err := s.TrashFile(context.Background(), f, now, now.Add(time.Hour), "me", nil)
		if !errors.Is(err, apperr.ErrThrottled) || errors.Is(err, apperr.ErrConflict) || api.calls != 8 {
			t.Fatalf("%s: %v after %d attempts", reason, err, api.calls)
		}
	}
}
