package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/domain/auth"
)

// Accounts and tokens. An account is its item (A#id / ACCOUNT) plus a
// directory entry (ACCOUNTS / id) that operators list. A token is an item
// in its account (A#id / TOKEN#token-id: what listing, rotation,
// revocation and tickets read) and one item per valid secret
// (T#sha256 / TOKEN: what the authorizer reads, by the presented secret).

const accountsPK = "ACCOUNTS"

// revokedRetention keeps a revoked token listed (for audit) this long.
const revokedRetention = 30 * 24 * time.Hour

func accountTokenSK(id string) string { return "TOKEN#" + id }

// tokenItem is a secret's item: the token's grant, as the authorizer needs it.
type tokenItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	ID            string `dynamodbav:"token_id"`
	AccountID     string `dynamodbav:"account_id"`
	Name          string `dynamodbav:"name"`
	Scopes        string `dynamodbav:"scopes"`
	AllowedDomain string `dynamodbav:"allowed_domain,omitempty"`
	CreatedAt     string `dynamodbav:"created_at"`
	ExpiresAt     string `dynamodbav:"expires_at,omitempty"` // a replaced secret's: its grace end
	LastUsedAt    string `dynamodbav:"last_used_at,omitempty"`
	TTL           int64  `dynamodbav:"ttl,omitempty"`
}

func (t tokenItem) token() auth.Token {
	return auth.Token{ID: t.ID, AccountID: t.AccountID, Name: t.Name, Hash: strings.TrimPrefix(t.PK, "T#"),
		Scopes: parseScopes(t.Scopes), AllowedDomain: t.AllowedDomain, CreatedAt: parseTS(t.CreatedAt),
		ExpiresAt: parseTS(t.ExpiresAt), LastUsedAt: parseTS(t.LastUsedAt)}
}

// accountTokenItem is the token in its account.
type accountTokenItem struct {
	PK            string       `dynamodbav:"pk"`
	SK            string       `dynamodbav:"sk"`
	ID            string       `dynamodbav:"token_id"`
	Name          string       `dynamodbav:"name"`
	Scopes        string       `dynamodbav:"scopes"`
	AllowedDomain string       `dynamodbav:"allowed_domain,omitempty"`
	CreatedAt     string       `dynamodbav:"created_at"`
	CreatedBy     string       `dynamodbav:"created_by,omitempty"`
	ExpiresAt     string       `dynamodbav:"expires_at,omitempty"`
	Hash          string       `dynamodbav:"hash"`
	Previous      []secretItem `dynamodbav:"previous,omitempty"`
	RotatedAt     string       `dynamodbav:"rotated_at,omitempty"`
	RevokedAt     string       `dynamodbav:"revoked_at,omitempty"`
	TTL           int64        `dynamodbav:"ttl,omitempty"`
}

type secretItem struct {
	Hash  string `dynamodbav:"h"`
	Until string `dynamodbav:"u"`
}

func (t accountTokenItem) token(accountID string) auth.Token {
	out := auth.Token{ID: t.ID, AccountID: accountID, Name: t.Name, Hash: t.Hash, Scopes: parseScopes(t.Scopes),
		AllowedDomain: t.AllowedDomain, CreatedAt: parseTS(t.CreatedAt), CreatedBy: t.CreatedBy,
		ExpiresAt: parseTS(t.ExpiresAt), RotatedAt: parseTS(t.RotatedAt), RevokedAt: parseTS(t.RevokedAt)}
	for _, p := range t.Previous {
		out.Previous = append(out.Previous, auth.Secret{Hash: p.Hash, Until: parseTS(p.Until)})
	}
	return out
}

func parseScopes(s string) []auth.Scope {
	var out []auth.Scope
	for _, f := range strings.Fields(s) {
		out = append(out, auth.Scope(f))
	}
	return out
}

func joinScopes(sc []auth.Scope) string {
	out := make([]string, len(sc))
	for i, x := range sc {
		out[i] = string(x)
	}
	return strings.Join(out, " ")
}

func optTS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

// secretItemOf is the item of one secret of t, valid until until (zero:
// as long as the token).
func secretItemOf(t auth.Token, hash string, until time.Time) tokenItem {
	it := tokenItem{PK: tokenPK(hash), SK: tokenSK, ID: t.ID, AccountID: t.AccountID, Name: t.Name,
		Scopes: joinScopes(t.Scopes), AllowedDomain: t.AllowedDomain, CreatedAt: ts(t.CreatedAt)}
	end := t.ExpiresAt
	if !until.IsZero() && (end.IsZero() || until.Before(end)) {
		end = until
	}
	if !end.IsZero() {
		it.ExpiresAt, it.TTL = ts(end), end.Add(24*time.Hour).Unix()
	}
	return it
}

