package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// The sweeper purges trashed files when purge_at passes (records, object
// versions, counters). DynamoDB TTL is only a backstop, a week later, so it
// never removes a file before the sweeper has accounted for it.
const ttlGrace = 7 * 24 * time.Hour

const trashGSI = "TRASH"

// putFile writes the whole file item, conditional on the version the
// caller read (optimistic concurrency). Whole-item puts keep emulators'
// sparse indexes right (minidyn mis-indexes an UpdateItem that adds index
// keys).
func putFile(table string, f files.File, it fileItem, cond string, vals map[string]types.AttributeValue) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	vals[":v"], vals[":vc"] = str(f.VersionUUID), num(f.VersionCount)
	return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: av,
		ConditionExpression:       aws.String(cond + " AND version_uuid = :v AND version_count = :vc"),
		ExpressionAttributeValues: vals}}, nil
}

// TrashFile marks a file trashed and moves its bytes from used to trashed
// in the account's counters, in one transaction conditional on the file
// being active and unchanged since it was read. The item enters index gsi2
// (due purges) and gets a TTL a week after purgeAt as a backstop.
func (s *Store) TrashFile(ctx context.Context, f files.File, at, purgeAt time.Time, by string, rec *outbox.Record) error {
	t := f
	t.IsTrashed, t.DeletedAt, t.PurgeAt, t.DeletedBy = true, &at, &purgeAt, &by
	it := newFileItem(t)
	it.TTL = purgeAt.Add(ttlGrace).Unix()
	it.GSI2PK, it.GSI2SK = dueEntry(trashGSI, purgeAt, f.AccountID, f.UUID)
	put, err := putFile(s.table, f, it, "attribute_exists(pk) AND is_trashed = :false", map[string]types.AttributeValue{":false": falseV})
	if err != nil {
		return err
	}
	var tx txn
	tx.add(nil, put,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(f.AccountID), accountSK),
			UpdateExpression: aws.String("ADD used_bytes :neg, avail :total, trashed_bytes :total, file_count :minus, version_count :nv"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes), ":total": num(f.TotalBytes),
				":minus": num(-1), ":nv": num(-f.VersionCount)}}},
	)
	return s.commit(ctx, &tx, rec)
}

// RestoreFile reverses TrashFile while the file is inside its window; the
// account's quota must hold the bytes again (apperr.ErrQuota otherwise).
func (s *Store) RestoreFile(ctx context.Context, f files.File, now time.Time, rec *outbox.Record) error {
	r := f
	r.IsTrashed, r.DeletedAt, r.PurgeAt, r.DeletedBy = false, nil, nil, nil
	put, err := putFile(s.table, f, newFileItem(r), "is_trashed = :true AND purge_at > :now",
		map[string]types.AttributeValue{":true": trueV, ":now": str(ts(now))})
	if err != nil {
		return err
	}
	var tx txn
	tx.add(nil, put)
	tx.add(apperr.ErrQuota,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(f.AccountID), accountSK),
			UpdateExpression:    aws.String("ADD used_bytes :total, avail :neg, trashed_bytes :neg, file_count :one, version_count :nv"),
			ConditionExpression: aws.String("attribute_not_exists(quota_bytes) OR avail >= :total"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes), ":total": num(f.TotalBytes),
				":one": num(1), ":nv": num(f.VersionCount)}}},
	)
	return s.commit(ctx, &tx, rec)
}

// PurgeFile deletes a trashed file's records: its attachments and versions
// first (each
// delete is idempotent), then the file, its numeric id and the trashed
// bytes in one transaction conditional on the file still being trashed.
func (s *Store) PurgeFile(ctx context.Context, f files.File, versions []files.Version, rec *outbox.Record) error {
	pk := accountPK(f.AccountID)
	if err := s.deleteUsages(ctx, f.AccountID, f.UUID); err != nil {
		return err
	}
	for _, v := range versions {
		if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(pk, versionSK(f.UUID, v.UUID))}); err != nil {
			return err
		}
	}
	var tx txn
	tx.add(nil,
		types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			ConditionExpression:       aws.String("is_trashed = :true"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": trueV}}},
		types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, fileIDSK(f.ID))}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK),
			UpdateExpression:          aws.String("ADD trashed_bytes :neg"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-f.TotalBytes)}}},
	)
	return s.commit(ctx, &tx, rec)
}

// DuePurges lists trashed files whose purge time has passed, oldest first
// (index gsi2 holds only trashed files).
func (s *Store) DuePurges(ctx context.Context, now time.Time, limit int) ([]files.File, error) {
	return due(ctx, s, trashGSI, now, limit, func(fi fileItem) files.File { return fi.file(strings.TrimPrefix(fi.PK, "A#")) })
}
