package entities

import (
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
)

func field(err error) string {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		return e.Fields[0].Field
	}
	return ""
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in        string
		uuid      string
		code      int64
		wantError bool
	}{
		{"3C90C3CC-0D44-4B50-8888-8DD25736052A", "3c90c3cc-0d44-4b50-8888-8dd25736052a", 0, false},
		{"4521", "", 4521, false},
		{"9007199254740991", "", MaxCode, false},
		{"9007199254740992", "", 0, true},
		{"0", "", 0, true},
		{"-1", "", 0, true},
		{"", "", 0, true},
		{"3c90c3cc0d444b5088888dd25736052a", "", 0, true}, // UUIDs only in the canonical form
		{"12a", "", 0, true},
		{"１２", "", 0, true}, // full-width digits are not a code
	} {
		r, err := ParseRef(Lead, "entity_id", tc.in)
		if (err != nil) != tc.wantError || r.UUID != tc.uuid || r.Code != tc.code {
			t.Errorf("ParseRef(%q) = %+v, %v", tc.in, r, err)
		}
		if err != nil && field(err) != "entity_id" {
			t.Errorf("ParseRef(%q): error names %q", tc.in, field(err))
		}
	}
	if _, err := ParseType("t", "LEAD"); err != nil {
		t.Error(err)
	}
	if _, err := ParseType("t", "ticket"); field(err) != "t" {
		t.Error(err)
	}
}

func TestValidateText(t *testing.T) {
	for _, tc := range []struct {
		in        string
		multiline bool
		ok        bool
	}{
		{"Acme Ltda — São Paulo", false, true},
		{strings.Repeat("é", 150), false, true},
		{strings.Repeat("é", 151), false, false},
		{"a\nb", false, false},
		{"a\nb\tc", true, true},
		{"a\x00b", true, false},
		{"a\u0085b", true, false},
		{string([]byte{0xff}), true, false},
	} {
		if err := ValidateText("title", tc.in, 150, tc.multiline); (err == nil) != tc.ok {
			t.Errorf("ValidateText(%q, %v) = %v", tc.in, tc.multiline, err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	const f = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
	for _, tc := range []struct {
		spec  Spec
		field string
	}{
		{Spec{FileUUID: f}, ""},
		{Spec{FileUUID: f, Kind: KindNote, NoteID: "n1"}, ""},
		{Spec{FileUUID: f, Kind: KindField, FieldID: "contract", VersionUUID: f}, ""},
		{Spec{FileUUID: "x"}, "s.file_uuid"},
		{Spec{FileUUID: f, Kind: "poster"}, "s.kind"},
		{Spec{FileUUID: f, Kind: KindNote}, "s.note_id"},
		{Spec{FileUUID: f, Kind: KindField}, "s.field_id"},
		{Spec{FileUUID: f, FieldID: "x"}, "s.field_id"},
		{Spec{FileUUID: f, Kind: KindNote, NoteID: "a#b"}, "s.note_id"},
		{Spec{FileUUID: f, Kind: KindNote, NoteID: strings.Repeat("n", MaxRefID+1)}, "s.note_id"},
		{Spec{FileUUID: f, VersionUUID: f}, "s.version_uuid"},
		{Spec{FileUUID: f, Kind: KindField, FieldID: "c", VersionUUID: "v"}, "s.version_uuid"},
	} {
		var errs apperr.Fields
		s := tc.spec
		s.Validate("s", &errs)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Field
		}
		if got != tc.field {
			t.Errorf("%+v: error on %q, want %q", tc.spec, got, tc.field)
		}
	}
	specs := []Spec{{FileUUID: f}, {FileUUID: f, Kind: KindMedia}}
	if err := ValidateSpecs(specs); field(err) != "files[1]" {
		t.Errorf("duplicate: %v", err)
	}
	if err := ValidateSpecs(nil); field(err) != "files" {
		t.Errorf("empty: %v", err)
	}
}
