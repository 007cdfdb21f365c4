package iam

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/adapters/dynamo"
)

// Condition narrows a statement as IAM's DynamoDB condition keys do, for
// a role that should reach only some items of the table.
type Condition struct {
	// LeadingKeys (dynamodb:LeadingKeys, ForAllValues:StringLike): the
	// partition keys of the items a request touches each match one of
	// these patterns (a trailing * matches any suffix).
	LeadingKeys []string
	// Attributes (dynamodb:Attributes, ForAllValues:StringEquals): the
	// top-level attributes a request names — its key's and its
	// expressions' — are among these; and dynamodb:ReturnValues, when
	// set, is NONE, UPDATED_OLD or UPDATED_NEW, so a write cannot read the
	// rest of the item back.
	Attributes []string
}

// Where narrows the statement with a condition.
func (s Statement) Where(c Condition) Statement {
	s.Condition = c
	return s
}

func (c Condition) empty() bool { return len(c.LeadingKeys) == 0 && len(c.Attributes) == 0 }

// narrowReturns are the ReturnValues a statement with Attributes allows.
var narrowReturns = []string{"NONE", "UPDATED_OLD", "UPDATED_NEW"}

// IAM renders the condition as a policy statement's Condition block (nil
// when the statement has none).
func (c Condition) IAM() map[string]any {
	if c.empty() {
		return nil
	}
	out := map[string]any{}
	if len(c.LeadingKeys) > 0 {
		out["ForAllValues:StringLike"] = map[string]any{"dynamodb:LeadingKeys": c.LeadingKeys}
	}
	if len(c.Attributes) > 0 {
		out["ForAllValues:StringEquals"] = map[string]any{"dynamodb:Attributes": c.Attributes}
		out["StringEqualsIfExists"] = map[string]any{"dynamodb:ReturnValues": narrowReturns}
	}
	return out
}

// item is what a DynamoDB request says about the items it touches, for
// the condition keys: their partition keys, the top-level attributes it
// names, its ReturnValues. known is false for a request whose items this
// package does not read (a Query's key condition): a statement with a
// condition then refuses it, as a policy cannot be checked half.
type item struct {
	known   bool
	keys    []string
	attrs   []string
	returns string
}

// satisfies reports whether the request meets the condition, and if not,
// why.
func (c Condition) satisfies(it item) (bool, string) {
	if c.empty() {
		return true, ""
	}
	if !it.known {
		return false, "the statement's condition cannot be checked on this request"
	}
	for _, k := range it.keys {
		if len(c.LeadingKeys) > 0 && !slices.ContainsFunc(c.LeadingKeys, func(p string) bool { return like(p, k) }) {
			return false, fmt.Sprintf("dynamodb:LeadingKeys %q is not one of %v", k, c.LeadingKeys)
		}
	}
	if len(c.Attributes) > 0 {
		for _, a := range it.attrs {
			if !slices.Contains(c.Attributes, a) {
				return false, fmt.Sprintf("dynamodb:Attributes %q is not one of %v", a, c.Attributes)
			}
		}
		if it.returns != "" && !slices.Contains(narrowReturns, it.returns) {
			return false, fmt.Sprintf("dynamodb:ReturnValues %s is not one of %v", it.returns, narrowReturns)
		}
	}
	return true, ""
}

// like is IAM's StringLike for patterns whose only wildcard is *.
func like(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// itemOf reads one item's request: its key, the attributes its item (a
// put) and expressions name.
func itemOf(key, putItem map[string]ddbtypes.AttributeValue, names map[string]string, returns ddbtypes.ReturnValue, exprs ...*string) item {
	it := item{known: true, returns: string(returns)}
	if key == nil {
		key = putItem
	}
	if pk, ok := key[dynamo.AttrPK].(*ddbtypes.AttributeValueMemberS); ok {
		it.keys = []string{pk.Value}
	}
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			it.attrs = append(it.attrs, a)
		}
	}
	for k := range key {
		add(k)
	}
	for k := range putItem {
		add(k)
	}
	for _, e := range exprs {
		for _, a := range exprAttributes(aws.ToString(e), names) {
			add(a)
		}
	}
	slices.Sort(it.attrs)
	return it
}

var exprToken = regexp.MustCompile(`#?[A-Za-z_][A-Za-z0-9_]*`)

// exprKeywords are the words of DynamoDB's expressions that name no attribute.
var exprKeywords = map[string]bool{"SET": true, "REMOVE": true, "ADD": true, "DELETE": true, "AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true}

// exprAttributes lists the top-level attributes an expression names: its
// paths' first names (#placeholders resolved), not its :values, function
// names, keywords or nested names.
func exprAttributes(expr string, names map[string]string) []string {
	var out []string
	for _, m := range exprToken.FindAllStringIndex(expr, -1) {
		tok := expr[m[0]:m[1]]
		before := strings.TrimRight(expr[:m[0]], " ")
		if strings.HasSuffix(expr[:m[0]], ":") || strings.HasSuffix(before, ".") {
			continue // a :value, or a nested name
		}
		if strings.HasPrefix(strings.TrimLeft(expr[m[1]:], " "), "(") || exprKeywords[strings.ToUpper(tok)] {
			continue // a function, or a keyword
		}
		if strings.HasPrefix(tok, "#") {
			tok = names[tok]
		}
		out = append(out, tok)
	}
	return out
}
