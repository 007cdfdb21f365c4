package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Entity directory and attachment keys (see docs/data-model.md).
func entitySK(t entities.Type, uuid string) string { return "E#" + string(t) + "#" + uuid }
func codeSK(t entities.Type, code int64) string    { return fmt.Sprintf("EC#%s#%020d", t, code) }
func seqSK(name string) string                     { return "SEQ#" + name }

// attachPrefix starts the sort keys of an entity's attachments; they go on
// with the file's creation time and uuid, so an entity's files come back in
// creation order.
func attachPrefix(t entities.Type, entityUUID string) string {
	return "X#" + string(t) + "#" + entityUUID + "#"
}

// fileKey is a file's position among an entity's attachments.
func fileKey(a entities.Attachment) string { return ts(a.FileCreated) + "#" + a.FileUUID }

func attachSK(a entities.Attachment) string {
	return attachPrefix(a.Entity.Type, a.Entity.UUID) + fileKey(a) + "#" + string(a.Kind) + "#" + refOrDash(a.RefID)
}

func usagesGSI(account, fileUUID string) string { return "A#" + account + "#U#" + fileUUID }

func refOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type entityItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"entity_type"`
	UUID      string `dynamodbav:"entity_uuid"`
	Code      int64  `dynamodbav:"code"`
	Title     string `dynamodbav:"title"`
	CreatedAt string `dynamodbav:"created_at"`
	UpdatedAt string `dynamodbav:"updated_at"`
	CreatedBy string `dynamodbav:"created_by"`
	UpdatedBy string `dynamodbav:"updated_by"`
}

func (e entityItem) entity(accountID string) entities.Entity {
	return entities.Entity{AccountID: accountID, Type: entities.Type(e.Type), UUID: e.UUID, Code: e.Code, Title: e.Title,
		CreatedAt: parseTS(e.CreatedAt), UpdatedAt: parseTS(e.UpdatedAt), CreatedBy: e.CreatedBy, UpdatedBy: e.UpdatedBy}
}

type attachItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	GSI1PK      string `dynamodbav:"gsi1pk"` // a file's usages
	GSI1SK      string `dynamodbav:"gsi1sk"`
	EntityType  string `dynamodbav:"entity_type"`
	EntityUUID  string `dynamodbav:"entity_uuid"`
	FileUUID    string `dynamodbav:"file_uuid"`
	FileCreated string `dynamodbav:"file_created_at"`
	Kind        string `dynamodbav:"kind"`
	RefID       string `dynamodbav:"ref_id,omitempty"`
	VersionUUID string `dynamodbav:"version_uuid,omitempty"`
	AttachedAt  string `dynamodbav:"attached_at"`
	AttachedBy  string `dynamodbav:"attached_by"`
}

func newAttachItem(accountID string, a entities.Attachment) attachItem {
	return attachItem{PK: accountPK(accountID), SK: attachSK(a), GSI1PK: usagesGSI(accountID, a.FileUUID),
		GSI1SK:     string(a.Entity.Type) + "#" + a.Entity.UUID + "#" + string(a.Kind) + "#" + refOrDash(a.RefID),
		EntityType: string(a.Entity.Type), EntityUUID: a.Entity.UUID, FileUUID: a.FileUUID, FileCreated: ts(a.FileCreated),
		Kind: string(a.Kind), RefID: a.RefID, VersionUUID: a.VersionUUID, AttachedAt: ts(a.AttachedAt), AttachedBy: a.AttachedBy}
}

func (it attachItem) attachment() entities.Attachment {
	return entities.Attachment{Entity: entities.Ref{Type: entities.Type(it.EntityType), UUID: it.EntityUUID}, FileUUID: it.FileUUID,
		Kind: entities.Kind(it.Kind), RefID: it.RefID, VersionUUID: it.VersionUUID, FileCreated: parseTS(it.FileCreated),
		AttachedAt: parseTS(it.AttachedAt), AttachedBy: it.AttachedBy}
}

// AttachItem is the transaction item that records an attachment (used by
// completion, which attaches in the same transaction as the file).
func (s *Store) attachPut(accountID string, a entities.Attachment) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(newAttachItem(accountID, a))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av}}, nil
}

// GetEntity reads a directory entry by UUID.
func (s *Store) GetEntity(ctx context.Context, accountID string, t entities.Type, uuid string) (entities.Entity, error) {
	var it entityItem
	if err := s.get(ctx, accountPK(accountID), entitySK(t, uuid), &it); err != nil {
		return entities.Entity{}, err
	}
	return it.entity(accountID), nil
}

// EntityByCode reads a directory entry through its code alias.
func (s *Store) EntityByCode(ctx context.Context, accountID string, t entities.Type, code int64) (entities.Entity, error) {
	var alias struct {
		UUID string `dynamodbav:"entity_uuid"`
	}
	if err := s.get(ctx, accountPK(accountID), codeSK(t, code), &alias); err != nil {
		return entities.Entity{}, err
	}
	e, err := s.GetEntity(ctx, accountID, t, alias.UUID)
	if err == nil && e.Code != code {
		return entities.Entity{}, apperr.ErrNotFound // an alias left by a code change in flight
	}
	return e, err
}

// PutEntity creates an entry and its code alias, or replaces prev
// (conditional on it being unchanged), moving the alias when the code
// changes — all in one transaction.
func (s *Store) PutEntity(ctx context.Context, e entities.Entity, prev *entities.Entity) error {
	pk := accountPK(e.AccountID)
	av, err := attributevalue.MarshalMap(entityItem{PK: pk, SK: entitySK(e.Type, e.UUID), Type: string(e.Type), UUID: e.UUID,
		Code: e.Code, Title: e.Title, CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt), CreatedBy: e.CreatedBy, UpdatedBy: e.UpdatedBy})
	if err != nil {
		return err
	}
	put := &types.Put{TableName: &s.table, Item: av, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if prev != nil {
		put.ConditionExpression = aws.String("code = :code AND updated_at = :u")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":code": num(prev.Code), ":u": str(ts(prev.UpdatedAt))}
	}
	var tx txn
	if prev == nil {
		tx.add(entities.ErrExists, types.TransactWriteItem{Put: put})
	} else {
		tx.add(entities.ErrStale, types.TransactWriteItem{Put: put})
	}
	if prev == nil || prev.Code != e.Code {
		tx.add(entities.ErrCodeTaken, types.TransactWriteItem{Put: &types.Put{TableName: &s.table,
			Item:                map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(codeSK(e.Type, e.Code)), "entity_uuid": str(e.UUID)},
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	if prev != nil && prev.Code != e.Code {
		tx.add(nil, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, codeSK(e.Type, prev.Code))}})
	}
	return s.commit(ctx, &tx, nil)
}

// NextSeq increments a per-account sequence (its own item, so it never
// contends with the account's usage counters).
func (s *Store) NextSeq(ctx context.Context, accountID, name string) (int64, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(accountPK(accountID), seqSK(name)),
		UpdateExpression:          aws.String("ADD next_value :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, err
	}
	n, ok := out.Attributes["next_value"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("sequence: no value returned")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// NextCode allocates an entity code from the type's sequence.
func (s *Store) NextCode(ctx context.Context, accountID string, t entities.Type) (int64, error) {
	return s.NextSeq(ctx, accountID, "code#"+string(t))
}

// Attach records an attachment in one transaction: the file exists and is
// not trashed, the pinned version exists, and the attachment is new (a
// field value may move to another version).
func (s *Store) Attach(ctx context.Context, accountID string, a entities.Attachment, rec *outbox.Record) error {
	pk := accountPK(accountID)
	put, err := s.attachPut(accountID, a)
	if err != nil {
		return err
	}
	put.Put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	if a.Kind == entities.KindField {
		put.Put.ConditionExpression = aws.String("attribute_not_exists(pk) OR version_uuid <> :v")
		put.Put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": str(a.VersionUUID)}
	}
	var tx txn
	tx.add(entities.ErrFileGone, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: keyOf(pk, fileSK(a.FileUUID)),
		ConditionExpression:       aws.String("attribute_exists(pk) AND is_trashed = :false"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":false": falseV}}})
	if a.VersionUUID != "" {
		tx.add(entities.ErrVersionGone, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table,
			Key: keyOf(pk, versionSK(a.FileUUID, a.VersionUUID)), ConditionExpression: aws.String("attribute_exists(pk)")}})
	}
	tx.add(entities.ErrAlreadyAttached, put)
	return s.commit(ctx, &tx, rec)
}

// Detach deletes a file's attachments to an entity (one kind and ref, or
// all of them when a.Kind is empty).
func (s *Store) Detach(ctx context.Context, accountID string, a entities.Attachment, record func([]entities.Attachment) *outbox.Record) (int, error) {
	for attempt := 0; ; attempt++ {
		found, err := s.attached(ctx, accountID, a)
		if err != nil || len(found) == 0 {
			return 0, err
		}
		// the attachments go with their event, each only if still there:
		// a concurrent detach makes this one look again
		pk := accountPK(accountID)
		var tx txn
		for _, x := range found {
			tx.add(nil, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, attachSK(x)),
				ConditionExpression: aws.String("attribute_exists(pk)")}})
		}
		err = s.commit(ctx, &tx, record(found))
		if errors.Is(err, apperr.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return 0, err
		}
		return len(found), nil
	}
}

// attached lists the attachments a detach names: one (kind set) or every
// kind of the file on the entity. A file has at most a few per entity
// (MaxDetach bounds what one transaction removes).
func (s *Store) attached(ctx context.Context, accountID string, a entities.Attachment) ([]entities.Attachment, error) {
	pk := accountPK(accountID)
	var out []entities.Attachment
	add := func(item map[string]types.AttributeValue) error {
		var it attachItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		out = append(out, it.attachment())
		return nil
	}
	if a.Kind != "" {
		res, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: keyOf(pk, attachSK(a)), ConsistentRead: aws.Bool(true)})
		if err != nil || len(res.Item) == 0 {
			return nil, err
		}
		return out, add(res.Item)
	}
	prefix := attachPrefix(a.Entity.Type, a.Entity.UUID) + fileKey(a) + "#"
	err := s.queryPrefix(ctx, pk, prefix, add)
	if len(out) > entities.MaxDetach {
		out = out[:entities.MaxDetach]
	}
	return out, err
}

// Usages lists a file's attachments (index gsi1, eventually consistent).
func (s *Store) Usages(ctx context.Context, accountID, fileUUID string) ([]entities.Attachment, error) {
	var out []entities.Attachment
	var start map[string]types.AttributeValue
	for {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(IndexGSI1),
			KeyConditionExpression:    aws.String("gsi1pk = :u"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(usagesGSI(accountID, fileUUID))},
			ExclusiveStartKey:         start})
		if err != nil {
			return nil, err
		}
		for _, item := range res.Items {
			var it attachItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, err
			}
			out = append(out, it.attachment())
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

// deleteUsages removes every attachment of a file (purge).
func (s *Store) deleteUsages(ctx context.Context, accountID, fileUUID string) error {
	as, err := s.Usages(ctx, accountID, fileUUID)
	if err != nil {
		return err
	}
	for _, a := range as {
		if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(accountPK(accountID), attachSK(a))}); err != nil {
			return err
		}
	}
	return nil
}

// FileUUIDsByID resolves numeric file ids (BatchGetItem of the id items).
func (s *Store) FileUUIDsByID(ctx context.Context, accountID string, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	seen := map[int64]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, keyOf(accountPK(accountID), fileIDSK(id)))
		}
	}
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it struct {
			SK   string `dynamodbav:"sk"`
			UUID string `dynamodbav:"file_uuid"`
		}
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		id, _ := strconv.ParseInt(strings.TrimPrefix(it.SK, "N#"), 10, 64)
		out[id] = it.UUID
		return nil
	})
	return out, err
}

// attachGroup is one file's attachments to the listed entity.
type attachGroup struct {
	file string // file uuid
	key  string // file key: created_at#uuid
	atts []entities.Attachment
}

// ListEntityFiles reads one page of an entity's files: its attachments come
// in file creation order from a key range of the base table, grouped by
// file, joined with the files (BatchGetItem) and filtered as ListFiles
// filters. At most r.Budget attachment items are read per page, and a page
// ends on a whole file, so no file is skipped or repeated across pages.
func (s *Store) ListEntityFiles(ctx context.Context, r catalog.ListRequest) (catalog.ListResult, error) {
	q := r.Query
	pk := accountPK(r.AccountID)
	prefix := attachPrefix(q.Entity.Ref.Type, q.Entity.UUID)
	lo, hi := prefix, prefix+"~"
	if q.DateField == "created_at" {
		if q.DateFrom != nil {
			lo = prefix + ts(*q.DateFrom)
		}
		if q.DateTo != nil {
			hi = prefix + ts(*q.DateTo) + "~"
		}
	}
	in := &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ScanIndexForward:       aws.Bool(q.Ascending), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
	if r.Start != nil && r.Start.ItemKey != "" {
		in.ExclusiveStartKey = keyOf(pk, r.Start.ItemKey)
	} else if r.Start != nil {
		if q.Ascending {
			lo = max(lo, prefix+r.Start.SortKey+"#~")
		} else {
			hi = min(hi, prefix+r.Start.SortKey)
		}
	}
	res := catalog.ListResult{Attachments: map[string][]entities.Attachment{}}
	if lo > hi {
		return res, nil
	}
	in.ExpressionAttributeValues = map[string]types.AttributeValue{":pk": str(pk), ":lo": str(lo), ":hi": str(hi)}
	var pending []attachGroup
	for {
		in.Limit = aws.Int32(int32(r.NextLimit(len(res.Files), res.Evaluated, int(aws.ToInt32(in.Limit)))))
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return catalog.ListResult{}, err
		}
		res.Evaluated += len(out.Items)
		if out.ConsumedCapacity != nil {
			res.Capacity += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		for _, item := range out.Items {
			var it attachItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return catalog.ListResult{}, err
			}
			a := it.attachment()
			if !q.Entity.HasKind(a.Kind) {
				continue
			}
			if n := len(pending); n > 0 && pending[n-1].file == a.FileUUID {
				pending[n-1].atts = append(pending[n-1].atts, a)
			} else {
				pending = append(pending, attachGroup{file: a.FileUUID, key: fileKey(a), atts: []entities.Attachment{a}})
			}
		}
		exhausted := len(out.LastEvaluatedKey) == 0
		complete := pending
		if !exhausted && len(pending) > 0 {
			complete = pending[:len(pending)-1] // the last file may have more attachments
		}
		full, last, err := s.joinGroups(ctx, r, complete, &res)
		if err != nil {
			return catalog.ListResult{}, err
		}
		if full {
			if exhausted && last == len(complete)-1 {
				return res, nil // the page ends with the entity's last file
			}
			res.Next = &catalog.Position{SortKey: complete[last].key}
			return res, nil
		}
		pending = pending[len(complete):]
		switch {
		case exhausted:
			res.Next = nil
			return res, nil
		case res.Evaluated >= r.Budget:
			if len(complete) > 0 {
				res.Next = &catalog.Position{SortKey: complete[len(complete)-1].key}
			} else {
				// one file's attachments outgrew the page budget: resume
				// inside it (its attachment list is then partial)
				res.Next = &catalog.Position{ItemKey: lekSK(out.LastEvaluatedKey)}
			}
			return res, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func lekSK(k map[string]types.AttributeValue) string {
	if v, ok := k[AttrSK].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// joinGroups reads the groups' files and appends those that match; it
// reports whether the page filled, and at which group.
func (s *Store) joinGroups(ctx context.Context, r catalog.ListRequest, groups []attachGroup, res *catalog.ListResult) (bool, int, error) {
	if len(groups) == 0 {
		return false, -1, nil
	}
	uuids := make([]string, len(groups))
	for i, g := range groups {
		uuids[i] = g.file
	}
	fs, err := s.GetFiles(ctx, r.AccountID, uuids)
	if err != nil {
		return false, -1, err
	}
	byUUID := make(map[string]int, len(fs))
	for i, f := range fs {
		byUUID[f.UUID] = i
	}
	for i, g := range groups {
		j, ok := byUUID[g.file]
		if !ok || !r.Query.Matches(fs[j]) {
			continue // purged meanwhile, or filtered out
		}
		res.Files = append(res.Files, fs[j])
		res.Attachments[g.file] = g.atts
		if len(res.Files) == r.Need {
			return true, i, nil
		}
	}
	return false, len(groups) - 1, nil
}
