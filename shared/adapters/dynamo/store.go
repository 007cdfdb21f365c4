package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/upload"
)

// sessionRetention keeps a finished or expired session readable (status 410
// and idempotent completion answers) before DynamoDB TTL removes it.
const sessionRetention = 7 * 24 * time.Hour

func (s *Store) get(ctx context.Context, pk, sk string, out any) error {
	res, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if res.Item == nil {
		return apperr.ErrNotFound
	}
	return attributevalue.UnmarshalMap(res.Item, out)
}

func (s *Store) putNew(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return mapErr(err)
}

// GetAccount reads an account.
func (s *Store) GetAccount(ctx context.Context, id string) (auth.Account, error) {
	var it accountItem
	if err := s.get(ctx, accountPK(id), accountSK, &it); err != nil {
		return auth.Account{}, err
	}
	return auth.Account{ID: it.ID, Name: it.Name, QuotaBytes: it.QuotaBytes, CreatedAt: parseTS(it.CreatedAt)}, nil
}

// Usage reads an account's counters.
func (s *Store) Usage(ctx context.Context, accountID string) (files.Usage, error) {
	var it accountItem
	if err := s.get(ctx, accountPK(accountID), accountSK, &it); err != nil {
		return files.Usage{}, err
	}
	return it.usage(), nil
}

// Settings reads the account's settings.
func (s *Store) Settings(ctx context.Context, accountID string) (files.Settings, error) {
	var it accountItem
	if err := s.get(ctx, accountPK(accountID), accountSK, &it); err != nil {
		return files.Settings{}, err
	}
	return files.Settings{ScanPending: files.PendingPolicy(it.ScanPending)}, nil
}

// SetSettings writes the account's settings.
func (s *Store) SetSettings(ctx context.Context, accountID string, st files.Settings) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(accountPK(accountID), accountSK),
		UpdateExpression:          aws.String("SET scan_pending = :p"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(string(st.ScanPending.Or()))}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: account %s", apperr.ErrNotFound, accountID)
	}
	return err
}

// ReserveFileID increments the account's file id counter.
func (s *Store) ReserveFileID(ctx context.Context, accountID string) (int64, files.Usage, error) {
	return s.reserveIDs(ctx, accountID, 1)
}

// reserveIDs adds n to the file id counter and returns its new value.
func (s *Store) reserveIDs(ctx context.Context, accountID string, n int64) (int64, files.Usage, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(accountPK(accountID), accountSK),
		UpdateExpression:          aws.String("ADD next_file_id :n"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(n)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		if errors.Is(mapErr(err), apperr.ErrConflict) {
			return 0, files.Usage{}, fmt.Errorf("account %s: %w", accountID, apperr.ErrNotFound)
		}
		return 0, files.Usage{}, err
	}
	var it accountItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return 0, files.Usage{}, err
	}
	return it.NextFileID, it.usage(), nil
}

// FileWithUsage reads a file and its account in one consistent request.
func (s *Store) FileWithUsage(ctx context.Context, accountID, fileUUID string) (files.File, files.Usage, error) {
	out, err := s.api.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: &s.table, Key: keyOf(accountPK(accountID), fileSK(fileUUID))}},
		{Get: &types.Get{TableName: &s.table, Key: keyOf(accountPK(accountID), accountSK)}},
	}})
	if err != nil {
		return files.File{}, files.Usage{}, err
	}
	if len(out.Responses) != 2 || out.Responses[0].Item == nil {
		return files.File{}, files.Usage{}, apperr.ErrNotFound
	}
	var fi fileItem
	var ai accountItem
	if err := attributevalue.UnmarshalMap(out.Responses[0].Item, &fi); err != nil {
		return files.File{}, files.Usage{}, err
	}
	if err := attributevalue.UnmarshalMap(out.Responses[1].Item, &ai); err != nil {
		return files.File{}, files.Usage{}, err
	}
	return fi.file(accountID), ai.usage(), nil
}

// PutSession records a new session.
func (s *Store) PutSession(ctx context.Context, ss upload.Session) error {
	it := sessionItem{PK: accountPK(ss.AccountID), SK: sessionSK(ss.ID), ID: ss.ID, FileUUID: ss.FileUUID,
		VersionUUID: ss.VersionUUID, NewFile: ss.NewFile, FileID: ss.FileID, FileName: ss.FileName, MimeType: ss.MimeType,
		Size: ss.Plan.Size, PartSize: ss.Plan.PartSize, PartCount: ss.Plan.PartCount, Key: ss.Key, UploadID: ss.UploadID,
		Status: string(ss.Status), CreatedAt: ts(ss.CreatedAt), ExpiresAt: ts(ss.ExpiresAt), CreatedBy: ss.CreatedBy,
		TokenID: ss.TokenID, TTL: ss.ExpiresAt.Add(sessionRetention).Unix(), Request: requestedItemOf(ss.Request)}
	if ss.Checksum != nil {
		it.ChecksumAlg, it.Checksum = ss.Checksum.Algorithm, ss.Checksum.Value
	}
	for _, a := range ss.Attach {
		it.Attach = append(it.Attach, sessionAttach{Type: string(a.Entity.Type), UUID: a.Entity.UUID, Kind: string(a.Kind), RefID: a.RefID,
			Code: a.Entity.Code, Title: a.Title})
	}
	if ss.Status == upload.StatusOpen {
		it.GSI2PK, it.GSI2SK = dueEntry(sessionsGSI, ss.CreatedAt.Add(upload.SettleAfter), ss.AccountID, ss.ID)
	}
	return s.putNew(ctx, it)
}

