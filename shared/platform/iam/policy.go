// Package iam holds the IAM policy of every Anexo function — the one the CDK
// stack grants each function's role — and enforces it on every AWS call a
// process makes in local mode and in tests, answering a refused call as AWS
// does (AccessDenied; a read of a missing object without s3:ListBucket is
// 403, not 404). It also records which grants the code used, so a test over
// the whole suite can show that no policy grants more than its code needs.
package iam

import (
	"fmt"
	"slices"
	"sort"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Kind is the kind of resource a statement covers.
type Kind int

// Resource kinds: the table, one of its indexes, the bucket itself (list
// operations), the bucket's objects, the signing keys' table.
const (
	KindTable Kind = iota + 1
	KindIndex
	KindBucket
	KindObjects
	KindKeys
	KindQueue       // the webhook deliveries queue
	KindBus         // the event bus
	KindDeadLetters // the deliveries' dead-letter queue
	KindKMSKey      // the deployment's KMS key, when it has one
	// KindMalwareScans: GuardDuty's on-demand malware scans, an
	// account-level action (no resource type: "*"; the plan's bucket is
	// the only one it scans).
	KindMalwareScans
	KindPreviews // the previews' bucket's objects
)

// Resource is what a statement grants on. Index names one index.
type Resource struct {
	Kind  Kind
	Index string
}

func (r Resource) String() string {
	switch r.Kind {
	case KindTable:
		return "table"
	case KindIndex:
		return "table/index/" + r.Index
	case KindBucket:
		return "bucket"
	case KindObjects:
		return "bucket/*"
	case KindKeys:
		return "keys table"
	case KindQueue:
		return "deliveries queue"
	case KindDeadLetters:
		return "deliveries dead-letter queue"
	case KindBus:
		return "event bus"
	case KindKMSKey:
		return "kms key"
	case KindMalwareScans:
		return "malware scans"
	case KindPreviews:
		return "previews bucket/*"
	}
	return fmt.Sprintf("resource(%d)", r.Kind)
}

// ARNs are the ARNs of a deployment's resources (the stack passes its
// tokens, enforcement passes names).
type ARNs struct {
	Table, Keys, Bucket, Queue, DeadLetters, Bus, Key string
	Previews                                          string // the previews' bucket
}

// ARN renders the resource's ARN.
func (r Resource) ARN(a ARNs) string {
	switch r.Kind {
	case KindTable:
		return a.Table
	case KindIndex:
		return a.Table + "/index/" + r.Index
	case KindBucket:
		return a.Bucket
	case KindObjects:
		return a.Bucket + "/*"
	case KindKeys:
		return a.Keys
	case KindQueue:
		return a.Queue
	case KindDeadLetters:
		return a.DeadLetters
	case KindBus:
		return a.Bus
	case KindKMSKey:
		return a.Key
	case KindMalwareScans:
		return "*"
	case KindPreviews:
		return a.Previews + "/*"
	}
	panic("iam: unknown resource kind")
}

// Access is one action on one resource: what a call needs, what a
// statement grants.
type Access struct {
	Action   string
	Resource Resource
}

func (a Access) String() string { return a.Action + " on " + a.Resource.String() }

// Statement grants actions on a resource, under its condition if it has
// one.
type Statement struct {
	Resource  Resource
	Actions   []string
	Condition Condition
}

// Policy is a function's whole grant.
type Policy []Statement

// Allows reports whether the policy grants a.
func (p Policy) Allows(a Access) bool {
	for _, s := range p {
		if s.Resource == a.Resource && slices.Contains(s.Actions, a.Action) {
			return true
		}
	}
	return false
}

// permits reports whether a statement grants a on the request's item,
// and if not, the condition that refused it.
func (p Policy) permits(a Access, it item) (bool, string) {
	why := ""
	for _, s := range p {
		if s.Resource == a.Resource && slices.Contains(s.Actions, a.Action) {
			ok, reason := s.Condition.satisfies(it)
			if ok {
				return true, ""
			}
			why = reason
		}
	}
	return false, why
}

// Accesses lists every action × resource the policy grants, sorted.
func (p Policy) Accesses() []Access {
	var out []Access
	for _, s := range p {
		for _, a := range s.Actions {
			out = append(out, Access{Action: a, Resource: s.Resource})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Without returns a copy of the policy missing one access (tests show that
// removing a permission breaks a flow).
func (p Policy) Without(a Access) Policy {
	var out Policy
	for _, s := range p {
		if s.Resource == a.Resource {
			s.Actions = slices.DeleteFunc(slices.Clone(s.Actions), func(x string) bool { return x == a.Action })
		}
		if len(s.Actions) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// Table grants actions on the table.
func Table(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindTable}, Actions: actions}
}

// Index grants actions on one index of the table.
func Index(name string, actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindIndex, Index: name}, Actions: actions}
}

// Bucket grants actions on the bucket itself (listing).
func Bucket(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindBucket}, Actions: actions}
}

// Keys grants actions on the signing keys' table.
func Keys(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindKeys}, Actions: actions}
}

