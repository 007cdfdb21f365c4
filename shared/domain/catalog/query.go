package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// Listing limits.
const (
	DefaultLimit = 50
	MaxLimit     = 250
	MaxUUIDs     = 100
	MaxListItems = 50 // values in one list filter (extensions, created_by)
)

// Query is a parsed, validated GET /v1/files request.
type Query struct {
	UUIDs      []string
	Name       string // exact, case-insensitive
	Term       string // substring of the name, case-insensitive
	Extensions []string
	Deleted    bool // true: the trash; false: active files
	SizeFrom   *int64
	SizeTo     *int64
	DateField  string // created_at | updated_at
	DateFrom   *time.Time
	DateTo     *time.Time
	DatePreset string
	CreatedBy  []string
	Source     string
	Scans      []files.ScanStatus // the main version's scan status is one of these
	Ascending  bool
	Limit      int
	Cursor     string
	Now        time.Time // trashed files past their purge time are gone
	Entity     *EntityFilter
	// WithPreviews asks for each file's previews, with signed links
	// (with=previews; Kommo's with_preview=true).
	WithPreviews bool
}

// EntityFilter keeps the files attached to one entity (of some kinds).
type EntityFilter struct {
	Ref   entities.Ref
	Kinds []entities.Kind // empty: every kind
	UUID  string          // the entity's UUID, resolved by the catalogue
}

// HasKind reports whether attachments of kind k pass the filter.
func (e EntityFilter) HasKind(k entities.Kind) bool {
	return len(e.Kinds) == 0 || slices.Contains(e.Kinds, k)
}

var sizeUnits = map[string]int64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}

var knownParams = map[string]bool{
	"filter[uuid]": true, "filter[uuid][]": true, "filter[name]": true, "filter[term]": true,
	"filter[extensions]": true, "filter[extensions][]": true, "filter[deleted]": true,
	"filter[size][from]": true, "filter[size][to]": true, "filter[size][unit]": true,
	"filter[date][type]": true, "filter[date][from]": true, "filter[date][to]": true, "filter[date][date_preset]": true,
	"filter[created_by]": true, "filter[created_by][]": true, "filter[source]": true,
	"filter[scan]": true, "filter[scan][]": true, "with": true, "with[]": true, "with_preview": true,
	"order[created_at]": true, "limit": true, "cursor": true, "page": false,
	"filter[entity][type]": true, "filter[entity][id]": true, "filter[entity][kind]": true, "filter[entity][kind][]": true,
}