// sessionsGSI groups the sessions the sweeper has not reviewed for good in
// the sparse index gsi2, by the time it looks at them next: every session
// enters it at open, and leaves it when the sweeper finds it completed,
// aborted or expired (after auditing a form upload's object versions).
const sessionsGSI = "SESSIONS"

// DueSessions lists sessions due for a look at before, oldest first.
func (s *Store) DueSessions(ctx context.Context, before time.Time, limit int) ([]upload.Session, error) {
	return due(ctx, s, sessionsGSI, before, limit, func(it sessionItem) upload.Session {
		return it.session(strings.TrimPrefix(it.PK, "A#"))
	})
}

// RescheduleSession sets when the sweeper looks at an open session next
// (left alone if it is no longer open: it is due as it was); a zero time
// takes the session out of the index.
func (s *Store) RescheduleSession(ctx context.Context, accountID, id string, at time.Time, rec *outbox.Record) error {
	in := &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(accountPK(accountID), sessionSK(id)),
		UpdateExpression:    aws.String("REMOVE gsi2pk, gsi2sk"),
		ConditionExpression: aws.String("attribute_exists(pk)")}
	if !at.IsZero() {
		in.UpdateExpression, in.ConditionExpression = aws.String("SET gsi2sk = :sk"), aws.String("#st = :open")
		in.ExpressionAttributeNames = map[string]string{"#st": "status"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":open": str(string(upload.StatusOpen)), ":sk": str(dueSK(at, accountID, id))}
	}
	if !rec.Empty() && at.IsZero() {
		// an expired session leaves the index with its event, once, and
		// only if nothing completed or aborted it meanwhile
		var tx txn
		tx.add(nil, types.TransactWriteItem{Update: &types.Update{TableName: in.TableName, Key: in.Key,
			UpdateExpression: in.UpdateExpression, ConditionExpression: aws.String("attribute_exists(gsi2pk) AND #st = :open"),
			ExpressionAttributeNames:  map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":open": str(string(upload.StatusOpen))}}})
		if err := s.commit(ctx, &tx, rec); !errors.Is(err, apperr.ErrConflict) {
			return err
		}
		// it left already, or it is not open: it leaves without an event
	}
	_, err := s.api.UpdateItem(ctx, in)
	if err = mapErr(err); errors.Is(err, apperr.ErrConflict) {
		return nil
	}
	return err
}

// GetSession reads a session of an account.
func (s *Store) GetSession(ctx context.Context, accountID, id string) (upload.Session, error) {
	var it sessionItem
	if err := s.get(ctx, accountPK(accountID), sessionSK(id), &it); err != nil {
		return upload.Session{}, err
	}
	return it.session(accountID), nil
}

// SetSessionStatus moves a session between statuses conditionally.
func (s *Store) SetSessionStatus(ctx context.Context, accountID, id string, from, to upload.Status, at time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(accountPK(accountID), sessionSK(id)),
		UpdateExpression:          aws.String("SET #st = :to, completed_at = :at"),
		ConditionExpression:       aws.String("#st = :from"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":to": str(string(to)), ":from": str(string(from)), ":at": str(ts(at))},
	})
	return mapErr(err)
}

// GetFile reads a file of an account.
func (s *Store) GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error) {
	var it fileItem
	if err := s.get(ctx, accountPK(accountID), fileSK(fileUUID), &it); err != nil {
		return files.File{}, err
	}
	return it.file(accountID), nil
}

// GetVersion reads one version of a file.
func (s *Store) GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error) {
	var it versionItem
	if err := s.get(ctx, accountPK(accountID), versionSK(fileUUID, versionUUID), &it); err != nil {
		return files.Version{}, err
	}
	return it.version(accountID), nil
}