func accountTokenItemOf(t auth.Token) accountTokenItem {
	it := accountTokenItem{PK: accountPK(t.AccountID), SK: accountTokenSK(t.ID), ID: t.ID, Name: t.Name,
		Scopes: joinScopes(t.Scopes), AllowedDomain: t.AllowedDomain, CreatedAt: ts(t.CreatedAt), CreatedBy: t.CreatedBy,
		ExpiresAt: optTS(t.ExpiresAt), Hash: t.Hash, RotatedAt: optTS(t.RotatedAt), RevokedAt: optTS(t.RevokedAt)}
	for _, p := range t.Previous {
		it.Previous = append(it.Previous, secretItem{Hash: p.Hash, Until: ts(p.Until)})
	}
	switch {
	case !t.RevokedAt.IsZero():
		it.TTL = t.RevokedAt.Add(revokedRetention).Unix()
	case !t.ExpiresAt.IsZero():
		it.TTL = t.ExpiresAt.Add(revokedRetention).Unix()
	}
	return it
}

// putNewItem is a transaction Put of an item that must not exist yet.
func (s *Store) putNewItem(item any) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(pk)")}}, err
}

func (s *Store) deleteItem(pk, sk string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, sk)}}
}

// transactNew writes new items in one transaction (a conflict: one exists).
func (s *Store) transactNew(ctx context.Context, items ...any) error {
	var ops []types.TransactWriteItem
	for _, it := range items {
		op, err := s.putNewItem(it)
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	return s.transactCond(ctx, ops)
}

// transactCond runs a transaction whose failed conditions mean a conflict.
func (s *Store) transactCond(ctx context.Context, ops []types.TransactWriteItem) error {
	var tx txn
	tx.add(nil, ops...)
	return s.commit(ctx, &tx, nil)
}

type accountDirItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Name      string `dynamodbav:"name"`
	CreatedAt string `dynamodbav:"created_at"`
}

// PutAccount creates an account and its directory entry (never overwrites
// one).
func (s *Store) PutAccount(ctx context.Context, a auth.Account) error {
	return s.transactNew(ctx, accountItem{PK: accountPK(a.ID), SK: accountSK, ID: a.ID, Name: a.Name,
		QuotaBytes: a.QuotaBytes, Avail: a.QuotaBytes, CreatedAt: ts(a.CreatedAt)},
		accountDirItem{PK: accountsPK, SK: a.ID, Name: a.Name, CreatedAt: ts(a.CreatedAt)})
}

// ListAccounts reads the account directory.
func (s *Store) ListAccounts(ctx context.Context) ([]auth.Account, error) {
	return listPrefix(ctx, s, accountsPK, "", func(it accountDirItem) auth.Account {
		return auth.Account{ID: it.SK, Name: it.Name, CreatedAt: parseTS(it.CreatedAt)}
	})
}

// queryPrefix reads every item of a partition whose sort key starts with
// prefix, page after page.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string, fn func(map[string]types.AttributeValue) error) error {
	in := &dynamodb.QueryInput{TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":prefix": str(prefix)}}
	if prefix == "" {
		in.KeyConditionExpression, in.ExpressionAttributeValues = aws.String("pk = :pk"), map[string]types.AttributeValue{":pk": str(pk)}
	}
	p := dynamodb.NewQueryPaginator(s.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// PutToken stores a new token: its secret's item and its account's item.
func (s *Store) PutToken(ctx context.Context, t auth.Token) error {
	return s.transactNew(ctx, secretItemOf(t, t.Hash, time.Time{}), accountTokenItemOf(t))
}

// GetTokenByHash finds a token by the hash of a secret.
func (s *Store) GetTokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	var it tokenItem
	if err := s.get(ctx, tokenPK(hash), tokenSK, &it); err != nil {
		return auth.Token{}, err
	}
	return it.token(), nil
}

// GetToken reads a token from its account.
func (s *Store) GetToken(ctx context.Context, accountID, id string) (auth.Token, error) {
	var it accountTokenItem
	if err := s.get(ctx, accountPK(accountID), accountTokenSK(id), &it); err != nil {
		return auth.Token{}, err
	}
	return it.token(accountID), nil
}

// ListTokens reads every token of an account (revoked ones until their
// retention ends).
func (s *Store) ListTokens(ctx context.Context, accountID string) ([]auth.Token, error) {
	return listPrefix(ctx, s, accountPK(accountID), accountTokenSK(""), func(it accountTokenItem) auth.Token { return it.token(accountID) })
}

