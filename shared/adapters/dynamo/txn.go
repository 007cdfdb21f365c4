package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// txn is a write transaction being built. Each item carries the error
// that a failure of its condition means, so which error a caller sees
// never hangs on an item's position: reordering items, or adding one,
// cannot change it. When several conditions fail, the item added first
// decides.
type txn struct {
	items []types.TransactWriteItem
	fails []error
}

// add appends items whose failed condition means fail; nil means a plain
// conflict (apperr.ErrConflict).
func (t *txn) add(fail error, items ...types.TransactWriteItem) {
	for _, it := range items {
		t.items = append(t.items, it)
		t.fails = append(t.fails, fail)
	}
}

// commit writes t with the put of rec (when it has events: written with
// the change or not at all), retrying conflicts (transact). A failed
// condition is the error its item carries, or apperr.ErrConflict.
func (s *Store) commit(ctx context.Context, t *txn, rec *outbox.Record) error {
	if !rec.Empty() {
		put, err := s.recordPut(rec)
		if err != nil {
			return err
		}
		t.add(nil, put)
	}
	err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: t.items})
	failed, ok := cancelled(err)
	if !ok {
		return err
	}
	for i, f := range failed {
		if f && i < len(t.fails) && t.fails[i] != nil {
			return t.fails[i]
		}
	}
	return fmt.Errorf("%w: %v", apperr.ErrConflict, err)
}

// conflicted reports a transaction cancelled only because another
// transaction was writing the same items (e.g. the account's counters), or
// because an item's partition was past its write rate; such a transaction
// is safe to retry as is.
func conflicted(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		if c := aws.ToString(r.Code); c == "TransactionConflict" || c == "ThrottlingError" {
			return true
		}
	}
	return false
}

// transact runs a write transaction, retrying conflicts and throttling
// with jittered exponential backoff (the SDK does not retry cancelled
// transactions). One that still cannot land is apperr.ErrThrottled: the
// client is told to retry later rather than that the server failed.
func (s *Store) transact(ctx context.Context, in *dynamodb.TransactWriteItemsInput) error {
	for attempt := 0; ; attempt++ {
		_, err := s.api.TransactWriteItems(ctx, in)
		if err == nil || !conflicted(err) {
			return err
		}
		if attempt == 7 {
			return fmt.Errorf("%w: %w", apperr.ErrThrottled, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// cancelled returns, for a cancelled transaction, which items' conditions failed.
func cancelled(err error) ([]bool, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || errors.Is(err, apperr.ErrThrottled) {
		return nil, false // throttled: no condition failed
	}
	out := make([]bool, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code) == "ConditionalCheckFailed"
	}
	return out, true
}
