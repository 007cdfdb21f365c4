package sdkprobe

import (
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Billed is DynamoDB on-demand request units as AWS would bill a call,
// estimated from the sizes of the items it wrote and read (emulators
// report no usable capacity: moto counts one unit per call). Reads: half
// a unit per 4 KiB (eventually consistent), one when strongly consistent,
// two per item in transactions. Writes: one unit per KiB, two in
// transactions. Where the size is unknown to the caller (UpdateItem,
// DeleteItem, ConditionCheck, items a Query's filter dropped) it assumes
// the item fits the smallest unit, or the mean size of the items the
// Query returned (of the items queries returned before, when it returned
// none).
type Billed struct {
	RRU, WRU float64
}

func units(size, per int) float64 { return math.Max(1, math.Ceil(float64(size)/float64(per))) }

func readUnits(size int, consistent *bool) float64 {
	u := units(size, 4096)
	if !aws.ToBool(consistent) {
		u /= 2
	}
	return u
}

// estimate is the billing of one DynamoDB call (zero for anything else);
// mean is the size assumed for items a Query's filter dropped when it
// returned none to measure (the probe passes the mean of the items it has
// seen returned; 0: 1 KiB).
func estimate(params, result any, mean int) Billed {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		out, _ := result.(*dynamodb.GetItemOutput)
		size := 0
		if out != nil {
			size = ItemSize(out.Item)
		}
		return Billed{RRU: readUnits(size, in.ConsistentRead)}
	case *dynamodb.BatchGetItemInput:
		out, _ := result.(*dynamodb.BatchGetItemOutput)
		var b Billed
		if out != nil {
			for table, items := range out.Responses {
				consistent := in.RequestItems[table].ConsistentRead
				for _, it := range items {
					b.RRU += readUnits(ItemSize(it), consistent)
				}
			}
		}
		return b
	case *dynamodb.QueryInput:
		out, _ := result.(*dynamodb.QueryOutput)
		if out == nil {
			return Billed{}
		}
		size, n := 0, len(out.Items)
		for _, it := range out.Items {
			size += ItemSize(it)
		}
		if scanned := int(out.ScannedCount); scanned > n {
			switch {
			case n > 0:
				mean = size / n
			case mean <= 0:
				mean = 1024
			}
			size += (scanned - n) * mean
		}
		return Billed{RRU: readUnits(size, in.ConsistentRead)}
	case *dynamodb.TransactGetItemsInput:
		out, _ := result.(*dynamodb.TransactGetItemsOutput)
		var b Billed
		if out != nil {
			for _, r := range out.Responses {
				b.RRU += 2 * units(ItemSize(r.Item), 4096)
			}
		}
		return b
	case *dynamodb.PutItemInput:
		return Billed{WRU: units(ItemSize(in.Item), 1024)}
	case *dynamodb.UpdateItemInput, *dynamodb.DeleteItemInput:
		return Billed{WRU: 1}
	case *dynamodb.BatchWriteItemInput:
		var b Billed
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					b.WRU += units(ItemSize(r.PutRequest.Item), 1024)
				} else {
					b.WRU++
				}
			}
		}
		return b
	case *dynamodb.TransactWriteItemsInput:
		var b Billed
		for _, it := range in.TransactItems {
			if it.Put != nil {
				b.WRU += 2 * units(ItemSize(it.Put.Item), 1024)
			} else {
				b.WRU += 2
			}
		}
		return b
	}
	return Billed{}
}

// ItemSize is an item's size as DynamoDB bills it: attribute names plus
// values (strings and binaries by length, numbers about one byte per two
// digits plus one, three bytes of overhead per list or map).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += len(s)/2 + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + ItemSize(v.Value) + len(v.Value)
	}
	return 0
}

// Write is one item a DynamoDB write request wrote (or deleted), with the
// units it was billed: where the write load of an operation lands, item by
// item and partition by partition. Condition checks write nothing and are
// left out.
type Write struct {
	Table, PK, SK string
	WRU           float64
}

// writes lists the items a DynamoDB write request writes.
func writes(params any) []Write {
	key := func(table *string, item map[string]types.AttributeValue, wru float64) Write {
		w := Write{WRU: wru}
		if table != nil {
			w.Table = *table
		}
		if v, ok := item["pk"].(*types.AttributeValueMemberS); ok {
			w.PK = v.Value
		}
		if v, ok := item["sk"].(*types.AttributeValueMemberS); ok {
			w.SK = v.Value
		}
		return w
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		return []Write{key(in.TableName, in.Item, units(ItemSize(in.Item), 1024))}
	case *dynamodb.UpdateItemInput:
		return []Write{key(in.TableName, in.Key, 1)}
	case *dynamodb.DeleteItemInput:
		return []Write{key(in.TableName, in.Key, 1)}
	case *dynamodb.BatchWriteItemInput:
		var out []Write
		for table, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					out = append(out, key(&table, r.PutRequest.Item, units(ItemSize(r.PutRequest.Item), 1024)))
				} else if r.DeleteRequest != nil {
					out = append(out, key(&table, r.DeleteRequest.Key, 1))
				}
			}
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []Write
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, key(it.Put.TableName, it.Put.Item, 2*units(ItemSize(it.Put.Item), 1024)))
			case it.Update != nil:
				out = append(out, key(it.Update.TableName, it.Update.Key, 2))
			case it.Delete != nil:
				out = append(out, key(it.Delete.TableName, it.Delete.Key, 2))
			}
		}
		return out
	}
	return nil
}