// listPrefix reads the items of a partition whose sort keys begin with
// prefix (consistently, every page), each turned into what the domain
// holds.
func listPrefix[I, R any](ctx context.Context, s *Store, pk, prefix string, conv func(I) R) ([]R, error) {
	var out []R
	err := s.queryPrefix(ctx, pk, prefix, func(item map[string]types.AttributeValue) error {
		var it I
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		out = append(out, conv(it))
		return nil
	})
	return out, err
}

// LastUsed fills the last-used times of the tokens' valid secrets (one
// BatchGetItem of their items per 100).
func (s *Store) LastUsed(ctx context.Context, ts []auth.Token) error {
	var keys []map[string]types.AttributeValue
	for _, t := range ts {
		if t.RevokedAt.IsZero() {
			keys = append(keys, keyOf(tokenPK(t.Hash), tokenSK))
			for _, p := range t.Previous {
				keys = append(keys, keyOf(tokenPK(p.Hash), tokenSK))
			}
		}
	}
	used := map[string]time.Time{}
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it tokenItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		used[strings.TrimPrefix(it.PK, "T#")] = parseTS(it.LastUsedAt)
		return nil
	})
	for i := range ts {
		t := &ts[i]
		t.LastUsedAt = used[t.Hash]
		for i := range t.Previous {
			p := &t.Previous[i]
			p.LastUsedAt = used[p.Hash]
			if p.LastUsedAt.After(t.LastUsedAt) {
				t.LastUsedAt = p.LastUsedAt
			}
		}
	}
	return err
}

// tokenCurrent is the condition that the account's token still has the
// secret hash and is not revoked.
func (s *Store) tokenCurrent(t auth.Token, update string, values map[string]types.AttributeValue) types.TransactWriteItem {
	values[":hash"] = str(t.Hash)
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(t.AccountID), accountTokenSK(t.ID)),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#h = :hash AND attribute_not_exists(revoked_at)"),
		ExpressionAttributeNames:  map[string]string{"#h": "hash"},
		ExpressionAttributeValues: values}}
}

// RotateToken gives the token next's secret; old's stays valid as one of
// next.Previous (its item then ends at its grace) or is in drop.
func (s *Store) RotateToken(ctx context.Context, old, next auth.Token, drop []string) error {
	newSecret, err := s.putNewItem(secretItemOf(next, next.Hash, time.Time{}))
	if err != nil {
		return err
	}
	update, values := "SET #h = :new, rotated_at = :at REMOVE previous", map[string]types.AttributeValue{
		":new": str(next.Hash), ":at": str(ts(next.RotatedAt))}
	if len(next.Previous) > 0 {
		prev, err := attributevalue.Marshal(accountTokenItemOf(next).Previous)
		if err != nil {
			return err
		}
		update, values[":prev"] = "SET #h = :new, rotated_at = :at, previous = :prev", prev
	}
	ops := []types.TransactWriteItem{newSecret, s.tokenCurrent(old, update, values)}
	for _, p := range next.Previous {
		if p.Hash == old.Hash { // the replaced secret now ends with its grace
			end := secretItemOf(old, old.Hash, p.Until)
			ops = append(ops, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(tokenPK(old.Hash), tokenSK),
				UpdateExpression:    aws.String("SET expires_at = :end, #ttl = :ttl"),
				ConditionExpression: aws.String("attribute_exists(pk)"), ExpressionAttributeNames: map[string]string{"#ttl": "ttl"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":end": str(end.ExpiresAt),
					":ttl": num(end.TTL)}}})
		}
	}
	for _, h := range drop {
		ops = append(ops, s.deleteItem(tokenPK(h), tokenSK))
	}
	return s.transactCond(ctx, ops)
}

// RevokeToken marks the token revoked (kept for audit) and deletes the item
// of every secret it has, in one transaction.
func (s *Store) RevokeToken(ctx context.Context, t auth.Token, at time.Time) error {
	ops := []types.TransactWriteItem{s.tokenCurrent(t, "SET revoked_at = :at, #ttl = :ttl", map[string]types.AttributeValue{
		":at": str(ts(at)), ":ttl": num(at.Add(revokedRetention).Unix())})}
	ops[0].Update.ExpressionAttributeNames["#ttl"] = "ttl"
	ops = append(ops, s.deleteItem(tokenPK(t.Hash), tokenSK))
	for _, p := range t.Previous {
		ops = append(ops, s.deleteItem(tokenPK(p.Hash), tokenSK))
	}
	return s.transactCond(ctx, ops)
}

// TouchToken records a use of a secret unless a later one is recorded.
func (s *Store) TouchToken(ctx context.Context, hash string, at, notBefore time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(tokenPK(hash), tokenSK),
		UpdateExpression:          aws.String("SET last_used_at = :at"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :nb)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": str(ts(at)), ":nb": str(ts(notBefore))}})
	return mapErr(err)
}
