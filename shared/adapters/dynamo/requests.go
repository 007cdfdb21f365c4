package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
)

// File requests live in their account's partition (A#account / FR#id:
// ids are UUIDv7, so newest first is the sort key backwards), with their
// receipts on the item (at most requests.MaxRequestFiles). A link is an
// item of its own (RL#<hash of its secret> / LINK) naming its request:
// what the public routes read first. Both are kept 90 days past the
// request's expiry.

const requestPrefix = "FR#"

func requestSK(id string) string       { return requestPrefix + id }
func linkPK(hash string) string        { return "RL#" + hash }
func linkTTL(r requests.Request) int64 { return r.ExpiresAt.Add(requestRetention).Unix() }

const linkSK = "LINK"

// requestRetention keeps a request readable this long after it expired.
const requestRetention = 90 * 24 * time.Hour

type requestItem struct {
	PK          string        `dynamodbav:"pk"`
	SK          string        `dynamodbav:"sk"`
	ID          string        `dynamodbav:"request_id"`
	EntityType  string        `dynamodbav:"entity_type"`
	EntityUUID  string        `dynamodbav:"entity_uuid"`
	EntityCode  int64         `dynamodbav:"entity_code"`
	EntityTitle string        `dynamodbav:"entity_title"`
	Kind        string        `dynamodbav:"kind"`
	RefID       string        `dynamodbav:"ref_id,omitempty"`
	Title       string        `dynamodbav:"title"`
	Message     string        `dynamodbav:"message,omitempty"`
	Slots       []slotItem    `dynamodbav:"slots,omitempty"`
	MaxFiles    int           `dynamodbav:"max_files"`
	MaxBytes    int64         `dynamodbav:"max_bytes"`
	ExpiresAt   string        `dynamodbav:"expires_at"`
	Passcode    string        `dynamodbav:"passcode,omitempty"`
	LinkHash    string        `dynamodbav:"link_hash"`
	CreatedAt   string        `dynamodbav:"created_at"`
	CreatedBy   string        `dynamodbav:"created_by"`
	TokenID     string        `dynamodbav:"token_id"`
	RevokedAt   string        `dynamodbav:"revoked_at,omitempty"`
	FulfilledAt string        `dynamodbav:"fulfilled_at,omitempty"`
	Received    []receiptItem `dynamodbav:"received,omitempty"`
	Failures    int           `dynamodbav:"failures,omitempty"`
	FailedSince string        `dynamodbav:"failed_since,omitempty"`
	Opens       int           `dynamodbav:"opens,omitempty"`
	OpensSince  string        `dynamodbav:"opens_since,omitempty"`
	Rev         int64         `dynamodbav:"rev"`
	TTL         int64         `dynamodbav:"ttl"`
}

type slotItem struct {
	Name     string   `dynamodbav:"name"`
	Required bool     `dynamodbav:"required"`
	Accept   []string `dynamodbav:"accept,omitempty"`
	MaxSize  int64    `dynamodbav:"max_size"`
	MaxFiles int      `dynamodbav:"max_files"`
}

type receiptItem struct {
	Slot          string `dynamodbav:"slot,omitempty"`
	FileUUID      string `dynamodbav:"file_uuid"`
	VersionUUID   string `dynamodbav:"version_uuid"`
	Name          string `dynamodbav:"name"`
	Size          int64  `dynamodbav:"size"`
	MimeType      string `dynamodbav:"mime_type"`
	UploaderName  string `dynamodbav:"uploader_name,omitempty"`
	UploaderEmail string `dynamodbav:"uploader_email,omitempty"`
	ReceivedAt    string `dynamodbav:"received_at"`
	Status        string `dynamodbav:"status"`
}

type linkItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	AccountID string `dynamodbav:"account_id"`
	RequestID string `dynamodbav:"request_id"`
	TTL       int64  `dynamodbav:"ttl"`
}