// Queue grants actions on the deliveries queue.
func Queue(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindQueue}, Actions: actions}
}

// DeadLetters grants actions on the deliveries' dead-letter queue.
func DeadLetters(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindDeadLetters}, Actions: actions}
}

// Bus grants actions on the event bus.
func Bus(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindBus}, Actions: actions}
}

// MalwareScans grants GuardDuty's on-demand malware scans.
func MalwareScans(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindMalwareScans}, Actions: actions}
}

// Previews grants actions on the previews' bucket's objects.
func Previews(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindPreviews}, Actions: actions}
}

// Objects grants actions on the bucket's objects.
func Objects(actions ...string) Statement {
	return Statement{Resource: Resource{Kind: KindObjects}, Actions: actions}
}

// Actions used below.
const (
	getItem      = "dynamodb:GetItem"
	batchGetItem = "dynamodb:BatchGetItem"
	putItem      = "dynamodb:PutItem"
	updateItem   = "dynamodb:UpdateItem"
	deleteItem   = "dynamodb:DeleteItem"
	conditionChk = "dynamodb:ConditionCheckItem"
	query        = "dynamodb:Query"

	putObject               = "s3:PutObject"
	getObject               = "s3:GetObject"
	getObjectVersion        = "s3:GetObjectVersion"
	getObjectTagging        = "s3:GetObjectTagging"
	getObjectVersionTagging = "s3:GetObjectVersionTagging"
	deleteObject            = "s3:DeleteObject"
	deleteObjectVersion     = "s3:DeleteObjectVersion"
	abortMultipart          = "s3:AbortMultipartUpload"
	listParts               = "s3:ListMultipartUploadParts"
	listBucket              = "s3:ListBucket"
	listBucketVersions      = "s3:ListBucketVersions"

	sendMessage      = "sqs:SendMessage"
	receiveMessage   = "sqs:ReceiveMessage"
	deleteMessage    = "sqs:DeleteMessage"
	changeVisibility = "sqs:ChangeMessageVisibility"
	queueAttributes  = "sqs:GetQueueAttributes"
	putEvents        = "events:PutEvents"

	sendObjectMalwareScan = "guardduty:SendObjectMalwareScan"
)

// DeleteObjectVersion deletes a version for good: the stack's bucket
// policy denies it to every principal but the functions granted it here.
const DeleteObjectVersion = deleteObjectVersion

