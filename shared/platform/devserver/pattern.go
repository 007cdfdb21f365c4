package devserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// pattern is a compiled EventBridge event pattern: the rule language a
// rule on the embedded bus filters with, as EventBridge documents it —
// exact values (strings, numbers, booleans, null), prefix, suffix,
// equals-ignore-case, wildcard, anything-but (values, prefix, suffix,
// equals-ignore-case, wildcard), numeric ranges, exists, cidr, and $or.
// A field matches when any of its values (an array's elements) matches
// any of the field's matchers; every field of the pattern must match.
type pattern struct {
	fields map[string]*field
	or     [][]*pattern // each $or: any of its patterns
}

// field is one key of a pattern: matchers for a leaf, or a nested pattern.
type field struct {
	matchers []matcher
	nested   *pattern
}

type matcher func(v any, present bool) bool

// compilePattern parses a rule's EventPattern, refusing what EventBridge
// refuses (InvalidEventPatternException).
func compilePattern(text string) (*pattern, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("Event pattern is not valid. Reason: %v", err)
	}
	obj, ok := raw.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil, errors.New("Event pattern is not valid. Reason: the pattern must be a non-empty JSON object")
	}
	return compileObject(obj, "")
}

func compileObject(obj map[string]any, at string) (*pattern, error) {
	p := &pattern{fields: map[string]*field{}}
	for k, v := range obj {
		where := strings.TrimPrefix(at+"."+k, ".")
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, fmt.Errorf("Event pattern is not valid. Reason: %s must be an array of at least two patterns", where)
			}
			var group []*pattern
			for _, a := range alts {
				ao, ok := a.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("Event pattern is not valid. Reason: %s holds a value that is not a pattern", where)
				}
				sub, err := compileObject(ao, at)
				if err != nil {
					return nil, err
				}
				group = append(group, sub)
			}
			p.or = append(p.or, group)
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			sub, err := compileObject(x, where)
			if err != nil {
				return nil, err
			}
			p.fields[k] = &field{nested: sub}
		case []any:
			if len(x) == 0 {
				return nil, fmt.Errorf("Event pattern is not valid. Reason: %s: empty arrays are not allowed", where)
			}
			f := &field{}
			for _, m := range x {
				mm, err := compileMatcher(m, where)
				if err != nil {
					return nil, err
				}
				f.matchers = append(f.matchers, mm)
			}
			p.fields[k] = f
		default:
			return nil, fmt.Errorf("Event pattern is not valid. Reason: %s: match value must be put inside a JSON array", where)
		}
	}
	return p, nil
}

func invalid(where, format string, a ...any) error {
	return fmt.Errorf("Event pattern is not valid. Reason: %s: %s", where, fmt.Sprintf(format, a...))
}

// compileMatcher compiles one element of a leaf's array.
func compileMatcher(m any, where string) (matcher, error) {
	obj, ok := m.(map[string]any)
	if !ok { // an exact value
		return func(v any, present bool) bool { return present && equal(v, m) }, nil
	}
	if len(obj) != 1 {
		return nil, invalid(where, "a matcher object names exactly one operator")
	}
	for op, arg := range obj {
		switch op {
		case "exists":
			want, ok := arg.(bool)
			if !ok {
				return nil, invalid(where, "exists takes true or false")
			}
			return func(_ any, present bool) bool { return present == want }, nil
		case "numeric":
			return compileNumeric(arg, where)
		case "cidr":
			s, _ := arg.(string)
			prefix, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, invalid(where, "cidr takes an IP prefix like 10.0.0.0/24")
			}
			return func(v any, present bool) bool {
				s, ok := v.(string)
				a, err := netip.ParseAddr(s)
				return present && ok && err == nil && prefix.Contains(a)
			}, nil
		case "anything-but":
			inner, err := compileAnythingBut(arg, where)
			if err != nil {
				return nil, err
			}
			return func(v any, present bool) bool { return present && !inner(v) }, nil
		default:
			test, err := compileString(op, arg, where)
			if err != nil {
				return nil, err
			}
			return func(v any, present bool) bool {
				s, ok := v.(string)
				return present && ok && test(s)
			}, nil
		}
	}
	return nil, invalid(where, "empty matcher")
}

// compileString compiles prefix, suffix, equals-ignore-case and wildcard
// (prefix and suffix also take {"equals-ignore-case": x}).
func compileString(op string, arg any, where string) (func(string) bool, error) {
	fold := false
	if o, ok := arg.(map[string]any); ok && (op == "prefix" || op == "suffix") && len(o) == 1 && o["equals-ignore-case"] != nil {
		arg, fold = o["equals-ignore-case"], true
	}
	s, ok := arg.(string)
	if !ok {
		return nil, invalid(where, "%s takes a string", op)
	}
	norm := func(x string) string { return x }
	if fold {
		norm = strings.ToLower
	}
	switch op {
	case "prefix":
		return func(v string) bool { return strings.HasPrefix(norm(v), norm(s)) }, nil
	case "suffix":
		return func(v string) bool { return strings.HasSuffix(norm(v), norm(s)) }, nil
	case "equals-ignore-case":
		return func(v string) bool { return strings.EqualFold(v, s) }, nil
	case "wildcard":
		if strings.Contains(s, "**") {
			return nil, invalid(where, "wildcard: consecutive * are not allowed")
		}
		return func(v string) bool { return wildcard(s, v) }, nil
	}
	return nil, invalid(where, "unknown operator %q", op)
}

