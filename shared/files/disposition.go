package files

import (
	"strings"
	"unicode/utf8"
)

// ContentDisposition builds an RFC 6266 header value that is safe for any
// name: a quoted ASCII fallback (quotes, backslashes, controls and non-ASCII
// replaced) and an RFC 5987 filename* with the exact UTF-8 name.
func ContentDisposition(kind, name string) string {
	var fallback, ext strings.Builder
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r >= utf8.RuneSelf || r == '"' || r == '\\' || r == '%' || r == ';' {
			fallback.WriteByte('_')
		} else {
			fallback.WriteRune(r)
		}
	}
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			ext.WriteByte(b)
		} else {
			ext.WriteString("%" + strings.ToUpper(hex2(b)))
		}
	}
	return kind + `; filename="` + fallback.String() + `"; filename*=UTF-8''` + ext.String()
}

// isAttrChar is RFC 5987 attr-char.
func isAttrChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}
