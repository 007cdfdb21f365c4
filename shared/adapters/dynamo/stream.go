package dynamo

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/domain/outbox"
)

// StreamFilter is the event source mapping's filter: the dispatcher is
// invoked only for inserted outbox records (not for their expiry, nor for
// any other item the table writes).
const StreamFilter = `{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"` + eventsPrefix + `"}]}}}}`

// StreamRecord reads an outbox record from a stream record's new image;
// ok is false for any other item.
func StreamRecord(img map[string]events.DynamoDBAttributeValue) (rec outbox.Record, ok bool, err error) {
	if sk := img[AttrSK]; sk.DataType() != events.DataTypeString || !strings.HasPrefix(sk.String(), eventsPrefix) {
		return outbox.Record{}, false, nil
	}
	item := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		if item[k], err = fromStream(v); err != nil {
			return outbox.Record{}, false, fmt.Errorf("attribute %s: %w", k, err)
		}
	}
	var it recordItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return outbox.Record{}, false, err
	}
	pk, _ := strings.CutPrefix(it.PK, "A#")
	rec, err = it.record(pk)
	return rec, err == nil, err
}

// fromStream converts a stream image's attribute value to the SDK's.
func fromStream(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		out := &types.AttributeValueMemberL{}
		for _, x := range v.List() {
			c, err := fromStream(x)
			if err != nil {
				return nil, err
			}
			out.Value = append(out.Value, c)
		}
		return out, nil
	case events.DataTypeMap:
		out := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		for k, x := range v.Map() {
			c, err := fromStream(x)
			if err != nil {
				return nil, err
			}
			out.Value[k] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown stream attribute type %v", v.DataType())
}
