package sdkprobe

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is an item of about size bytes (one attribute "d").
func item(size int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"d": &types.AttributeValueMemberS{Value: strings.Repeat("x", size-1)}}
}

func TestItemSize(t *testing.T) {
	it := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "A#1"},                                                             // 2+3
		"size": &types.AttributeValueMemberN{Value: "12345"},                                                           // 4+3
		"ok":   &types.AttributeValueMemberBOOL{Value: true},                                                           // 2+1
		"tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 4+3+1+2
	}
	if got := ItemSize(it); got != 5+7+3+10 {
		t.Fatalf("ItemSize = %d, want 25", got)
	}
}

func TestEstimate(t *testing.T) {
	for _, c := range []struct {
		name string
		in   any
		out  any
		rru  float64
		wru  float64
	}{
		{"GetItem not found", &dynamodb.GetItemInput{}, &dynamodb.GetItemOutput{}, 0.5, 0},
		{"GetItem consistent 5 KiB", &dynamodb.GetItemInput{ConsistentRead: aws.Bool(true)}, &dynamodb.GetItemOutput{Item: item(5000)}, 2, 0},
		{"Query 51 items of 600 B", &dynamodb.QueryInput{}, &dynamodb.QueryOutput{Items: repeat(51, 600), ScannedCount: 51}, 4, 0},
		{"Query filtered: 1000 read, 10 returned", &dynamodb.QueryInput{}, &dynamodb.QueryOutput{Items: repeat(10, 600), ScannedCount: 1000}, 73.5, 0},
		{"BatchGetItem 3 small", &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {}}},
			&dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{"t": repeat(3, 600)}}, 1.5, 0},
		{"TransactGetItems 2", &dynamodb.TransactGetItemsInput{}, &dynamodb.TransactGetItemsOutput{Responses: []types.ItemResponse{{Item: item(100)}, {Item: item(5000)}}}, 2 + 4, 0},
		{"PutItem 1.5 KiB", &dynamodb.PutItemInput{Item: item(1500)}, &dynamodb.PutItemOutput{}, 0, 2},
		{"UpdateItem", &dynamodb.UpdateItemInput{}, &dynamodb.UpdateItemOutput{}, 0, 1},
		{"TransactWriteItems put 1.5 KiB + update + check", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{Item: item(1500)}}, {Update: &types.Update{}}, {ConditionCheck: &types.ConditionCheck{}}}}, &dynamodb.TransactWriteItemsOutput{}, 0, 4 + 2 + 2},
		{"BatchWriteItem", &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"t": {
			{PutRequest: &types.PutRequest{Item: item(2000)}}, {DeleteRequest: &types.DeleteRequest{}}}}}, &dynamodb.BatchWriteItemOutput{}, 0, 2 + 1},
		{"not DynamoDB", "x", nil, 0, 0},
	} {
		if got := estimate(c.in, c.out, 0); got.RRU != c.rru || got.WRU != c.wru {
			t.Errorf("%s: %+v, want RRU %v WRU %v", c.name, got, c.rru, c.wru)
		}
	}
}

func repeat(n, size int) []map[string]types.AttributeValue {
	out := make([]map[string]types.AttributeValue, n)
	for i := range out {
		out[i] = item(size)
	}
	return out
}

// TestEstimateDroppedItems: a query whose filter dropped everything is
// billed for the items it read at the mean size given (1 KiB without one).
func TestEstimateDroppedItems(t *testing.T) {
	in, out := &dynamodb.QueryInput{}, &dynamodb.QueryOutput{ScannedCount: 1000}
	if got := estimate(in, out, 600).RRU; got != 73.5 {
		t.Errorf("mean 600 B: %v RRU, want 73.5", got)
	}
	if got := estimate(in, out, 0).RRU; got != 125 {
		t.Errorf("no mean: %v RRU, want 125", got)
	}
}
