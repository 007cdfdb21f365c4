package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Webhooks live in their account's partition (A#account / WH#id: listed
// with the account's other items); a webhook's deliveries in a partition
// of their own (WH#id / DL#event-id: event ids are UUIDv7, so newest
// first is the sort key backwards), each kept for outbox.Retention.

const webhookPrefix = "WH#"

func webhookSK(id string) string  { return webhookPrefix + id }
func deliveryPK(id string) string { return webhookPrefix + id }
func deliverySK(id string) string { return "DL#" + id }

type webhookItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	ID             string   `dynamodbav:"id"`
	URL            string   `dynamodbav:"url"`
	Description    string   `dynamodbav:"description,omitempty"`
	Types          []string `dynamodbav:"types,omitempty"`
	Secret         string   `dynamodbav:"secret"`
	Previous       string   `dynamodbav:"previous,omitempty"`
	PreviousUntil  string   `dynamodbav:"previous_until,omitempty"`
	Enabled        bool     `dynamodbav:"enabled"`
	DisabledReason string   `dynamodbav:"disabled_reason,omitempty"`
	DisabledAt     string   `dynamodbav:"disabled_at,omitempty"`
	FailingSince   string   `dynamodbav:"failing_since,omitempty"`
	CreatedAt      string   `dynamodbav:"created_at"`
	UpdatedAt      string   `dynamodbav:"updated_at"`
}

func webhookItemOf(w webhooks.Webhook) webhookItem {
	it := webhookItem{PK: accountPK(w.AccountID), SK: webhookSK(w.ID), ID: w.ID, URL: w.URL, Description: w.Description,
		Secret: w.Secret, Previous: w.Previous, PreviousUntil: optTS(w.PreviousUntil), Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, DisabledAt: optTS(w.DisabledAt), FailingSince: optTS(w.FailingSince),
		CreatedAt: ts(w.CreatedAt), UpdatedAt: ts(w.UpdatedAt)}
	for _, t := range w.Types {
		it.Types = append(it.Types, string(t))
	}
	return it
}

func (it webhookItem) webhook(account string) webhooks.Webhook {
	w := webhooks.Webhook{ID: it.ID, AccountID: account, URL: it.URL, Description: it.Description, Secret: it.Secret,
		Previous: it.Previous, PreviousUntil: parseTS(it.PreviousUntil), Enabled: it.Enabled, DisabledReason: it.DisabledReason,
		DisabledAt: parseTS(it.DisabledAt), FailingSince: parseTS(it.FailingSince), CreatedAt: parseTS(it.CreatedAt),
		UpdatedAt: parseTS(it.UpdatedAt)}
	for _, t := range it.Types {
		w.Types = append(w.Types, outbox.Type(t))
	}
	return w
}

// PutWebhook implements webhooks.Store.
func (s *Store) PutWebhook(ctx context.Context, w webhooks.Webhook, create bool) error {
	av, err := attributevalue.MarshalMap(webhookItemOf(w))
	if err != nil {
		return err
	}
	cond := "attribute_exists(pk)"
	if create {
		cond = "attribute_not_exists(pk)"
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av, ConditionExpression: &cond})
	if err = mapErr(err); !create && errors.Is(err, apperr.ErrConflict) {
		return apperr.ErrNotFound // deleted meanwhile
	}
	return err
}

// Webhook implements webhooks.Store.
func (s *Store) Webhook(ctx context.Context, account, id string) (webhooks.Webhook, error) {
	var it webhookItem
	if err := s.get(ctx, accountPK(account), webhookSK(id), &it); err != nil {
		return webhooks.Webhook{}, err
	}
	return it.webhook(account), nil
}

// Webhooks implements webhooks.Store: one Query of the account's WH# items.
func (s *Store) Webhooks(ctx context.Context, account string) ([]webhooks.Webhook, error) {
	return listPrefix(ctx, s, accountPK(account), webhookPrefix, func(it webhookItem) webhooks.Webhook { return it.webhook(account) })
}

// DeleteWebhook implements webhooks.Store (its deliveries expire).
func (s *Store) DeleteWebhook(ctx context.Context, account, id string) error {
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(accountPK(account), webhookSK(id))})
	return err
}

// Failing implements webhooks.Store.
func (s *Store) Failing(ctx context.Context, account, id string, at time.Time) error {
	return s.webhookUpdate(ctx, account, id, "SET failing_since = :at", "attribute_exists(pk) AND attribute_not_exists(failing_since)",
		map[string]types.AttributeValue{":at": str(ts(at))})
}

// Healthy implements webhooks.Store.
func (s *Store) Healthy(ctx context.Context, account, id string) error {
	return s.webhookUpdate(ctx, account, id, "REMOVE failing_since", "attribute_exists(pk) AND attribute_exists(failing_since)", nil)
}

// webhookUpdate changes a webhook when cond holds (otherwise another
// attempt got there first, or the webhook is gone: nothing to do).
func (s *Store) webhookUpdate(ctx context.Context, account, id, update, cond string, vals map[string]types.AttributeValue) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(accountPK(account), webhookSK(id)),
		UpdateExpression: &update, ConditionExpression: &cond, ExpressionAttributeValues: vals})
	if err = mapErr(err); errors.Is(err, apperr.ErrConflict) {
		return nil
	}
	return err
}

