package dynamo

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/domain/keyring"
)

// KeyStore keeps the signing keys in their own table, which only the
// functions that sign or verify may read (their IAM policies name it).
type KeyStore struct {
	s *Store // on the keys' table
}

// NewKeyStore returns the key store on table.
func NewKeyStore(api API, table string) *KeyStore { return &KeyStore{s: New(api, table)} }

type keyItem struct {
	PK          string `dynamodbav:"pk"` // purpose
	SK          string `dynamodbav:"sk"` // key id
	Secret      string `dynamodbav:"secret"`
	CreatedAt   string `dynamodbav:"created_at"`
	VerifyUntil string `dynamodbav:"verify_until"`
	TTL         int64  `dynamodbav:"ttl"`
}

// Keys reads a purpose's keys (one Query: a key a month, each kept a month
// and a day).
func (s *KeyStore) Keys(ctx context.Context, purpose string) ([]keyring.Key, error) {
	var out []keyring.Key
	err := s.s.queryPrefix(ctx, purpose, "", func(item map[string]types.AttributeValue) error {
		var it keyItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		sec, err := base64.StdEncoding.DecodeString(it.Secret)
		if err != nil {
			return err
		}
		out = append(out, keyring.Key{ID: it.SK, Secret: sec, CreatedAt: parseTS(it.CreatedAt), VerifyUntil: parseTS(it.VerifyUntil)})
		return nil
	})
	return out, err
}

// PutKey adds a key (ErrConflict when its id exists).
func (s *KeyStore) PutKey(ctx context.Context, purpose string, k keyring.Key) error {
	return s.s.putNew(ctx, keyItem{PK: purpose, SK: k.ID, Secret: base64.StdEncoding.EncodeToString(k.Secret),
		CreatedAt: ts(k.CreatedAt), VerifyUntil: ts(k.VerifyUntil), TTL: k.VerifyUntil.Add(24 * time.Hour).Unix()})
}

// RetireKeys ends the verification of every key of the purpose but keep.
func (s *KeyStore) RetireKeys(ctx context.Context, purpose, keep string, now time.Time) error {
	ks, err := s.Keys(ctx, purpose)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k.ID == keep || !now.Before(k.VerifyUntil) {
			continue
		}
		_, err := s.s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.s.table, Key: keyOf(purpose, k.ID),
			UpdateExpression:          aws.String("SET verify_until = :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(now))}})
		if err != nil {
			return err
		}
	}
	return nil
}
