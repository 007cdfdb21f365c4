package files

import (
	"mime"
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

// inlineSafe lists the types a browser may show inline from the bucket's
// origin, which every tenant shares: none of them runs script. HTML, SVG,
// XML and anything unknown could, so they are never served inline.
var inlineSafe = map[string]bool{
	"application/pdf": true, "text/plain": true,
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/avif": true, "image/bmp": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/webm": true, "audio/aac": true, "audio/mp4": true, "audio/flac": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
}

// Delivery chooses how a download is served: the disposition ("inline"
// only when asked and the type is on the safe list) and the Content-Type S3
// answers with (the stored type when it is safe, else
// application/octet-stream, so that no browser renders it whatever the
// uploader declared).
func Delivery(mimeType string, inline bool) (disposition, contentType string) {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil || !inlineSafe[mt] {
		return "attachment", "application/octet-stream"
	}
	if mt == "text/plain" {
		mt += "; charset=utf-8"
	}
	if inline {
		return "inline", mt
	}
	return "attachment", mt
}
