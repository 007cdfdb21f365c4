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
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

func batchSK(id string) string { return "B#" + id }

// pendingGSI groups pending batches in the sparse index gsi2 (by stale time).
const pendingGSI = "BATCH_PENDING"

type batchFile struct {
	UUID        string    `dynamodbav:"uuid"`
	ID          int64     `dynamodbav:"id"`
	VersionUUID string    `dynamodbav:"version_uuid"`
	Name        string    `dynamodbav:"name"`
	MimeType    string    `dynamodbav:"mime_type"`
	Size        int64     `dynamodbav:"size"`
	Key         string    `dynamodbav:"s3_key"`
	S3Version   string    `dynamodbav:"s3_version,omitempty"`
	Scan        *scanItem `dynamodbav:"scan,omitempty"` // the version's first scan
}

type batchItem struct {
	PK          string      `dynamodbav:"pk"`
	SK          string      `dynamodbav:"sk"`
	ID          string      `dynamodbav:"batch_id"`
	Status      string      `dynamodbav:"status"`
	Title       *string     `dynamodbav:"title,omitempty"`
	Note        *string     `dynamodbav:"note,omitempty"`
	TargetType  string      `dynamodbav:"target_type"`
	TargetUUID  string      `dynamodbav:"target_uuid"`
	TargetCode  int64       `dynamodbav:"target_code"`
	TargetTitle string      `dynamodbav:"target_title"`
	Files       []batchFile `dynamodbav:"files"`
	TotalSize   int64       `dynamodbav:"total_size"`
	CreatedByID string      `dynamodbav:"created_by_id"`
	CreatedBy   string      `dynamodbav:"created_by"`
	CreatedAt   string      `dynamodbav:"created_at"`
	UpdatedAt   string      `dynamodbav:"updated_at"`
	StaleAt     string      `dynamodbav:"stale_at"`
	Fingerprint string      `dynamodbav:"fingerprint"`
	GSI2PK      string      `dynamodbav:"gsi2pk,omitempty"` // pending batches only
	GSI2SK      string      `dynamodbav:"gsi2sk,omitempty"`
	TTL         int64       `dynamodbav:"ttl,omitempty"`
}

func newBatchItem(b batches.Batch) batchItem {
	it := batchItem{PK: accountPK(b.AccountID), SK: batchSK(b.ID), ID: b.ID, Status: b.Status, Title: b.Title, Note: b.Note,
		TargetType: string(b.Target.Type), TargetUUID: b.Target.UUID, TargetCode: b.Target.Code, TargetTitle: b.Target.Title,
		TotalSize: b.TotalSize, CreatedByID: b.CreatedByID, CreatedBy: b.CreatedBy, CreatedAt: ts(b.CreatedAt),
		UpdatedAt: ts(b.UpdatedAt), StaleAt: ts(b.StaleAt), Fingerprint: b.Fingerprint}
	for _, x := range b.Items {
		it.Files = append(it.Files, batchFile{UUID: x.File.UUID, ID: x.File.ID, VersionUUID: x.Version.UUID, Name: x.File.Name,
			MimeType: x.File.MimeType, Size: x.File.Size, Key: x.Version.Key, S3Version: x.Version.S3Version,
			Scan: newScanItem(x.Version.Scan)})
	}
	if b.Status == batches.StatusPending {
		it.GSI2PK, it.GSI2SK = dueEntry(pendingGSI, b.StaleAt, b.AccountID, b.ID)
		it.TTL = b.StaleAt.Add(7 * 24 * time.Hour).Unix() // backstop: the sweeper cleans at stale_at
	}
	return it
}

