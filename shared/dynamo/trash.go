package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/files"
)

var falseV, trueV = &types.AttributeValueMemberBOOL{Value: false}, &types.AttributeValueMemberBOOL{Value: true}

// conditional runs a transaction; a failed condition is apperr.ErrQuota
// when it is item quotaItem's (-1: none), apperr.ErrConflict otherwise.
func (s *Store) conditional(ctx context.Context, quotaItem int, items ...types.TransactWriteItem) error {
	err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if failed, ok := cancelled(err); ok {
		if quotaItem >= 0 && quotaItem < len(failed) && failed[quotaItem] {
			return fmt.Errorf("%w: %v", apperr.ErrQuota, err)
		}
		return fmt.Errorf("%w: %v", apperr.ErrConflict, err)
	}
	return err
}

// TrashFile marks a file trashed and moves its bytes from used to trashed
// in the account's counters, in one transaction conditional on the file
// being active. DynamoDB TTL removes the item at purgeAt.
func (s *Store) TrashFile(ctx context.Context, f files.File, at, purgeAt time.Time, by string) error {
	pk := accountPK(f.AccountID)
	return s.conditional(ctx, -1,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			UpdateExpression:         aws.String("SET is_trashed = :true, deleted_at = :at, deleted_by = :by, purge_at = :purge, #ttl = :ttl"),
			ConditionExpression:      aws.String("attribute_exists(pk) AND is_trashed = :false"),
			ExpressionAttributeNames: map[string]string{"#ttl": AttrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": trueV, ":false": falseV, ":at": str(ts(at)),
				":by": str(by), ":purge": str(ts(purgeAt)), ":ttl": num(purgeAt.Unix())}}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK),
			UpdateExpression: aws.String("ADD used_bytes :neg, avail :total, trashed_bytes :total, file_count :minus, version_count :nv"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes), ":total": num(f.TotalBytes),
				":minus": num(-1), ":nv": num(-f.VersionCount)}}},
	)
}

// RestoreFile reverses TrashFile while the file is inside its window; the
// account's quota must hold the bytes again (apperr.ErrQuota otherwise).
func (s *Store) RestoreFile(ctx context.Context, f files.File, now time.Time) error {
	pk := accountPK(f.AccountID)
	return s.conditional(ctx, 1,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			UpdateExpression:          aws.String("SET is_trashed = :false REMOVE deleted_at, deleted_by, purge_at, #ttl"),
			ConditionExpression:       aws.String("is_trashed = :true AND purge_at > :now"),
			ExpressionAttributeNames:  map[string]string{"#ttl": AttrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": trueV, ":false": falseV, ":now": str(ts(now))}}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK),
			UpdateExpression:    aws.String("ADD used_bytes :total, avail :neg, trashed_bytes :neg, file_count :one, version_count :nv"),
			ConditionExpression: aws.String("attribute_not_exists(quota_bytes) OR avail >= :total"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes), ":total": num(f.TotalBytes),
				":one": num(1), ":nv": num(f.VersionCount)}}},
	)
}

// PurgeFile deletes a trashed file's records: its versions first (each
// delete is idempotent), then the file, its numeric id and the trashed
// bytes in one transaction conditional on the file still being trashed.
func (s *Store) PurgeFile(ctx context.Context, f files.File, versions []files.Version) error {
	pk := accountPK(f.AccountID)
	for _, v := range versions {
		if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(pk, versionSK(f.UUID, v.UUID))}); err != nil {
			return err
		}
	}
	return s.conditional(ctx, -1,
		types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			ConditionExpression:       aws.String("is_trashed = :true"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": trueV}}},
		types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, fileIDSK(f.ID))}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK),
			UpdateExpression:          aws.String("ADD trashed_bytes :neg"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes)}}},
	)
}
