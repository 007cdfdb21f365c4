package dynamo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestSweeperQueueShards: a sweeper queue's entries spread over the shards
// of gsi2 (no single index partition takes every write of the queue), and
// the sweeper reads them back merged, oldest first, entries written under
// the bare group name before the sharding included.
func TestSweeperQueueShards(t *testing.T) {
	be := testenv.Embedded(t)
	be.S3 = ""
	c := testenv.Config(be)
	d := testenv.ConnectDynamo(t, c)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	put := func(f files.File, purgeAt time.Time, legacy bool) string {
		f.IsTrashed, f.PurgeAt = true, &purgeAt
		item, err := dynamo.FileItem(f)
		if err != nil {
			t.Fatal(err)
		}
		pk, sk := dynamo.DueEntry("TRASH", purgeAt, f.AccountID, f.UUID)
		if legacy {
			pk = "TRASH"
		}
		item["gsi2pk"], item["gsi2sk"] = &types.AttributeValueMemberS{Value: pk}, &types.AttributeValueMemberS{Value: sk}
		if _, err := d.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(c.Table), Item: item}); err != nil {
			t.Fatal(err)
		}
		return pk
	}
	shards := map[string]bool{}
	var want []string // uuids, oldest purge first
	legacy := files.File{AccountID: uuid.NewString(), UUID: uuid.NewString(), Name: "old.txt"}
	put(legacy, t0.Add(-time.Hour), true)
	want = append(want, legacy.UUID)
	for i := range 40 {
		f := files.File{AccountID: uuid.NewString(), UUID: uuid.NewString(), Name: fmt.Sprintf("f%d.txt", i)}
		shards[put(f, t0.Add(time.Duration(i)*time.Second), false)] = true
		want = append(want, f.UUID)
	}
	if len(shards) < 8 {
		t.Fatalf("40 entries went to %d shards", len(shards))
	}
	for _, limit := range []int{100, 5} {
		due, err := d.Store().DuePurges(ctx, t0.Add(time.Minute), limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != min(limit, len(want)) {
			t.Fatalf("limit %d: %d due", limit, len(due))
		}
		for i, f := range due {
			if f.UUID != want[i] {
				t.Fatalf("limit %d: entry %d is %s, want %s (oldest first across shards)", limit, i, f.UUID, want[i])
			}
		}
	}
	if due, _ := d.Store().DuePurges(ctx, t0.Add(10*time.Second), 100); len(due) != 1+10 {
		t.Fatalf("%d due before t0+10s, want 11", len(due))
	}
}
