package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The sweeper's queues (trashed files by purge time, pending batches by
// stale time, sessions by their next look) live in the sparse index gsi2.
// Each queue is spread over dueShards partition keys ("SESSIONS#07"): its
// sort keys grow with time, so one key would take every write of the queue
// across all accounts on one index partition — about 1,000 writes a second
// for the whole deployment, and every upload session writes its entry
// three times (open, completion, the sweeper's look). An item's shard comes
// from its own key, so it keeps it when rescheduled; the sweeper reads the
// shards and merges them by time. Entries written before the sharding
// (under the bare group name) are read too.
const dueShards = 16

// dueEntry is the gsi2 key of an item of group due at at.
func dueEntry(group string, at time.Time, accountID, id string) (pk, sk string) {
	h := fnv.New32a()
	h.Write([]byte(accountID + "#" + id))
	return fmt.Sprintf("%s#%02d", group, h.Sum32()%dueShards), dueSK(at, accountID, id)
}

func dueSK(at time.Time, accountID, id string) string { return ts(at) + "#" + accountID + "#" + id }

// dueKeys are a group's gsi2 partition keys: its shards and the bare name.
func dueKeys(group string) []string {
	keys := []string{group}
	for i := range dueShards {
		keys = append(keys, fmt.Sprintf("%s#%02d", group, i))
	}
	return keys
}

// due reads the items of one group of the sparse index gsi2 whose time
// (the sort key's first part) is at most before, oldest first: one Query
// per shard (each reads at most limit items), merged.
func due[I any, T any](ctx context.Context, s *Store, group string, before time.Time, limit int, conv func(I) T) ([]T, error) {
	var items []map[string]types.AttributeValue
	for _, k := range dueKeys(group) {
		out, err := s.api.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(IndexGSI2),
			KeyConditionExpression:    aws.String("gsi2pk = :g AND gsi2sk BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(k), ":lo": str("0"), ":hi": str(ts(before))},
			Limit:                     aws.Int32(int32(limit))})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
	}
	sk := func(it map[string]types.AttributeValue) string {
		v, _ := it[AttrGSI2SK].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	slices.SortFunc(items, func(a, b map[string]types.AttributeValue) int { return strings.Compare(sk(a), sk(b)) })
	res := make([]T, 0, min(limit, len(items)))
	for _, item := range items[:min(limit, len(items))] {
		var it I
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, err
		}
		res = append(res, conv(it))
	}
	return res, nil
}
