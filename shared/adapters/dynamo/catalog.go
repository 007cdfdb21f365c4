package dynamo

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// ahead reports whether sort key k lies beyond ref in the scan direction.
func ahead(ascending bool, k, ref string) bool {
	if ref == "" {
		return true
	}
	if ascending {
		return k > ref
	}
	return k < ref
}

func in(attr string, vals []string) expression.ConditionBuilder {
	ops := make([]expression.OperandBuilder, 0, len(vals)-1)
	for _, v := range vals[1:] {
		ops = append(ops, expression.Value(v))
	}
	return expression.Name(attr).In(expression.Value(vals[0]), ops...)
}

// keyCondition selects the account's files, narrowed to a creation-date
// range when the query has one (gsi1sk starts with created_at).
func keyCondition(account string, q catalog.Query) expression.KeyConditionBuilder {
	k := expression.Key(AttrGSI1PK).Equal(expression.Value(filesGSI(account)))
	if q.DateField != "created_at" || q.DateFrom == nil && q.DateTo == nil {
		return k
	}
	sk := expression.Key(AttrGSI1SK)
	switch {
	case q.DateTo == nil: // DynamoDB refuses an empty string as a key value
		return k.And(sk.GreaterThanEqual(expression.Value(ts(*q.DateFrom))))
	case q.DateFrom == nil:
		return k.And(sk.LessThanEqual(expression.Value(ts(*q.DateTo) + "~")))
	}
	return k.And(sk.Between(expression.Value(ts(*q.DateFrom)), expression.Value(ts(*q.DateTo)+"~")))
}

// ListFiles reads one page from index gsi1, evaluating at most r.Budget
// items: Query calls continue until the page is full, the index is
// exhausted, or the budget is spent (then the page is short but has a next
// position, so read cost per page stays bounded).
func (s *Store) ListFiles(ctx context.Context, r catalog.ListRequest) (catalog.ListResult, error) {
	kb, err := expression.NewBuilder().WithKeyCondition(keyCondition(r.AccountID, r.Query)).WithFilter(filterCond(r.Query)).Build()
	if err != nil {
		return catalog.ListResult{}, err
	}
	in := &dynamodb.QueryInput{
		TableName: &s.table, IndexName: aws.String(IndexGSI1),
		KeyConditionExpression: kb.KeyCondition(), FilterExpression: kb.Filter(),
		ExpressionAttributeNames: kb.Names(), ExpressionAttributeValues: kb.Values(),
		ScanIndexForward:       aws.Bool(r.Query.Ascending),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	}
	if r.Start != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrPK: str(accountPK(r.AccountID)), AttrSK: str(r.Start.ItemKey),
			AttrGSI1PK: str(filesGSI(r.AccountID)), AttrGSI1SK: str(r.Start.SortKey)}
	}
	var res catalog.ListResult
	last := "" // furthest sort key seen, in scan direction
	var lastKey catalog.Position
	if r.Start != nil {
		last = r.Start.SortKey
	}
	for {
		in.Limit = aws.Int32(int32(r.NextLimit(len(res.Files), res.Evaluated, int(aws.ToInt32(in.Limit)))))
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return catalog.ListResult{}, err
		}
		res.Evaluated += int(out.ScannedCount)
		if out.ScannedCount == 0 { // emulators that omit ScannedCount
			res.Evaluated += int(aws.ToInt32(in.Limit))
		}
		if out.ConsumedCapacity != nil {
			res.Capacity += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		for i, item := range out.Items {
			var fi fileItem
			if err := attributevalue.UnmarshalMap(item, &fi); err != nil {
				return catalog.ListResult{}, err
			}
			res.Files = append(res.Files, fi.file(r.AccountID))
			last, lastKey = fi.GSI1SK, catalog.Position{SortKey: fi.GSI1SK, ItemKey: fi.SK}
			if len(res.Files) == r.Need {
				res.Next = &catalog.Position{SortKey: fi.GSI1SK, ItemKey: fi.SK}
				if len(out.LastEvaluatedKey) == 0 && i == len(out.Items)-1 {
					res.Next = nil // the last item of the index: no further page
				}
				return res, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			res.Next = nil // the index is exhausted: no further page
			return res, nil
		}
		var lek struct {
			SK     string `dynamodbav:"sk"`
			GSI1SK string `dynamodbav:"gsi1sk"`
		}
		if err := attributevalue.UnmarshalMap(out.LastEvaluatedKey, &lek); err != nil {
			return catalog.ListResult{}, err
		}
		// A position never moves backwards. DynamoDB guarantees it; an
		// emulator whose LastEvaluatedKey lags behind the items it returned
		// (minidyn, once other partitions share the index) resumes from the
		// last returned item instead, or ends when it returned none.
		next := catalog.Position{SortKey: lek.GSI1SK, ItemKey: lek.SK}
		if !ahead(r.Query.Ascending, lek.GSI1SK, last) {
			if len(out.Items) == 0 {
				res.Next = nil
				return res, nil
			}
			next = lastKey
		}
		last = next.SortKey
		res.Next = &next
		if res.Evaluated >= r.Budget {
			return res, nil
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrPK: str(accountPK(r.AccountID)), AttrSK: str(next.ItemKey),
			AttrGSI1PK: str(filesGSI(r.AccountID)), AttrGSI1SK: str(next.SortKey)}
	}
}