func (it batchItem) batch(accountID string) batches.Batch {
	b := batches.Batch{AccountID: accountID, ID: it.ID, Title: it.Title, Note: it.Note, TotalSize: it.TotalSize,
		Target:      entities.Entity{AccountID: accountID, Type: entities.Type(it.TargetType), UUID: it.TargetUUID, Code: it.TargetCode, Title: it.TargetTitle},
		CreatedByID: it.CreatedByID, CreatedBy: it.CreatedBy, CreatedAt: parseTS(it.CreatedAt), UpdatedAt: parseTS(it.UpdatedAt),
		Status: it.Status, StaleAt: parseTS(it.StaleAt), Fingerprint: it.Fingerprint}
	for _, f := range it.Files {
		ext := files.Extension(f.Name)
		file := files.File{AccountID: accountID, UUID: f.UUID, ID: f.ID, VersionUUID: f.VersionUUID, Name: f.Name,
			SanitizedName: files.Sanitize(f.Name), Extension: ext, Type: files.Kind(f.MimeType, ext), MimeType: f.MimeType,
			Size: f.Size, TotalBytes: f.Size, VersionCount: 1, Source: batches.SourceWegly, CreatedAt: b.CreatedAt,
			UpdatedAt: b.CreatedAt, CreatedBy: it.CreatedBy, UpdatedBy: it.CreatedBy, Scan: f.Scan.scan()}
		v := files.Version{AccountID: accountID, FileUUID: f.UUID, UUID: f.VersionUUID, Name: f.Name, MimeType: f.MimeType,
			Size: f.Size, Key: f.Key, S3Version: f.S3Version, SessionID: "batch:" + it.ID, CreatedAt: b.CreatedAt, CreatedBy: it.CreatedBy,
			Scan: file.Scan}
		b.Items = append(b.Items, batches.Item{File: file, Version: v})
	}
	return b
}

// ReserveFileIDs allocates n consecutive numeric file ids.
func (s *Store) ReserveFileIDs(ctx context.Context, accountID string, n int) (int64, files.Usage, error) {
	last, u, err := s.reserveIDs(ctx, accountID, int64(n))
	return last - int64(n) + 1, u, err
}

// GetBatch reads a batch record.
func (s *Store) GetBatch(ctx context.Context, accountID, id string) (batches.Batch, error) {
	var it batchItem
	if err := s.get(ctx, accountPK(accountID), batchSK(id), &it); err != nil {
		return batches.Batch{}, err
	}
	return it.batch(accountID), nil
}

// PutPending records a pending batch (never over an existing one).
func (s *Store) PutPending(ctx context.Context, b batches.Batch) error {
	return s.putNew(ctx, newBatchItem(b))
}

// DeletePending deletes a batch record that is still pending.
func (s *Store) DeletePending(ctx context.Context, b batches.Batch) error {
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(accountPK(b.AccountID), batchSK(b.ID)),
		ConditionExpression:       aws.String("#st = :p"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(batches.StatusPending)}})
	return mapErr(err)
}

// DuePending lists batches still pending at before (index gsi2).
func (s *Store) DuePending(ctx context.Context, before time.Time, limit int) ([]batches.Batch, error) {
	return due(ctx, s, pendingGSI, before, limit, func(it batchItem) batches.Batch { return it.batch(strings.TrimPrefix(it.PK, "A#")) })
}

// CommitBatch writes a batch in one transaction: the batch, pending →
// completed (batches.ErrNotPending unless pending and stale_at > now); the
// account's counters (apperr.ErrQuota unless no quota or avail >= total);
// per file its file, version and numeric id (each absent) and attachment.
func (s *Store) CommitBatch(ctx context.Context, b batches.Batch, now time.Time, rec *outbox.Record) error {
	pk := accountPK(b.AccountID)
	done := b
	done.Status = batches.StatusCompleted
	bav, err := attributevalue.MarshalMap(newBatchItem(done))
	if err != nil {
		return err
	}
	n := int64(len(b.Items))
	var tx txn
	tx.add(batches.ErrNotPending, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: bav, ConditionExpression: aws.String("#st = :p AND stale_at > :now"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(batches.StatusPending), ":now": str(ts(now))}}})
	tx.add(apperr.ErrQuota, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK),
		UpdateExpression:    aws.String("ADD used_bytes :size, avail :neg, file_count :n, version_count :n"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(quota_bytes) OR avail >= :size)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":size": num(b.TotalSize), ":neg": num(-b.TotalSize), ":n": num(n)}}})
	absent := aws.String("attribute_not_exists(pk)")
	for _, x := range b.Items {
		fav, err := attributevalue.MarshalMap(newFileItem(x.File))
		if err != nil {
			return err
		}
		vav, err := attributevalue.MarshalMap(newVersionItem(x.Version))
		if err != nil {
			return err
		}
		att, err := s.attachPut(b.AccountID, b.Attachment(x))
		if err != nil {
			return err
		}
		tx.add(nil,
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: fav, ConditionExpression: absent}},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: vav, ConditionExpression: absent}},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, ConditionExpression: absent,
				Item: map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(fileIDSK(x.File.ID)), "file_uuid": str(x.File.UUID)}}},
			att)
	}
	return s.commit(ctx, &tx, rec)
}