// list reads a list filter given as repeated `k[]=` values and/or a
// comma-separated `k=` value.
func list(v url.Values, key string) []string {
	var out []string
	for _, raw := range append(v[key], v[key+"[]"]...) {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func single(v url.Values, key string, errs *apperr.Fields) string {
	if len(v[key]) > 1 {
		errs.Add(key, "give it once")
	}
	return v.Get(key)
}

// decimal is a size filter's number: digits, optionally a fraction.
var decimal = regexp.MustCompile(`^[0-9]{1,20}(\.[0-9]{1,20})?$`)

// ParseQuery validates a listing query string at now (for date presets).
func ParseQuery(raw string, now time.Time) (Query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return Query{}, apperr.Invalid("query", "is not a valid query string")
	}
	var errs apperr.Fields
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !knownParams[k] {
			errs.Add(k, "unknown query parameter")
		}
	}
	q := Query{Limit: DefaultLimit, DateField: "created_at", Now: now}
	q.UUIDs = list(v, "filter[uuid]")
	if len(q.UUIDs) > MaxUUIDs {
		errs.Add("filter[uuid]", fmt.Sprintf("at most %d uuids", MaxUUIDs))
	}
	for i, u := range q.UUIDs {
		if _, err := uuid.Parse(u); err != nil || len(u) != 36 {
			errs.Add(fmt.Sprintf("filter[uuid][%d]", i), "must be a UUID")
		}
		q.UUIDs[i] = strings.ToLower(u)
	}
	for i, w := range list(v, "with") {
		if w != "previews" {
			errs.Add(fmt.Sprintf("with[%d]", i), "must be previews")
		}
		q.WithPreviews = true
	}
	switch single(v, "with_preview", &errs) {
	case "", "false", "0":
	case "true", "1":
		q.WithPreviews = true
	default:
		errs.Add("with_preview", "must be true or false")
	}
	q.Name = single(v, "filter[name]", &errs)
	q.Term = single(v, "filter[term]", &errs)
	for _, f := range []struct{ key, val string }{{"filter[name]", q.Name}, {"filter[term]", q.Term}} {
		if !utf8.ValidString(f.val) || len(f.val) > files.MaxNameBytes {
			errs.Add(f.key, "must be at most 255 bytes of UTF-8")
		}
	}
	for i, e := range list(v, "filter[extensions]") {
		e = strings.ToLower(strings.TrimPrefix(e, "."))
		if files.Extension("x."+e) != e {
			errs.Add(fmt.Sprintf("filter[extensions][%d]", i), "must be a file extension such as pdf")
		}
		q.Extensions = append(q.Extensions, e)
	}
	if len(q.Extensions) > MaxListItems {
		errs.Add("filter[extensions]", fmt.Sprintf("at most %d extensions", MaxListItems))
	}
	switch d := single(v, "filter[deleted]", &errs); d {
	case "", "false", "0":
	case "true", "1":
		q.Deleted = true
	default:
		errs.Add("filter[deleted]", "must be true or false")
	}
	unit := int64(1)
	if u := single(v, "filter[size][unit]", &errs); u != "" {
		var ok bool
		if unit, ok = sizeUnits[strings.ToUpper(u)]; !ok {
			errs.Add("filter[size][unit]", "must be one of B, KB, MB, GB, TB")
			unit = 1
		}
	}
	for _, f := range []struct {
		key string
		dst **int64
	}{{"filter[size][from]", &q.SizeFrom}, {"filter[size][to]", &q.SizeTo}} {
		s := single(v, f.key, &errs)
		if s == "" {
			continue
		}
		// plain decimals only: ParseFloat would take NaN, Inf, hex and exponents
		n, err := strconv.ParseFloat(s, 64)
		if !decimal.MatchString(s) || err != nil || !(n*float64(unit) <= 1<<62) {
			errs.Add(f.key, "must be a non-negative decimal number (like 1.5), at most 4 EiB")
			continue
		}
		b := int64(n * float64(unit))
		*f.dst = &b
	}
	if q.SizeFrom != nil && q.SizeTo != nil && *q.SizeFrom > *q.SizeTo {
		errs.Add("filter[size][to]", "must not be below filter[size][from]")
	}
	switch t := single(v, "filter[date][type]", &errs); t {
	case "", "created_at":
	case "updated_at":
		q.DateField = t
	default:
		errs.Add("filter[date][type]", "must be created_at or updated_at")
	}
	preset := single(v, "filter[date][date_preset]", &errs)
	from, to := single(v, "filter[date][from]", &errs), single(v, "filter[date][to]", &errs)
	if preset != "" {
		if from != "" || to != "" {
			errs.Add("filter[date][date_preset]", "use either a preset or from/to")
		}
		q.DatePreset = preset
		f, t, ok := presetRange(preset, now)
		if !ok {
			errs.Add("filter[date][date_preset]", "must be one of "+strings.Join(presetNames, ", "))
		} else {
			q.DateFrom, q.DateTo = &f, &t
		}
	}
	for _, f := range []struct {
		key, val string
		dst      **time.Time
	}{{"filter[date][from]", from, &q.DateFrom}, {"filter[date][to]", to, &q.DateTo}} {
		if f.val == "" {
			continue
		}
		t, err := parseTime(f.val)
		if err != nil {
			errs.Add(f.key, "must be a Unix timestamp or an RFC 3339 date-time")
			continue
		}
		*f.dst = &t
	}
	if q.DateFrom != nil && q.DateTo != nil && q.DateTo.Before(*q.DateFrom) {
		errs.Add("filter[date][to]", "must not be before filter[date][from]")
	}
	q.CreatedBy = list(v, "filter[created_by]")
	if len(q.CreatedBy) > MaxListItems {
		errs.Add("filter[created_by]", fmt.Sprintf("at most %d names", MaxListItems))
	}
	q.Source = single(v, "filter[source]", &errs)
	if q.Source != "" && !slices.Contains(Sources, q.Source) {
		errs.Add("filter[source]", "must be one of "+strings.Join(Sources, ", "))
	}
	for i, x := range list(v, "filter[scan]") {
		st := files.ScanStatus(x)
		if !slices.Contains(files.ScanStatuses, st) {
			errs.Add(fmt.Sprintf("filter[scan][%d]", i), "must be one of pending, clean, infected, unsupported, failed, off")
		} else if !slices.Contains(q.Scans, st) {
			q.Scans = append(q.Scans, st)
		}
	}
	slices.Sort(q.Scans)
	switch o := single(v, "order[created_at]", &errs); o {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		errs.Add("order[created_at]", "must be asc or desc")
	}
	if l := single(v, "limit", &errs); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			errs.Add("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxLimit))
		} else {
			q.Limit = n
		}
	}
	q.Cursor = single(v, "cursor", &errs)
	q.Entity = parseEntity(v, &errs)
	if q.Entity != nil && len(q.UUIDs) > 0 {
		errs.Add("filter[uuid]", "cannot be combined with filter[entity]")
	}
	if err := errs.Err(); err != nil {
		return Query{}, err
	}
	return q, nil
}