// filterCond is catalog.Query.Matches as a filter expression.
func filterCond(q catalog.Query) expression.ConditionBuilder {
	cond := expression.Name("is_trashed").Equal(expression.Value(q.Deleted))
	and := func(c expression.ConditionBuilder) { cond = cond.And(c) }
	if q.Deleted {
		and(expression.Name("purge_at").GreaterThan(expression.Value(ts(q.Now))))
	}
	if q.Name != "" {
		and(expression.Name("name_lc").Equal(expression.Value(strings.ToLower(q.Name))))
	}
	if q.Term != "" {
		and(expression.Name("name_lc").Contains(strings.ToLower(q.Term)))
	}
	if len(q.Extensions) > 0 {
		and(in("extension", q.Extensions))
	}
	if q.SizeFrom != nil {
		and(expression.Name("size").GreaterThanEqual(expression.Value(*q.SizeFrom)))
	}
	if q.SizeTo != nil {
		and(expression.Name("size").LessThanEqual(expression.Value(*q.SizeTo)))
	}
	if q.DateField == "updated_at" {
		if q.DateFrom != nil {
			and(expression.Name("updated_at").GreaterThanEqual(expression.Value(ts(*q.DateFrom))))
		}
		if q.DateTo != nil {
			and(expression.Name("updated_at").LessThanEqual(expression.Value(ts(*q.DateTo))))
		}
	}
	if len(q.CreatedBy) > 0 {
		and(in("created_by", q.CreatedBy))
	}
	if q.Source != "" {
		and(expression.Name("source").Equal(expression.Value(q.Source)))
	}
	if len(q.Scans) > 0 {
		// equalities, not IN: minidyn cannot parse a nested path in IN
		c := expression.Name("scan.s").Equal(expression.Value(string(q.Scans[0])))
		for _, x := range q.Scans[1:] {
			c = c.Or(expression.Name("scan.s").Equal(expression.Value(string(x))))
		}
		if slices.Contains(q.Scans, files.ScanOff) { // stored before scanning: no scan at all
			c = c.Or(expression.AttributeNotExists(expression.Name("scan")))
		}
		and(c)
	}
	return cond
}

// GetFiles reads files by uuid (BatchGetItem; unknown uuids are skipped).
func (s *Store) GetFiles(ctx context.Context, accountID string, uuids []string) ([]files.File, error) {
	var out []files.File
	keys := make([]map[string]types.AttributeValue, 0, len(uuids))
	seen := map[string]bool{}
	for _, u := range uuids {
		if !seen[u] {
			seen[u] = true
			keys = append(keys, keyOf(accountPK(accountID), fileSK(u)))
		}
	}
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var fi fileItem
		if err := attributevalue.UnmarshalMap(item, &fi); err != nil {
			return err
		}
		out = append(out, fi.file(accountID))
		return nil
	})
	return out, err
}