// Policies is every function's policy: the stack grants exactly this, local
// mode and tests enforce exactly this. A grant here that no test exercises
// fails the suite's coverage check (see Usage), so every line is needed.
var Policies = map[string]Policy{
	// The authorizer reads the secret's item and records its last use.
	// Its statements reach only secrets' items (dynamodb:LeadingKeys), and
	// its update only their last use (dynamodb:Attributes): a leaked
	// authorizer role reads no file, account or session, and changes no
	// token's scopes.
	lambdas.Authorizer: {
		Table(getItem).Where(Condition{LeadingKeys: []string{dynamo.TokenPKPrefix + "*"}}),
		Table(updateItem).Where(Condition{LeadingKeys: []string{dynamo.TokenPKPrefix + "*"},
			Attributes: []string{dynamo.AttrPK, dynamo.AttrSK, dynamo.AttrLastUsedAt}}),
	},
	// Tokens: list an account's (query) with their secrets' last use
	// (batch get); mint, rotate and revoke write the token and its
	// secrets' items in one transaction.
	lambdas.Tokens: {Table(getItem, batchGetItem, query, putItem, updateItem, deleteItem)},
	// Open: the account (quota, file-id sequence), the session, the
	// multipart upload; upload tickets are signed with a key it creates once.
	lambdas.SessionsOpen: {
		Table(getItem, putItem, updateItem),
		Objects(putObject, abortMultipart),
		// upload tickets: the ticket keyring (read; a key a month, created
		// by the first signer that finds it due)
		Keys(query, putItem),
	},
	// Part URLs (PutObject signs UploadPart) and the session status, which
	// lists parts, and records a form upload it finds posted (or discards
	// it past the quota); a form upload not posted yet is a missing key.
	lambdas.SessionsParts: {
		Table(getItem, putItem, updateItem),
		Objects(putObject, listParts, getObject, deleteObjectVersion),
		Bucket(listBucket),
	},
	lambdas.SessionsComplete: {
		Table(getItem, putItem, updateItem),
		Objects(putObject, getObject, listParts, abortMultipart, deleteObjectVersion),
		Bucket(listBucket),
	},
	// Uppy's companion routes open, sign, list, complete and abort sessions
	// under a ticket they verify (the ticket keyring, read only).
	lambdas.Companion: {
		Keys(query),
		Table(getItem, putItem, updateItem),
		Objects(putObject, getObject, listParts, abortMultipart, deleteObjectVersion),
		Bucket(listBucket),
	},
	// The recorder heads the posted object S3 reports and commits the
	// session (or discards the object past the quota).
	lambdas.Recorder: {
		Table(getItem, putItem, updateItem),
		Objects(getObject, deleteObjectVersion),
	},
	// The scan results' function reads the version and its file and
	// records the verdict with its events (a transaction: updates and the
	// outbox record's put).
	lambdas.Scans: {Table(getItem, putItem, updateItem)},
	// The previews function reads a version's bytes (its S3 version),
	// stores its previews in their own bucket, and records them with
	// their event (a transaction: updates and the outbox record's put).
	lambdas.Previews: {
		Table(getItem, putItem, updateItem),
		Objects(getObjectVersion),
		Previews(putObject),
	},
	lambdas.Files: {
		Table(getItem, batchGetItem, query, putItem, updateItem, deleteItem, conditionChk),
		Index(dynamo.IndexGSI1, query),
		Keys(query, putItem), // listing cursors
		// downloads sign a GET of one version; trash hides with a delete
		// marker, restore and purge remove versions they list
		Objects(getObjectVersion, deleteObject, deleteObjectVersion),
		Bucket(listBucketVersions),
		// views sign their previews' links; a purge deletes them
		Previews(getObject, deleteObject),
	},
	lambdas.Attachments: {
		Table(getItem, batchGetItem, query, putItem, updateItem, deleteItem, conditionChk),
		Index(dynamo.IndexGSI1, query),
		Keys(query, putItem), // listing cursors
		Previews(getObject),  // an entity's files with=previews: their links
	},
	// The event feed reads the account's outbox records and signs its
	// cursors (a key a month, verifiable for the events' retention).
	lambdas.Events: {
		Table(query),
		Keys(query, putItem),
	},
	// Batch uploads put whole objects (and erase what a failed batch left).
	// Kommo's relayed parts: the session's status (its S3 parts), the
	// staged pieces (put, listed under the session's prefix, read back into
	// an S3 part), UploadPart (s3:PutObject) and the completion; the
	// parts' URLs are signed with the relay keyring.
	lambdas.Batches: {
		Table(getItem, putItem, updateItem, deleteItem),
		Objects(putObject, getObject, listParts, deleteObjectVersion),
		Bucket(listBucket, listBucketVersions),
		Keys(query, putItem),
	},
	// The sweeper finds due files, stale batches and open sessions in
	// gsi2; it purges each file as the files function does (its
	// attachments by gsi1) and settles each session as its status call
	// does (lists parts, completes and records it, or heads a form
	// upload's object, a missing key until it is posted); a version whose
	// malware verdict is overdue takes its object version's scan tag.
	lambdas.Sweeper: {
		Table(getItem, putItem, query, deleteItem, updateItem),
		Index(dynamo.IndexGSI1, query),
		Index(dynamo.IndexGSI2, query),
		Objects(putObject, getObject, listParts, deleteObjectVersion, getObjectVersionTagging),
		Bucket(listBucket, listBucketVersions),
		Previews(deleteObject), // a purged file's previews
		// a version whose verdict is overdue and untagged is scanned again
		// (the stack grants it only with its malware protection plan)
		MalwareScans(sendObjectMalwareScan),
	},
	// Webhooks: register, change and remove them (the account's WH#
	// items), read their deliveries (a Query of the webhook's own
	// partition), and test or retry one now (the delivery's log; a retry
	// reads the event's outbox record back; its outcome updates the
	// webhook's failure streak); a recovery's first step goes to the
	// deliveries queue.
	lambdas.Webhooks: {Table(getItem, putItem, updateItem, deleteItem, query), Queue(sendMessage)},
	// The dispatcher reads the account's webhooks, publishes every event
	// to the bus and queues the deliveries. (Its event source mapping
	// reads the table's stream with the role: the stack grants that read
	// on the stream alone.)
	lambdas.Dispatcher: {
		Table(query),
		Bus(putEvents),
		Queue(sendMessage),
	},
	// The delivery function reads the webhook and the delivery's log,
	// writes the attempt, keeps the failure streak (updates) and switches
	// a failing webhook off with its event (a transaction); a failed
	// delivery's message waits for its next attempt (its visibility), and
	// after its last goes to the dead-letter queue. A recovery's step
	// reads a page of the account's outbox (a Query) and queues its
	// deliveries and the next step. Its event source mapping receives and
	// deletes the messages with the role.
	lambdas.Deliveries: {
		Table(getItem, putItem, updateItem, query),
		Queue(receiveMessage, deleteMessage, changeVisibility, queueAttributes, sendMessage),
		DeadLetters(sendMessage),
	},
}

// Occasional lists grants that the code needs on a path the suite reaches
// only some of the time, each with the reason; the coverage check accepts
// them unused. Keep it short: each entry is a path worth a deterministic
// test.
var Occasional = map[string]map[Access]string{}