// parseEntity reads filter[entity][type|id|kind].
func parseEntity(v url.Values, errs *apperr.Fields) *EntityFilter {
	t, id := single(v, "filter[entity][type]", errs), single(v, "filter[entity][id]", errs)
	kinds := list(v, "filter[entity][kind]")
	if t == "" && id == "" && len(kinds) == 0 {
		return nil
	}
	if t == "" {
		errs.Add("filter[entity][type]", "is required with filter[entity]")
		return nil
	}
	typ, err := entities.ParseType("filter[entity][type]", t)
	if err != nil {
		errs.Add("filter[entity][type]", "must be one of lead, deal, contact, company, customer, opportunity, case")
		return nil
	}
	ref, err := entities.ParseRef(typ, "filter[entity][id]", id)
	if err != nil {
		e, _ := apperr.As(err)
		*errs = append(*errs, e.Fields...)
		return nil
	}
	f := &EntityFilter{Ref: ref}
	for i, k := range kinds {
		kind, err := entities.ParseKind("", k)
		if err != nil {
			errs.Add(fmt.Sprintf("filter[entity][kind][%d]", i), "must be media, note or field")
			continue
		}
		if !slices.Contains(f.Kinds, kind) {
			f.Kinds = append(f.Kinds, kind)
		}
	}
	slices.Sort(f.Kinds)
	return f
}

// Sources a file can come from.
var Sources = []string{"api", "wegly"}

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, s)
}

var presetNames = []string{"today", "yesterday", "current_week", "last_week", "current_month", "last_month", "last_7_days", "last_30_days"}

// presetRange resolves a date preset in UTC (inclusive bounds).
func presetRange(p string, now time.Time) (time.Time, time.Time, bool) {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	week := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // Monday
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := func(t time.Time) time.Time { return t.Add(-time.Microsecond) }
	switch p {
	case "today":
		return day, end(day.AddDate(0, 0, 1)), true
	case "yesterday":
		return day.AddDate(0, 0, -1), end(day), true
	case "current_week":
		return week, end(week.AddDate(0, 0, 7)), true
	case "last_week":
		return week.AddDate(0, 0, -7), end(week), true
	case "current_month":
		return month, end(month.AddDate(0, 1, 0)), true
	case "last_month":
		return month.AddDate(0, -1, 0), end(month), true
	case "last_7_days":
		return now.AddDate(0, 0, -7), now, true
	case "last_30_days":
		return now.AddDate(0, 0, -30), now, true
	}
	return time.Time{}, time.Time{}, false
}

// Matches is the reference semantics of every filter except uuid and the
// cursor; stores implement the same with their own expressions.
func (q Query) Matches(f files.File) bool {
	if f.IsTrashed != q.Deleted || f.Gone(q.Now) {
		return false
	}
	if q.Name != "" && strings.ToLower(f.Name) != strings.ToLower(q.Name) {
		return false
	}
	if q.Term != "" && !strings.Contains(strings.ToLower(f.Name), strings.ToLower(q.Term)) {
		return false
	}
	if len(q.Extensions) > 0 && !slices.Contains(q.Extensions, f.Extension) {
		return false
	}
	if q.SizeFrom != nil && f.Size < *q.SizeFrom || q.SizeTo != nil && f.Size > *q.SizeTo {
		return false
	}
	t := f.CreatedAt
	if q.DateField == "updated_at" {
		t = f.UpdatedAt
	}
	if q.DateFrom != nil && t.Before(*q.DateFrom) || q.DateTo != nil && t.After(*q.DateTo) {
		return false
	}
	if len(q.CreatedBy) > 0 && !slices.Contains(q.CreatedBy, f.CreatedBy) {
		return false
	}
	if len(q.Scans) > 0 && !slices.Contains(q.Scans, f.Scan.Current().Status) {
		return false
	}
	return q.Source == "" || f.Source == q.Source
}

// Canonical is the query without paging, used to bind cursors to it. A
// relative preset is bound by name, so its window may move between pages.
func (q Query) Canonical() string {
	c := q
	c.Cursor, c.Limit = "", 0
	if c.DatePreset != "" {
		c.DateFrom, c.DateTo = nil, nil
		c.Source += "|preset=" + c.DatePreset
	}
	ent := "-"
	if c.Entity != nil {
		ent = fmt.Sprintf("%s|%s|%d|%v", c.Entity.Ref.Type, c.Entity.Ref.UUID, c.Entity.Ref.Code, c.Entity.Kinds)
	}
	return fmt.Sprintf("%#v", struct {
		U, E, C     []string
		N, T, D, S  string
		Del, Asc    bool
		SF, ST      string
		DF, DT, Ent string
		Scan        []files.ScanStatus
	}{c.UUIDs, c.Extensions, c.CreatedBy, c.Name, c.Term, c.DateField, c.Source, c.Deleted, c.Ascending,
		ptrStr(c.SizeFrom), ptrStr(c.SizeTo), timeStr(c.DateFrom), timeStr(c.DateTo), ent, c.Scans})
}

func ptrStr(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

func timeStr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
