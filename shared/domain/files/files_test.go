package files

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "Relatório final (2).pdf", "日本語.txt", ".env", strings.Repeat("a", 255)} {
		if err := ValidateName("file_name", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", `a\b`, "a\nb", "a\rb", "a\tb", "a\x00", "a\u2028b", ".", "..", " a", "a ", strings.Repeat("a", 256), "a\xffb", "a\u0085b",
		"invoice\u202Efdp.exe", "a\u200Bb", "\uFEFFa.txt", "a\u2066b", "a\u200Db", "a\u3164.txt", "a\u00ADb"} {
		if err := ValidateName("file_name", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNaming(t *testing.T) {
	for _, tc := range []struct{ name, ext, sanitized string }{
		{"Relatório Final.PDF", "pdf", "Relat_rio_Final.PDF"},
		{"photo.jpeg", "jpeg", "photo.jpeg"},
		{"archive.tar.gz", "gz", "archive.tar.gz"},
		{"noext", "", "noext"},
		{"日本語.txt", "txt", "txt"},
		{"日本語", "", "file"},
		{"weird.ext-with-dash", "", "weird.ext-with-dash"},
		{"..hidden..", "", "hidden"},
	} {
		if got := Extension(tc.name); got != tc.ext {
			t.Errorf("Extension(%q) = %q, want %q", tc.name, got, tc.ext)
		}
		if got := Sanitize(tc.name); got != tc.sanitized {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.name, got, tc.sanitized)
		}
	}
}

func TestMimeAndKind(t *testing.T) {
	for _, tc := range []struct{ ct, name, mime, kind string }{
		{"", "a.pdf", "application/pdf", "document"},
		{"", "a.JPG", "image/jpeg", "image"},
		{"", "a.mp4", "video/mp4", "video"},
		{"", "a.mp3", "audio/mpeg", "audio"},
		{"", "a.bin", "application/octet-stream", "file"},
		{"text/plain; charset=UTF-8", "a", "text/plain; charset=UTF-8", "document"},
		{"Image/PNG", "a", "image/png", "image"},
	} {
		m, err := MimeType(tc.ct, tc.name)
		if err != nil || m != tc.mime {
			t.Errorf("MimeType(%q, %q) = %q %v, want %q", tc.ct, tc.name, m, err, tc.mime)
		}
		if k := Kind(m, Extension(tc.name)); k != tc.kind {
			t.Errorf("Kind(%q) = %q, want %q", m, k, tc.kind)
		}
	}
	for _, bad := range []string{"nope", "a/b; x", "/", strings.Repeat("a", 300) + "/b"} {
		if _, err := MimeType(bad, "a"); err == nil {
			t.Errorf("MimeType(%q) accepted", bad)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, name := range []string{`plain.pdf`, `quo"te.pdf`, `back\slash.txt`, "Relatório 100%.pdf", "new\nline.txt", "a;b=c.txt", "日本語 ファイル.docx"} {
		v := ContentDisposition("attachment", name)
		if strings.ContainsAny(v, "\r\n") {
			t.Fatalf("%q: header value has a line break: %q", name, v)
		}
		fallback, ext, ok := strings.Cut(strings.TrimPrefix(v, `attachment; filename="`), `"; filename*=UTF-8''`)
		if !ok || strings.ContainsAny(fallback, "\"\\") {
			t.Fatalf("%q: %q", name, v)
		}
		for _, r := range fallback {
			if r > 0x7e || r < 0x20 {
				t.Fatalf("%q: non-ASCII fallback %q", name, fallback)
			}
		}
		if got, err := url.PathUnescape(ext); err != nil || got != name {
			t.Fatalf("%q: filename* decodes to %q (%v)", name, got, err)
		}
	}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mime        string
		inline      bool
		disp, ctype string
	}{
		{"application/pdf", true, "inline", "application/pdf"},
		{"application/pdf", false, "attachment", "application/pdf"},
		{"IMAGE/PNG", true, "inline", "image/png"},
		{"text/plain", true, "inline", "text/plain; charset=utf-8"},
		{"text/html", true, "attachment", "application/octet-stream"},
		{"text/html; charset=utf-8", false, "attachment", "application/octet-stream"},
		{"image/svg+xml", true, "attachment", "application/octet-stream"},
		{"application/xhtml+xml", true, "attachment", "application/octet-stream"},
		{"text/xml", true, "attachment", "application/octet-stream"},
		{"application/javascript", true, "attachment", "application/octet-stream"},
		{"application/octet-stream", true, "attachment", "application/octet-stream"},
		{"", true, "attachment", "application/octet-stream"},
		{"garbage;;", true, "attachment", "application/octet-stream"},
	} {
		d, c := Delivery(tc.mime, tc.inline)
		if d != tc.disp || c != tc.ctype {
			t.Errorf("%q inline=%v: %s %s, want %s %s", tc.mime, tc.inline, d, c, tc.disp, tc.ctype)
		}
	}
}