func receiptItems(rs []requests.Receipt) []receiptItem {
	var out []receiptItem
	for _, rc := range rs {
		out = append(out, receiptItem{Slot: rc.Slot, FileUUID: rc.FileUUID, VersionUUID: rc.VersionUUID, Name: rc.Name, Size: rc.Size,
			MimeType: rc.MimeType, UploaderName: rc.Uploader.Name, UploaderEmail: rc.Uploader.Email, ReceivedAt: ts(rc.ReceivedAt), Status: string(rc.Status)})
	}
	return out
}

func requestItemOf(r requests.Request) requestItem {
	t := r.Target
	it := requestItem{PK: accountPK(r.AccountID), SK: requestSK(r.ID), ID: r.ID, EntityType: string(t.Entity.Type), EntityUUID: t.Entity.UUID,
		EntityCode: t.Entity.Code, EntityTitle: t.Title, Kind: string(t.Kind), RefID: t.RefID, Title: r.Title, Message: r.Message,
		MaxFiles: r.MaxFiles, MaxBytes: r.MaxBytes, ExpiresAt: ts(r.ExpiresAt), Passcode: r.Passcode, LinkHash: r.LinkHash,
		CreatedAt: ts(r.CreatedAt), CreatedBy: r.CreatedBy, TokenID: r.TokenID, RevokedAt: optTS(r.RevokedAt), FulfilledAt: optTS(r.FulfilledAt),
		Received: receiptItems(r.Received), Failures: r.Failures, FailedSince: optTS(r.FailedSince), Opens: r.Opens, OpensSince: optTS(r.OpensSince), Rev: r.Rev, TTL: linkTTL(r)}
	for _, s := range r.Slots {
		it.Slots = append(it.Slots, slotItem{Name: s.Name, Required: s.Required, Accept: s.Accept, MaxSize: s.MaxSize, MaxFiles: s.MaxFiles})
	}
	return it
}

func (it requestItem) request(account string) requests.Request {
	r := requests.Request{AccountID: account, ID: it.ID, Target: requests.Target{
		Entity: entities.Ref{Type: entities.Type(it.EntityType), UUID: it.EntityUUID, Code: it.EntityCode},
		Title:  it.EntityTitle, Kind: entities.Kind(it.Kind), RefID: it.RefID},
		Title: it.Title, Message: it.Message, MaxFiles: it.MaxFiles, MaxBytes: it.MaxBytes, ExpiresAt: parseTS(it.ExpiresAt),
		Passcode: it.Passcode, LinkHash: it.LinkHash, CreatedAt: parseTS(it.CreatedAt), CreatedBy: it.CreatedBy, TokenID: it.TokenID,
		RevokedAt: parseTS(it.RevokedAt), FulfilledAt: parseTS(it.FulfilledAt), Failures: it.Failures, FailedSince: parseTS(it.FailedSince), Opens: it.Opens, OpensSince: parseTS(it.OpensSince), Rev: it.Rev}
	for _, s := range it.Slots {
		r.Slots = append(r.Slots, requests.Slot{Name: s.Name, Required: s.Required, Accept: s.Accept, MaxSize: s.MaxSize, MaxFiles: s.MaxFiles})
	}
	for _, rc := range it.Received {
		r.Received = append(r.Received, requests.Receipt{Slot: rc.Slot, FileUUID: rc.FileUUID, VersionUUID: rc.VersionUUID, Name: rc.Name,
			Size: rc.Size, MimeType: rc.MimeType, Uploader: requests.Uploader{Name: rc.UploaderName, Email: rc.UploaderEmail},
			ReceivedAt: parseTS(rc.ReceivedAt), Status: requests.ReceiptStatus(rc.Status)})
	}
	return r
}

// CreateRequest implements requests.Store: the request, its link and rec
// in one transaction.
func (s *Store) CreateRequest(ctx context.Context, r requests.Request, rec *outbox.Record) error {
	var tx txn
	for _, it := range []any{requestItemOf(r), linkItem{PK: linkPK(r.LinkHash), SK: linkSK, AccountID: r.AccountID, RequestID: r.ID, TTL: linkTTL(r)}} {
		put, err := s.putNewItem(it)
		if err != nil {
			return err
		}
		tx.add(apperr.ErrConflict, put)
	}
	return s.commit(ctx, &tx, rec)
}

