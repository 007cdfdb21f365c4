package devserver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestEmbeddedQueryLimitWithFilter: on the embedded DynamoDB, a Query with
// a filter and a Limit reads Limit items of its own partition, as DynamoDB
// does — minidyn alone counted the other partitions' index items it walked
// past, answering an empty page with a key in another partition.
func TestEmbeddedQueryLimitWithFilter(t *testing.T) {
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		ctx := context.Background()
		c := testenv.Config(be)
		db := testenv.ConnectDynamo(t, c).DynamoDB()
		s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
		for _, acct := range []string{"a", "b"} { // b's index partition sorts after a's
			for i := range 10 {
				item := map[string]types.AttributeValue{"pk": s("A#" + acct), "sk": s(fmt.Sprintf("F#%02d", i)),
					"gsi1pk": s("FILES#" + acct), "gsi1sk": s(fmt.Sprintf("2026-01-%02d", i+1)),
					"is_trashed": &types.AttributeValueMemberBOOL{Value: i%3 == 0}}
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &c.Table, Item: item}); err != nil {
					t.Fatal(err)
				}
			}
		}
		in := &dynamodb.QueryInput{TableName: &c.Table, IndexName: aws.String(dynamo.IndexGSI1),
			KeyConditionExpression: aws.String("#p = :p"), FilterExpression: aws.String("#t = :f"),
			ExpressionAttributeNames:  map[string]string{"#p": "gsi1pk", "#t": "is_trashed"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("FILES#a"), ":f": &types.AttributeValueMemberBOOL{Value: false}},
			ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(4)}
		var got []string
		for page := 0; ; page++ {
			out, err := db.Query(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if page == 0 && len(out.Items) == 0 {
				t.Fatalf("the first page of 4 read items is empty (LastEvaluatedKey %v)", out.LastEvaluatedKey)
			}
			for _, it := range out.Items {
				got = append(got, it["sk"].(*types.AttributeValueMemberS).Value)
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			if pk := out.LastEvaluatedKey["pk"].(*types.AttributeValueMemberS).Value; pk != "A#a" {
				t.Fatalf("LastEvaluatedKey in partition %s", pk)
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		want := "[F#08 F#07 F#05 F#04 F#02 F#01]" // untrashed, newest first
		if fmt.Sprint(got) != want {
			t.Fatalf("pages gave %v, want %s", got, want)
		}
	})
}
