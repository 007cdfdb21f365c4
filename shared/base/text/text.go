// Package text validates the strings people type for other people to read
// — file names, entity and batch titles and notes, token and account
// names, webhook descriptions — with one set of rules, so none of them can
// disguise itself: no control characters, no invisible or
// direction-changing characters (a U+202E makes "gpj.exe" read "exe.jpg"),
// no run of spaces long enough to push a real extension out of view
// ("invoice<30 em spaces>.exe"). Emoji sequences stay valid: a zero-width
// joiner between emoji, a variation selector after its base character, a
// flag's tag characters, a zero-width non-joiner between letters (Persian
// and Indic words need it).
package text

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/anexo/anexo/shared/base/apperr"
)

// Rules bound one kind of string.
type Rules struct {
	MaxBytes  int  // 0: no byte bound
	MaxRunes  int  // 0: no character bound
	Multiline bool // newlines allowed, and ASCII spaces and tabs in any number
}

// MaxSpaceRun is the longest run of space characters a string may hold.
const MaxSpaceRun = 3

// Check validates s under r; the error names field and says what is wrong
// and where.
func Check(field, s string, r Rules) error {
	if !utf8.ValidString(s) {
		return apperr.Invalid(field, "must be valid UTF-8")
	}
	if r.MaxBytes > 0 && len(s) > r.MaxBytes {
		return apperr.Invalid(field, fmt.Sprintf("must be at most %d bytes (got %d)", r.MaxBytes, len(s)))
	}
	if n := utf8.RuneCountInString(s); r.MaxRunes > 0 && n > r.MaxRunes {
		return apperr.Invalid(field, fmt.Sprintf("must be at most %d characters (got %d)", r.MaxRunes, n))
	}
	rs := []rune(s)
	run := 0
	for i, c := range rs {
		at := " (at character " + strconv.Itoa(i+1) + ")"
		var prev, next rune = -1, -1
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case c == utf8.RuneError: // what JSON decoding makes of invalid UTF-8
			return apperr.Invalid(field, "must be valid UTF-8"+at)
		case r.Multiline && (c == '\n' || c == '\r' || c == '\t'):
		case unicode.IsControl(c) || c == 0x2028 || c == 0x2029:
			return apperr.Invalid(field, "must not contain control characters"+at)
		case invisible(c) && !joins(rs, i, prev, next):
			return apperr.Invalid(field, fmt.Sprintf("must not contain invisible or direction-changing characters (U+%04X%s)", c, at))
		}
		if space(c) && !(r.Multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			if run++; run > MaxSpaceRun {
				return apperr.Invalid(field, fmt.Sprintf("must not contain more than %d space characters in a row%s: a run of them can push the end of a name out of view", MaxSpaceRun, at))
			}
		} else {
			run = 0
		}
	}
	return nil
}

// space reports the characters that show as blank: white space, and the
// blank fillers of Braille and Hangul.
func space(c rune) bool {
	return unicode.IsSpace(c) || unicode.Is(unicode.Zs, c) || c == 0x2800 || c == 0x115F || c == 0x1160 || c == 0x3164 || c == 0xFFA0
}

// invisible reports the default-ignorable and format characters: nothing
// shows where they are, or they change how what follows reads.
func invisible(c rune) bool {
	switch {
	case unicode.Is(unicode.Cf, c),
		c == 0x034F,              // combining grapheme joiner
		c == 0x115F, c == 0x1160, // Hangul fillers
		c == 0x17B4, c == 0x17B5, // Khmer inherent vowels
		c >= 0x180B && c <= 0x180F, // Mongolian free variation selectors
		c == 0x2800,                // Braille blank
		c == 0x3164, c == 0xFFA0,   // Hangul fillers
		c >= 0xFE00 && c <= 0xFE0F,   // variation selectors
		c >= 0xFFF0 && c <= 0xFFF8,   // unassigned specials
		c >= 0x1BCA0 && c <= 0x1BCA3, // shorthand format controls
		c >= 0x1D173 && c <= 0x1D17A, // musical format controls
		c >= 0xE0000 && c <= 0xE0FFF: // tags, variation selectors supplement
		return true
	}
	return false
}

// joins reports an invisible character that belongs where it is: a
// zero-width joiner between emoji, a non-joiner between letters, a
// variation selector after a visible base, a flag's tags.
func joins(rs []rune, i int, prev, next rune) bool {
	c := rs[i]
	switch {
	case c == 0x200D: // ZWJ: 👩‍💻
		return emoji(base(rs, i)) && emoji(next)
	case c == 0x200C: // ZWNJ: می‌خواهم
		return unicode.IsLetter(prev) && (unicode.IsLetter(next) || unicode.Is(unicode.Mn, next))
	case c >= 0xFE00 && c <= 0xFE0F, c >= 0xE0100 && c <= 0xE01EF: // after its base: ❤️, 葛󠄀
		return prev >= 0 && !space(prev) && !invisible(prev) && !unicode.IsMark(prev)
	case c >= 0xE0020 && c <= 0xE007F: // 🏴󠁧󠁢󠁳󠁣󠁴󠁿: black flag, tags, cancel tag
		for j := i - 1; j >= 0; j-- {
			if rs[j] == 0x1F3F4 {
				return true
			}
			if rs[j] < 0xE0020 || rs[j] > 0xE007E {
				return false
			}
		}
	}
	return false
}

// base is the character a joiner at i attaches to: the one before it,
// past variation selectors and skin-tone modifiers.
func base(rs []rune, i int) rune {
	for j := i - 1; j >= 0; j-- {
		if c := rs[j]; c != 0xFE0F && !(c >= 0x1F3FB && c <= 0x1F3FF) {
			return c
		}
	}
	return -1
}

// emoji reports the characters emoji sequences are made of.
func emoji(c rune) bool {
	return c >= 0x1F000 && c <= 0x1FAFF || c >= 0x2190 && c <= 0x2BFF || c == 0x00A9 || c == 0x00AE ||
		c == 0x203C || c == 0x2049 || c == 0x2122 || c == 0x2139 || c == 0x3030 || c == 0x303D || unicode.Is(unicode.So, c)
}