// ListVersions reads a file's versions, newest first (UUIDv7 order).
func (s *Store) ListVersions(ctx context.Context, accountID, fileUUID string, start *catalog.Position, limit int) ([]files.Version, *catalog.Position, error) {
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(accountPK(accountID)), ":prefix": str(versionSK(fileUUID, ""))},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
		ConsistentRead:   aws.Bool(true),
	}
	if start != nil {
		in.ExclusiveStartKey = keyOf(accountPK(accountID), start.ItemKey)
	}
	out, err := s.api.Query(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	vs := make([]files.Version, 0, len(out.Items))
	for _, item := range out.Items {
		var vi versionItem
		if err := attributevalue.UnmarshalMap(item, &vi); err != nil {
			return nil, nil, err
		}
		vs = append(vs, vi.version(accountID))
	}
	var next *catalog.Position
	if len(out.LastEvaluatedKey) > 0 && len(vs) > 0 {
		next = &catalog.Position{ItemKey: versionSK(fileUUID, vs[len(vs)-1].UUID)}
	}
	return vs, next, nil
}

// PromoteVersion makes f.VersionUUID the main version, if that version
// exists and the file is not trashed.
func (s *Store) PromoteVersion(ctx context.Context, f files.File, rec *outbox.Record) error {
	pk := accountPK(f.AccountID)
	var tx txn
	// the version's verdict and previews are still the ones the file takes
	same, names, values := scanIs(f.Scan.Status)
	if len(f.Previews) == 0 {
		same += " AND attribute_not_exists(previews)"
	} else {
		same += " AND attribute_exists(previews)"
	}
	tx.add(nil, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table, Key: keyOf(pk, versionSK(f.UUID, f.VersionUUID)),
		ConditionExpression: aws.String(same), ExpressionAttributeNames: names, ExpressionAttributeValues: nilIfEmpty(values)}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
			UpdateExpression:         aws.String(mainVersionUpdate(f, "")),
			ConditionExpression:      aws.String("attribute_exists(pk) AND is_trashed = :false"),
			ExpressionAttributeNames: mainVersionNames,
			ExpressionAttributeValues: mainVersionValues(f, map[string]types.AttributeValue{
				":false": falseV})}})
	return s.commit(ctx, &tx, rec)
}

func nilIfEmpty(m map[string]types.AttributeValue) map[string]types.AttributeValue {
	if len(m) == 0 {
		return nil
	}
	return m
}

// RecordScan records version v's verdict, and its file's when v is the
// main version, with rec, if v's stored verdict is still prev;
// ErrConflict when v is gone, its verdict changed, or (main) it is no
// longer the main version.
func (s *Store) RecordScan(ctx context.Context, v files.Version, prev files.ScanStatus, main bool, rec *outbox.Record) error {
	pk := accountPK(v.AccountID)
	scan := scanValue(v.Scan)
	cond, names, values := scanIs(prev)
	values[":scan"] = scan
	queue := " REMOVE gsi2pk, gsi2sk"
	if v.Scan.Quarantined() { // the sweeper erases its bytes at v.Scan.PurgeAt
		queue = ", gsi2pk = :pk, gsi2sk = :sk"
		qpk, qsk := scanQueue(v)
		values[":pk"], values[":sk"] = str(qpk), str(qsk)
	}
	var tx txn
	tx.add(apperr.ErrConflict, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, versionSK(v.FileUUID, v.UUID)),
		UpdateExpression: aws.String("SET #scan = :scan" + queue), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}})
	if main {
		tx.add(apperr.ErrConflict, s.onMainFile(v, "scan", scan))
	}
	return s.commit(ctx, &tx, rec)
}

// onMainFile sets attribute name of version v's file to value (a file
// shows its main version's verdict and previews), on condition that v is
// still its main version.
func (s *Store) onMainFile(v files.Version, name string, value types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(v.AccountID), fileSK(v.FileUUID)),
		UpdateExpression:          aws.String("SET #a = :a"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND version_uuid = :v"),
		ExpressionAttributeNames:  map[string]string{"#a": name},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": value, ":v": str(v.UUID)}}}
}

// scanIs is the condition that an existing version's verdict has status
// st ("": none stored).
func scanIs(st files.ScanStatus) (string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{"#scan": "scan"}
	if st == "" {
		return "attribute_exists(pk) AND attribute_not_exists(#scan)", names, map[string]types.AttributeValue{}
	}
	names["#s"] = "s"
	return "attribute_exists(pk) AND #scan.#s = :ss", names, map[string]types.AttributeValue{":ss": str(string(st))}
}

