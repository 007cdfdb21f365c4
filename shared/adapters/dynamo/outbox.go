package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/domain/outbox"
)

// recordItem is an outbox record: the events of one state change, in the
// account's partition, ordered by sort key (time, then id), kept for
// outbox.Retention.
type recordItem struct {
	PK     string   `dynamodbav:"pk"`
	SK     string   `dynamodbav:"sk"`
	ID     string   `dynamodbav:"id"`
	At     string   `dynamodbav:"at"`
	Types  []string `dynamodbav:"types,stringset"`
	Events string   `dynamodbav:"events"` // JSON array
	TTL    int64    `dynamodbav:"ttl"`
}

const eventsPrefix = "EV#"

// RecordSK is a record's sort key: its time, then its id.
func RecordSK(at time.Time, id string) string { return eventsPrefix + ts(at) + "#" + id }

// recordPut is the put of rec's item (a new record: its id is fresh).
func (s *Store) recordPut(rec *outbox.Record) (types.TransactWriteItem, error) {
	b, err := json.Marshal(rec.Events)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	it := recordItem{PK: accountPK(rec.AccountID), SK: RecordSK(rec.At, rec.ID), ID: rec.ID, At: ts(rec.At),
		Events: string(b), TTL: rec.At.Add(outbox.Retention).Unix()}
	for _, t := range rec.Types() {
		it.Types = append(it.Types, string(t))
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}, nil
}

// Records reads an account's outbox after a position (a record's sort
// key; "" from the start) up to until, oldest first: at most limit records
// of the types asked (all if none), evaluating at most budget. next is the
// sort key of the last record evaluated when the page stopped early ("":
// everything up to until was read).
func (s *Store) Records(ctx context.Context, r outbox.Scan) (recs []outbox.Record, next string, err error) {
	// eventually consistent (half the units): the feed reads records
	// outbox.Settle old, long replicated
	in := &dynamodb.QueryInput{TableName: &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(accountPK(r.AccountID)),
			":lo": str(eventsPrefix), ":hi": str(eventsPrefix + ts(r.Until) + "#~")}}
	switch {
	case r.After != "":
		in.ExclusiveStartKey = keyOf(accountPK(r.AccountID), r.After)
	case !r.Since.IsZero():
		in.ExpressionAttributeValues[":lo"] = str(eventsPrefix + ts(r.Since))
	}
	if len(r.Types) > 0 {
		var ors []string
		in.ExpressionAttributeNames = map[string]string{"#types": "types"}
		for i, t := range r.Types {
			k := fmt.Sprintf(":t%d", i)
			ors = append(ors, "contains(#types, "+k+")")
			in.ExpressionAttributeValues[k] = str(string(t))
		}
		in.FilterExpression = aws.String(strings.Join(ors, " OR "))
	}
	evaluated := 0
	for {
		in.Limit = aws.Int32(int32(min(r.Budget-evaluated, max(2*(r.Limit-len(recs)), 10))))
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		evaluated += int(out.ScannedCount)
		for _, item := range out.Items {
			var it recordItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, "", err
			}
			rec, err := it.record(r.AccountID)
			if err != nil {
				return nil, "", err
			}
			recs = append(recs, rec)
			if len(recs) == r.Limit {
				return recs, it.SK, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return recs, "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if evaluated >= r.Budget {
			var last string
			_ = attributevalue.Unmarshal(out.LastEvaluatedKey[AttrSK], &last)
			return recs, last, nil
		}
	}
}

func (it recordItem) record(account string) (outbox.Record, error) {
	at, err := time.Parse(timeFormat, it.At)
	if err != nil {
		return outbox.Record{}, err
	}
	rec := outbox.Record{AccountID: account, ID: it.ID, At: at, Position: it.SK}
	return rec, json.Unmarshal([]byte(it.Events), &rec.Events)
}
