// Package dynamo stores Anexo's metadata in one DynamoDB table, and the
// signing keys in a second one (KeyStore). Store implements every store port
// the domain packages define (auth, upload, catalog, entities, batches) and
// maps SDK errors to apperr sentinels. See docs/data-model.md for the keys,
// items and access patterns.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
)

// API is the slice of the DynamoDB client the adapter uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Attribute and index names.
const (
	AttrPK     = "pk"
	AttrSK     = "sk"
	AttrGSI1PK = "gsi1pk"
	AttrGSI1SK = "gsi1sk"
	AttrTTL    = "ttl"
	IndexGSI1  = "gsi1"
	AttrGSI2PK = "gsi2pk"
	AttrGSI2SK = "gsi2sk"
	IndexGSI2  = "gsi2" // sparse: only trashed files, by purge time
)

// Store implements the metadata ports on one table.
type Store struct {
	api   API
	table string
}

// New returns a store on table.
func New(api API, table string) *Store { return &Store{api: api, table: table} }

// Admin is the client surface EnsureTable needs.
type Admin interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// TableInput is the table definition; infra/ mirrors it in CDK.
func TableInput(name string) *dynamodb.CreateTableInput {
	s := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(h, r string) []types.KeySchemaElement {
		return []types.KeySchemaElement{{AttributeName: aws.String(h), KeyType: types.KeyTypeHash}, {AttributeName: aws.String(r), KeyType: types.KeyTypeRange}}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{s(AttrPK), s(AttrSK), s(AttrGSI1PK), s(AttrGSI1SK), s(AttrGSI2PK), s(AttrGSI2SK)},
		KeySchema:            key(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexGSI1), KeySchema: key(AttrGSI1PK, AttrGSI1SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(IndexGSI2), KeySchema: key(AttrGSI2PK, AttrGSI2SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// EnsureTable creates the table when missing and waits until it is active.
// TTL is switched on where the backend supports it (minidyn does not).
func EnsureTable(ctx context.Context, api Admin, name string) error {
	return ensure(ctx, api, TableInput(name))
}

// KeysTableInput is the signing keys' table: pk = purpose, sk = key id.
func KeysTableInput(name string) *dynamodb.CreateTableInput {
	in := TableInput(name)
	in.AttributeDefinitions, in.GlobalSecondaryIndexes = in.AttributeDefinitions[:2], nil
	return in
}

// EnsureKeysTable creates the signing keys' table when missing.
func EnsureKeysTable(ctx context.Context, api Admin, name string) error {
	return ensure(ctx, api, KeysTableInput(name))
}

func ensure(ctx context.Context, api Admin, in *dynamodb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	_, err := api.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	for i := 0; ; i++ {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		// minidyn reports no status; a described table is usable there.
		if err == nil && (out.Table.TableStatus == types.TableStatusActive || out.Table.TableStatus == "") {
			break
		}
		if i > 100 {
			return fmt.Errorf("table %s not active: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(AttrTTL), Enabled: aws.Bool(true)}})
	return nil
}

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: &types.AttributeValueMemberS{Value: pk}, AttrSK: &types.AttributeValueMemberS{Value: sk}}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

var falseV, trueV = &types.AttributeValueMemberBOOL{Value: false}, &types.AttributeValueMemberBOOL{Value: true}

// boolValue is b as an attribute value.
func boolValue(b bool) types.AttributeValue {
	if b {
		return trueV
	}
	return falseV
}

func num(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

// mapErr turns SDK errors into apperr sentinels.
func mapErr(err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: %v", apperr.ErrConflict, err)
	}
	return err
}

// batchGet reads items by key (consistently), 100 per BatchGetItem, and
// hands each to fn. Keys DynamoDB leaves unprocessed (throttling) are asked
// again after a jittered exponential backoff, as AWS advises, instead of at
// once.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, fn func(map[string]types.AttributeValue) error) error {
	for attempt := 0; len(keys) > 0; {
		n := min(len(keys), 100) // BatchGetItem's limit
		res, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}})
		if err != nil {
			return err
		}
		for _, item := range res.Responses[s.table] {
			if err := fn(item); err != nil {
				return err
			}
		}
		left := res.UnprocessedKeys[s.table].Keys
		keys = append(left, keys[n:]...)
		if len(left) == 0 {
			attempt = 0
			continue
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
		attempt = min(attempt+1, 6)
	}
	return nil
}

// backoff is the wait before retry attempt (0-based): 10 ms doubling, with
// up to 10 ms of jitter.
func backoff(attempt int) time.Duration {
	return time.Duration(10<<attempt)*time.Millisecond + time.Duration(rand.Int64N(int64(10*time.Millisecond)))
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Keys.
func accountPK(id string) string        { return "A#" + id }
func tokenPK(hash string) string        { return TokenPKPrefix + hash }
func sessionSK(id string) string        { return "S#" + id }
func fileSK(uuid string) string         { return "F#" + uuid }
func versionSK(file, ver string) string { return "F#" + file + "#V#" + ver }
func fileIDSK(id int64) string          { return fmt.Sprintf("N#%020d", id) }
func filesGSI(account string) string    { return "A#" + account + "#FILES" }

const accountSK, tokenSK = "ACCOUNT", "TOKEN"

// TokenPKPrefix begins the partition key of every secret's item (T#<hash>),
// the only items the authorizer reads; it writes only their
// AttrLastUsedAt.
const (
	TokenPKPrefix  = "T#"
	AttrLastUsedAt = "last_used_at"
)

// timeFormat sorts lexically: fixed width, UTC.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTS(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