// RecordPreviews writes version v's previews, and its file's when v is
// main, with rec, if v has none yet and (main) is still the main version.
func (s *Store) RecordPreviews(ctx context.Context, v files.Version, main bool, rec *outbox.Record) error {
	pk, pv := accountPK(v.AccountID), previewsValue(v.Previews)
	var tx txn
	tx.add(nil, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, versionSK(v.FileUUID, v.UUID)),
		UpdateExpression: aws.String("SET previews = :pv"), ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(previews)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pv": pv}}})
	if main {
		tx.add(nil, s.onMainFile(v, "previews", pv))
	}
	return s.commit(ctx, &tx, rec)
}

// PurgeInfected records that infected version v's bytes were erased
// (v.Scan.PurgedAt): the version leaves the sweeper's queue, its size
// leaves its file's total and the account's used (or trashed) bytes, the
// file's scan follows when v is main, all with rec, on condition that v
// is still quarantined and f still trashed or not and on the main version
// as read.
func (s *Store) PurgeInfected(ctx context.Context, v files.Version, f files.File, rec *outbox.Record) error {
	pk := accountPK(v.AccountID)
	var tx txn
	tx.add(nil, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, versionSK(v.FileUUID, v.UUID)),
		UpdateExpression:          aws.String("SET #scan = :scan REMOVE gsi2pk, gsi2sk"),
		ConditionExpression:       aws.String("#scan.#s = :infected AND attribute_not_exists(#scan.#pd)"),
		ExpressionAttributeNames:  map[string]string{"#scan": "scan", "#s": "s", "#pd": "pd"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":scan": scanValue(v.Scan), ":infected": str(string(files.ScanInfected))}}})
	set, vals := "", map[string]types.AttributeValue{":neg": num(-v.Size), ":t": boolValue(f.IsTrashed), ":v": str(f.VersionUUID)}
	if f.VersionUUID == v.UUID {
		set, vals[":scan"] = " SET #scan = :scan", scanValue(v.Scan)
	}
	file := &types.Update{TableName: &s.table, Key: keyOf(pk, fileSK(f.UUID)),
		UpdateExpression:          aws.String("ADD total_bytes :neg" + set),
		ConditionExpression:       aws.String("attribute_exists(pk) AND is_trashed = :t AND version_uuid = :v"),
		ExpressionAttributeValues: vals}
	if set != "" {
		file.ExpressionAttributeNames = map[string]string{"#scan": "scan"}
	}
	usage, uvals := "ADD used_bytes :neg, avail :size", map[string]types.AttributeValue{":neg": num(-v.Size), ":size": num(v.Size)}
	if f.IsTrashed {
		usage = "ADD trashed_bytes :neg"
		delete(uvals, ":size")
	}
	tx.add(nil, types.TransactWriteItem{Update: file},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(pk, accountSK), UpdateExpression: aws.String(usage),
			ExpressionAttributeValues: uvals}})
	return s.commit(ctx, &tx, rec)
}

// scansGSI is the sweeper's queue of versions pending their verdict, and
// of infected versions until their bytes are erased.
const scansGSI = "SCANS"

// DueScans lists versions pending their verdict whose look is due at now,
// and infected versions whose quarantine ended.
func (s *Store) DueScans(ctx context.Context, now time.Time, limit int) ([]files.Version, error) {
	return due(ctx, s, scansGSI, now, limit, func(vi versionItem) files.Version { return vi.version(strings.TrimPrefix(vi.PK, "A#")) })
}

// RescheduleScan moves a pending version's look to v.Scan.Due.
func (s *Store) RescheduleScan(ctx context.Context, v files.Version) error {
	pk, sk := scanQueue(v)
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(accountPK(v.AccountID), versionSK(v.FileUUID, v.UUID)),
		UpdateExpression:         aws.String("SET #scan.#due = :due, #scan.#n = :n, gsi2pk = :pk, gsi2sk = :sk"),
		ConditionExpression:      aws.String("#scan.#s = :pending"),
		ExpressionAttributeNames: map[string]string{"#scan": "scan", "#due": "due", "#n": "n", "#s": "s"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(ts(v.Scan.Due)), ":n": num(int64(v.Scan.Looks)),
			":pk": str(pk), ":sk": str(sk), ":pending": str(string(files.ScanPending))}})
	return mapErr(err)
}