// Commit writes a completed upload in one transaction, each item with
// the error its failed condition means:
//
//	session open → completed          (status = open; upload.ErrSessionNotOpen)
//	file put (new) / update (version) (absent / present and not trashed; upload.ErrFileGone)
//	version put                       (absent)
//	account counters                  (no quota, or avail >= size; apperr.ErrQuota)
//	numeric id → uuid (new files)     (absent)
//	attachments requested at open     (unconditional puts)
//	its file request's receipt         (rev as read; requests.ErrChanged)
func (s *Store) Commit(ctx context.Context, c upload.Commit) error {
	pk := accountPK(c.Session.AccountID)
	size := c.Version.Size
	var tx txn
	tx.add(upload.ErrSessionNotOpen, types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: keyOf(pk, sessionSK(c.Session.ID)),
		UpdateExpression:         aws.String("SET #st = :done, completed_at = :at"),
		ConditionExpression:      aws.String("#st = :open"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": str(string(upload.StatusCompleted)), ":open": str(string(upload.StatusOpen)), ":at": str(ts(c.File.UpdatedAt))},
	}})
	if c.NewFile {
		av, err := attributevalue.MarshalMap(newFileItem(c.File))
		if err != nil {
			return err
		}
		tx.add(upload.ErrFileGone, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	} else {
		f := c.File
		tx.add(upload.ErrFileGone, types.TransactWriteItem{Update: &types.Update{
			TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			UpdateExpression:         aws.String(mainVersionUpdate(f, " ADD version_count :one, total_bytes :size")),
			ConditionExpression:      aws.String("attribute_exists(pk) AND is_trashed = :false"),
			ExpressionAttributeNames: mainVersionNames,
			ExpressionAttributeValues: mainVersionValues(f, map[string]types.AttributeValue{
				":one": num(1), ":size": num(c.Version.Size), ":false": falseV}),
		}})
	}
	vav, err := attributevalue.MarshalMap(newVersionItem(c.Version))
	if err != nil {
		return err
	}
	tx.add(nil, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: vav,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	newFiles := int64(0)
	if c.NewFile {
		newFiles = 1
	}
	tx.add(apperr.ErrQuota, types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: keyOf(pk, accountSK),
		UpdateExpression:    aws.String("ADD used_bytes :size, avail :neg, file_count :nf, version_count :one"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(quota_bytes) OR avail >= :size)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":size": num(size), ":neg": num(-size), ":nf": num(newFiles), ":one": num(1)},
	}})
	if c.NewFile {
		tx.add(nil, types.TransactWriteItem{Put: &types.Put{TableName: &s.table,
			Item:                map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(fileIDSK(c.File.ID)), "file_uuid": str(c.File.UUID)},
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	for _, a := range c.Attach { // unconditional: the session condition makes them once
		put, err := s.attachPut(c.Session.AccountID, a)
		if err != nil {
			return err
		}
		tx.add(nil, put)
	}
	if c.Request != nil {
		up, err := s.requestUpdate(*c.Request)
		if err != nil {
			return err
		}
		tx.add(requests.ErrChanged, up)
	}
	return s.commit(ctx, &tx, c.Events)
}

// mainVersionSet updates the fields of a file that follow its main version.
const mainVersionSet = "SET version_uuid = :v, #n = :n, name_lc = :nlc, sanitized_name = :sn, extension = :e, #t = :t, " +
	"mime_type = :m, #sz = :s, updated_at = :u, updated_by = :ub, #scan = :scan"

var mainVersionNames = map[string]string{"#n": "name", "#t": "type", "#sz": "size", "#scan": "scan"}

// mainVersionUpdate is mainVersionSet with the main version's previews
// (removed when it has none) and add, an ADD clause or "".
func mainVersionUpdate(f files.File, add string) string {
	if len(f.Previews) > 0 {
		return mainVersionSet + ", previews = :pv" + add
	}
	return mainVersionSet + add + " REMOVE previews"
}

func mainVersionValues(f files.File, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		":v": str(f.VersionUUID), ":n": str(f.Name), ":nlc": str(strings.ToLower(f.Name)), ":sn": str(f.SanitizedName),
		":e": str(f.Extension), ":t": str(f.Type), ":m": str(f.MimeType), ":s": num(f.Size), ":u": str(ts(f.UpdatedAt)),
		":ub": str(f.UpdatedBy), ":scan": scanValue(f.Scan)}
	if len(f.Previews) > 0 {
		m[":pv"] = previewsValue(f.Previews)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// scanValue is a verdict as an attribute value (a version stored before
// scanning shows as off).
func scanValue(sc files.Scan) types.AttributeValue {
	av, err := attributevalue.Marshal(newScanItem(sc.Current()))
	if err != nil {
		panic("dynamo: scan: " + err.Error()) // a plain struct
	}
	return av
}

// previewsValue is a list of previews as an attribute value.
func previewsValue(ps files.Previews) types.AttributeValue {
	av, err := attributevalue.Marshal(previewItems(ps))
	if err != nil {
		panic("dynamo: previews: " + err.Error()) // plain structs
	}
	return av
}