// Disable implements webhooks.Store: the webhook switched off and the
// record of its webhook.disabled event, in one transaction.
func (s *Store) Disable(ctx context.Context, w webhooks.Webhook, rec *outbox.Record) error {
	var tx txn
	tx.add(nil, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: keyOf(accountPK(w.AccountID), webhookSK(w.ID)),
		UpdateExpression:    aws.String("SET enabled = :false, disabled_reason = :reason, disabled_at = :at, updated_at = :at"),
		ConditionExpression: aws.String("enabled = :true"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":false": falseV, ":true": trueV,
			":reason": str(w.DisabledReason), ":at": str(ts(w.DisabledAt))}}})
	return s.commit(ctx, &tx, rec)
}

type deliveryItem struct {
	PK        string        `dynamodbav:"pk"`
	SK        string        `dynamodbav:"sk"`
	ID        string        `dynamodbav:"id"`
	WebhookID string        `dynamodbav:"webhook_id"`
	AccountID string        `dynamodbav:"account_id"`
	Type      string        `dynamodbav:"type"`
	Position  string        `dynamodbav:"position,omitempty"`
	State     string        `dynamodbav:"state"`
	Tries     int           `dynamodbav:"tries,omitempty"`
	Attempts  []attemptItem `dynamodbav:"attempts"`
	CreatedAt string        `dynamodbav:"created_at"`
	UpdatedAt string        `dynamodbav:"updated_at"`
	TTL       int64         `dynamodbav:"ttl"`
}

type attemptItem struct {
	At       string `dynamodbav:"at"`
	Status   int    `dynamodbav:"status,omitempty"`
	Micros   int64  `dynamodbav:"us"`
	Response string `dynamodbav:"response,omitempty"`
	Error    string `dynamodbav:"error,omitempty"`
}

// SaveAttempt implements webhooks.Store: the delivery with its attempts
// (the newest webhooks.MaxAttemptsKept), never over a delivered one, and
// rec in the same transaction.
func (s *Store) SaveAttempt(ctx context.Context, d webhooks.Delivery, a webhooks.Attempt, rec *outbox.Record) error {
	it := deliveryItem{PK: deliveryPK(d.WebhookID), SK: deliverySK(d.ID), ID: d.ID, WebhookID: d.WebhookID, AccountID: d.AccountID,
		Type: string(d.Type), Position: d.Position, State: d.State, Tries: d.Tries, CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(a.At),
		TTL: d.CreatedAt.Add(outbox.Retention).Unix()}
	all := append(append([]webhooks.Attempt{}, d.Attempts...), a)
	for _, x := range all[max(0, len(all)-webhooks.MaxAttemptsKept):] {
		it.Attempts = append(it.Attempts, attemptItem{At: ts(x.At), Status: x.Status, Micros: x.Latency.Microseconds(),
			Response: x.Response, Error: x.Error})
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return err
	}
	cond := aws.String("attribute_not_exists(pk) OR #state <> :delivered OR :state = :delivered")
	names := map[string]string{"#state": "state"}
	values := map[string]types.AttributeValue{":delivered": str(webhooks.StateDelivered), ":state": str(d.State)}
	if rec.Empty() {
		_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: av,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
		err = mapErr(err)
	} else {
		var tx txn
		tx.add(nil, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: av,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values}})
		err = s.commit(ctx, &tx, rec)
	}
	if errors.Is(err, apperr.ErrConflict) {
		return nil // delivered by a concurrent attempt
	}
	return err
}

func (it deliveryItem) delivery() webhooks.Delivery {
	d := webhooks.Delivery{ID: it.ID, WebhookID: it.WebhookID, AccountID: it.AccountID, Type: outbox.Type(it.Type), Position: it.Position,
		State: it.State, Tries: it.Tries, CreatedAt: parseTS(it.CreatedAt), UpdatedAt: parseTS(it.UpdatedAt)}
	for _, a := range it.Attempts {
		d.Attempts = append(d.Attempts, webhooks.Attempt{At: parseTS(a.At), Status: a.Status, Latency: time.Duration(a.Micros) * time.Microsecond,
			Response: a.Response, Error: a.Error})
	}
	return d
}

// Delivery implements webhooks.Store.
func (s *Store) Delivery(ctx context.Context, webhookID, id string) (webhooks.Delivery, error) {
	var it deliveryItem
	if err := s.get(ctx, deliveryPK(webhookID), deliverySK(id), &it); err != nil {
		return webhooks.Delivery{}, err
	}
	return it.delivery(), nil
}