// GetRequest implements requests.Store and upload.Store.
func (s *Store) GetRequest(ctx context.Context, accountID, id string) (requests.Request, error) {
	var it requestItem
	if err := s.get(ctx, accountPK(accountID), requestSK(id), &it); err != nil {
		return requests.Request{}, err
	}
	return it.request(accountID), nil
}

// RequestByLink implements requests.Store (two reads: the link, then its
// request).
func (s *Store) RequestByLink(ctx context.Context, hash string) (requests.Request, error) {
	var l linkItem
	if err := s.get(ctx, linkPK(hash), linkSK, &l); err != nil {
		return requests.Request{}, err
	}
	return s.GetRequest(ctx, l.AccountID, l.RequestID)
}

// ListRequests implements requests.Store: one Query of the account's FR#
// items, backwards.
func (s *Store) ListRequests(ctx context.Context, accountID, after string, limit int) ([]requests.Request, string, error) {
	pk := accountPK(accountID)
	in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":prefix": str(requestPrefix)}}
	if after != "" {
		in.ExclusiveStartKey = keyOf(pk, requestSK(after))
	}
	out, err := s.api.Query(ctx, in)
	if err != nil {
		return nil, "", err
	}
	rs := make([]requests.Request, 0, len(out.Items))
	for _, item := range out.Items {
		var it requestItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, "", err
		}
		rs = append(rs, it.request(accountID))
	}
	next := ""
	if out.LastEvaluatedKey != nil && len(rs) > 0 {
		next = rs[len(rs)-1].ID
	}
	return rs, next, nil
}

// requestUpdate is the update of a request's changing state, conditional
// on its revision being w.Prev. No receipts is NULL: an empty list, or a
// REMOVE, is what the embedded emulator does not keep right.
func (s *Store) requestUpdate(w requests.Write) (types.TransactWriteItem, error) {
	r := w.Request
	set := "SET fulfilled_at = :ff, revoked_at = :rv, link_hash = :lh, failures = :fl, failed_since = :fs, opens = :op, opens_since = :os, rev = :next"
	values := map[string]types.AttributeValue{":ff": str(optTS(r.FulfilledAt)), ":rv": str(optTS(r.RevokedAt)),
		":lh": str(r.LinkHash), ":fl": num(int64(r.Failures)), ":fs": str(optTS(r.FailedSince)), ":op": num(int64(r.Opens)),
		":os": str(optTS(r.OpensSince)), ":next": num(r.Rev), ":prev": num(w.Prev)}
	if len(r.Received) > 0 {
		rc, err := attributevalue.Marshal(receiptItems(r.Received))
		if err != nil {
			return types.TransactWriteItem{}, err
		}
		set, values[":rc"] = set+", received = :rc", rc
	} else {
		set, values[":rc"] = set+", received = :rc", &types.AttributeValueMemberNULL{Value: true}
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(r.AccountID), requestSK(r.ID)),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String("rev = :prev"), ExpressionAttributeValues: values}}, nil
}

// UpdateRequest implements requests.Store: the request's update (and a
// replaced link's delete and its successor's put), w's attachments and
// events, in one transaction.
func (s *Store) UpdateRequest(ctx context.Context, w requests.Write) error {
	var tx txn
	up, err := s.requestUpdate(w)
	if err != nil {
		return err
	}
	tx.add(requests.ErrChanged, up)
	r := w.Request
	if w.OldLink != "" && w.OldLink != r.LinkHash {
		put, err := s.putNewItem(linkItem{PK: linkPK(r.LinkHash), SK: linkSK, AccountID: r.AccountID, RequestID: r.ID, TTL: linkTTL(r)})
		if err != nil {
			return err
		}
		tx.add(apperr.ErrConflict, s.deleteItem(linkPK(w.OldLink), linkSK), put)
	}
	for _, a := range w.Attach {
		put, err := s.attachPut(r.AccountID, a)
		if err != nil {
			return err
		}
		tx.add(nil, put)
	}
	return s.commit(ctx, &tx, w.Events)
}
