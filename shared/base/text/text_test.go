package text_test

import (
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/text"
)

// TestCheck: what the second security review slipped past titles and
// names is refused everywhere; emoji sequences and scripts that need a
// joiner stay valid.
func TestCheck(t *testing.T) {
	t.Parallel()
	line := text.Rules{MaxBytes: 255}
	for name, s := range map[string]string{
		"right-to-left override":    "invoice\u202Egpj.exe",
		"combining grapheme joiner": "Lead\u034F",
		"Khmer inherent vowel":      "Deal\u17B4",
		"zero-width space":          "a\u200Bb",
		"byte-order mark":           "\uFEFFname",
		"Hangul filler":             "x\u3164y",
		"stray joiner":              "a\u200Db",
		"stray variation selector":  "\uFE0Fstart",
		"stray tag":                 "a\U000E0041",
		"em-space run":              "invoice" + strings.Repeat("\u2003", 30) + ".exe",
		"ASCII space run":           "invoice     .exe",
		"Braille blank run":         "a\u2800\u2800\u2800\u2800b",
		"control":                   "a\x07b",
		"newline in a line":         "a\nb",
		"line separator":            "a\u2028b",
		"invalid UTF-8":             "a\xffb",
		"too long":                  strings.Repeat("a", 256),
	} {
		err := text.Check("title", s, line)
		if e, ok := apperr.As(err); !ok || len(e.Fields) != 1 || e.Fields[0].Field != "title" {
			t.Errorf("%s (%q): %v", name, s, err)
		}
	}
	for name, s := range map[string]string{
		"ZWJ family":        "👨\u200D👩\u200D👧 family.png",
		"ZWJ with VS16":     "🏳\uFE0F\u200D🌈 pride.jpg",
		"skin tone + ZWJ":   "👩🏽\u200D💻 dev.txt",
		"heart VS16":        "❤\uFE0F.txt",
		"keycap":            "1\uFE0F\u20E3 first",
		"Scotland flag":     "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
		"Persian ZWNJ":      "می\u200Cخواهم.pdf",
		"ideographic VS":    "葛\U000E0100飾区",
		"three spaces":      "a   b",
		"accents":           "Crème brûlée — ÉTÉ 2026.docx",
		"ideographic space": "東京\u3000資料.pdf",
	} {
		if err := text.Check("title", s, line); err != nil {
			t.Errorf("%s (%q): %v", name, s, err)
		}
	}
	note := text.Rules{MaxRunes: 1000, Multiline: true}
	if err := text.Check("note", "Line one\n\n\n\n    indented\ttab", note); err != nil {
		t.Errorf("a multiline note: %v", err)
	}
	if err := text.Check("note", "x"+strings.Repeat("\u2003", 4), note); err == nil {
		t.Error("a run of em spaces in a note")
	}
	if err := text.Check("note", "a\u202Eb", note); err == nil {
		t.Error("an override in a note")
	}
}