// Deliveries implements webhooks.Store: one Query, newest first.
func (s *Store) Deliveries(ctx context.Context, webhookID, after string, f webhooks.DeliveryFilter, limit int) ([]webhooks.Delivery, string, error) {
	values := map[string]types.AttributeValue{":pk": str(deliveryPK(webhookID)), ":dl": str("DL#")}
	names := map[string]string{}
	var conds []string
	if f.State != "" {
		conds, names["#state"], values[":state"] = append(conds, "#state = :state"), "state", str(f.State)
	}
	if f.Type != "" {
		conds, names["#type"], values[":type"] = append(conds, "#type = :type"), "type", str(string(f.Type))
	}
	if !f.Since.IsZero() {
		conds, values[":since"] = append(conds, "created_at >= :since"), str(ts(f.Since))
	}
	if !f.Until.IsZero() {
		conds, values[":until"] = append(conds, "created_at < :until"), str(ts(f.Until))
	}
	ds := make([]webhooks.Delivery, 0, limit)
	last := after
	// a filter reads on past the items it drops, up to a budget
	for evaluated := 0; len(ds) < limit && evaluated < webhooks.DeliveriesBudget; {
		in := &dynamodb.QueryInput{TableName: &s.table, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit - len(ds))),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :dl)"), ExpressionAttributeValues: values}
		if len(conds) > 0 {
			in.FilterExpression, in.ExpressionAttributeNames = aws.String(strings.Join(conds, " AND ")), names
		}
		if last != "" {
			in.ExclusiveStartKey = keyOf(deliveryPK(webhookID), deliverySK(last))
		}
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		for _, item := range out.Items {
			var it deliveryItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, "", err
			}
			ds = append(ds, it.delivery())
		}
		evaluated += int(out.ScannedCount)
		if len(out.LastEvaluatedKey) == 0 {
			return ds, "", nil
		}
		var sk string
		if err := attributevalue.Unmarshal(out.LastEvaluatedKey[AttrSK], &sk); err != nil {
			return nil, "", err
		}
		last = strings.TrimPrefix(sk, "DL#")
	}
	return ds, last, nil
}

// Record implements webhooks.Store: one outbox record by its position.
func (s *Store) Record(ctx context.Context, account, position string) (outbox.Record, error) {
	var it recordItem
	if err := s.get(ctx, accountPK(account), position, &it); err != nil {
		return outbox.Record{}, err
	}
	return it.record(account)
}

// A webhook's attempt slots are one item beside it (A#account /
// WL#id, so that replacing the webhook keeps them): s0, s1, … hold the
// end of each slot's lease (Unix milliseconds), v counts the leases
// taken, and a lease is taken by a write conditioned on the v read, so
// that two functions reading the same free slots never both take one past
// n. The item expires a day after its last lease.

const leasePrefix = "WL#"

func leaseSK(id string) string { return leasePrefix + id }

// slotAttr is the attribute of slot i's lease end.
func slotAttr(i int) string { return "s" + strconv.Itoa(i) }

// heldSlots is the slots of a lease item whose lease has not ended by now.
func heldSlots(item map[string]types.AttributeValue, now time.Time) map[int]bool {
	held := map[int]bool{}
	for name, av := range item {
		end, isNum := av.(*types.AttributeValueMemberN)
		digits, isSlot := strings.CutPrefix(name, "s")
		slot, err := strconv.Atoi(digits)
		if !isNum || !isSlot || err != nil {
			continue
		}
		if ms, err := strconv.ParseInt(end.Value, 10, 64); err == nil && ms > now.UnixMilli() {
			held[slot] = true
		}
	}
	return held
}

// maxLeaseTries bounds the conditional writes of one Lease (each lost to
// another function's lease): past them the message waits its
// postponement.
const maxLeaseTries = 3

// Lease implements webhooks.Store: a consistent read of the slots, and a
// write of the first free one conditioned on nobody having taken one
// since.
func (s *Store) Lease(ctx context.Context, account, id string, n int, now, until time.Time) (int, bool, error) {
	key := keyOf(accountPK(account), leaseSK(id))
	for range maxLeaseTries {
		res, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, false, err
		}
		held := heldSlots(res.Item, now)
		if len(held) >= n {
			return 0, false, nil
		}
		slot := 0
		for held[slot] {
			slot++
		}
		cond, vals := "attribute_not_exists(v)", map[string]types.AttributeValue{":until": num(until.UnixMilli()),
			":ttl": num(until.Add(24 * time.Hour).Unix()), ":one": num(1)}
		if version, ok := res.Item["v"]; ok {
			cond, vals[":v"] = "v = :v", version
		}
		_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key,
			UpdateExpression:          aws.String("SET #s = :until, #ttl = :ttl ADD v :one"),
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#s": slotAttr(slot), "#ttl": AttrTTL},
			ExpressionAttributeValues: vals})
		if err = mapErr(err); !errors.Is(err, apperr.ErrConflict) {
			return slot, err == nil, err
		}
	}
	return 0, false, nil
}

// Release implements webhooks.Store.
func (s *Store) Release(ctx context.Context, account, id string, slot int, until time.Time) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: keyOf(accountPK(account), leaseSK(id)),
		UpdateExpression: aws.String("REMOVE #s"), ConditionExpression: aws.String("#s = :until"),
		ExpressionAttributeNames:  map[string]string{"#s": slotAttr(slot)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": num(until.UnixMilli())}})
	if err = mapErr(err); errors.Is(err, apperr.ErrConflict) {
		return nil // ran out, and may be another's now
	}
	return err
}