// wildcard matches v against a pattern where * is any run of characters
// (\* a literal star).
func wildcard(p, v string) bool {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && p[i+1] == '*':
			cur.WriteByte('*')
			i++
		case p[i] == '*':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	segs = append(segs, cur.String())
	if len(segs) == 1 {
		return v == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if !strings.HasPrefix(v, first) || len(v) < len(first)+len(last) || !strings.HasSuffix(v, last) {
		return false
	}
	rest := v[len(first) : len(v)-len(last)]
	for _, s := range segs[1 : len(segs)-1] {
		k := strings.Index(rest, s)
		if k < 0 {
			return false
		}
		rest = rest[k+len(s):]
	}
	return true
}

// compileAnythingBut compiles what anything-but excludes: a value, a
// list of values, or one string operator.
func compileAnythingBut(arg any, where string) (func(any) bool, error) {
	switch x := arg.(type) {
	case []any:
		return func(v any) bool {
			for _, e := range x {
				if equal(v, e) {
					return true
				}
			}
			return false
		}, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, invalid(where, "anything-but takes one operator")
		}
		for op, a := range x {
			if list, ok := a.([]any); ok && op == "equals-ignore-case" {
				return func(v any) bool {
					s, ok := v.(string)
					for _, e := range list {
						if es, _ := e.(string); ok && strings.EqualFold(s, es) {
							return true
						}
					}
					return false
				}, nil
			}
			test, err := compileString(op, a, where)
			if err != nil {
				return nil, err
			}
			return func(v any) bool { s, ok := v.(string); return ok && test(s) }, nil
		}
	}
	return func(v any) bool { return equal(v, arg) }, nil
}

// compileNumeric compiles ["<", 10, ">=", 0, "=", 5]: every comparison
// must hold.
func compileNumeric(arg any, where string) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return nil, invalid(where, "numeric takes one or two comparisons like [\">\", 0, \"<=\", 5]")
	}
	type cmp struct {
		op string
		n  float64
	}
	var cs []cmp
	for i := 0; i < len(list); i += 2 {
		op, _ := list[i].(string)
		n, ok := list[i+1].(float64)
		switch op {
		case "<", "<=", "=", ">=", ">":
		default:
			ok = false
		}
		if !ok {
			return nil, invalid(where, "numeric: %v %v is not a comparison", list[i], list[i+1])
		}
		cs = append(cs, cmp{op, n})
	}
	return func(v any, present bool) bool {
		f, ok := v.(float64)
		if !present || !ok || math.IsNaN(f) {
			return false
		}
		for _, c := range cs {
			var holds bool
			switch c.op {
			case "<":
				holds = f < c.n
			case "<=":
				holds = f <= c.n
			case "=":
				holds = f == c.n
			case ">=":
				holds = f >= c.n
			case ">":
				holds = f > c.n
			}
			if !holds {
				return false
			}
		}
		return true
	}, nil
}

// equal compares an event's value with a pattern's (numbers by value).
func equal(v, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == w
	case float64:
		f, ok := v.(float64)
		return ok && f == w
	case bool:
		b, ok := v.(bool)
		return ok && b == w
	case nil:
		return v == nil
	}
	return false
}

// match reports whether an event (decoded JSON) matches the pattern.
func (p *pattern) match(ev map[string]any) bool {
	for k, f := range p.fields {
		v, present := ev[k]
		if !f.match(v, present) {
			return false
		}
	}
	for _, group := range p.or {
		if !slices.ContainsFunc(group, func(alt *pattern) bool { return alt.match(ev) }) {
			return false
		}
	}
	return true
}

func (f *field) match(v any, present bool) bool {
	if f.nested != nil {
		switch x := v.(type) {
		case map[string]any:
			return f.nested.match(x)
		case []any: // an array of objects: any element
			for _, e := range x {
				if o, ok := e.(map[string]any); ok && f.nested.match(o) {
					return true
				}
			}
			return false
		}
		return f.nested.match(map[string]any{}) // absent: only exists:false can hold
	}
	values := []any{v}
	if arr, ok := v.([]any); ok && present {
		values = arr
		if len(arr) == 0 {
			values, present = []any{nil}, false
		}
	}
	for _, val := range values {
		for _, m := range f.matchers {
			if m(val, present) {
				return true
			}
		}
	}
	return false
}
