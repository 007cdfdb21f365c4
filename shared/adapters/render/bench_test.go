package render_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/anexo/anexo/shared/adapters/render"
	"github.com/anexo/anexo/shared/domain/files"
)

// photo is a w × h picture with detail (gradients and noise), as a
// camera's is: a flat test card compresses and decodes unrealistically
// fast.
func photo(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	seed := uint32(1)
	for y := range h {
		for x := range w {
			seed = seed*1664525 + 1013904223
			n := uint8(seed >> 27)
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x*255/w) ^ n, G: uint8(y*255/h) + n, B: uint8((x + y) % 256), A: 255})
		}
	}
	return img
}

// BenchmarkRender reports the time of one version's three previews by
// format and size (ms/op), and the bytes it allocates (B/op: the decoded
// picture dominates, so it bounds the function's memory).
func BenchmarkRender(b *testing.B) {
	jpg := func(w, h int) []byte {
		return encode(b, func(buf *bytes.Buffer) error { return jpeg.Encode(buf, photo(w, h), &jpeg.Options{Quality: 90}) })
	}
	cases := []struct {
		name string
		src  []byte
	}{
		{"jpeg-2MP", jpg(1600, 1200)},
		{"jpeg-12MP", jpg(4000, 3000)},
		{"jpeg-48MP", jpg(8000, 6000)},
		{"png-2MP", encode(b, func(buf *bytes.Buffer) error { return png.Encode(buf, photo(1600, 1200)) })},
		{"png-12MP", encode(b, func(buf *bytes.Buffer) error { return png.Encode(buf, photo(4000, 3000)) })},
		{"pdf-page", minimalPDF()},
		{"heic-sample", heicSample(b)},
	}
	r := &render.Renderer{}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if _, err := r.Render(context.Background(), "", c.src, files.PreviewSizes); err != nil { // warm: pdfium's start
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.src)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.Render(context.Background(), "", c.src, files.PreviewSizes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// heicSample is the HEIC photo of testdata (see its README).
func heicSample(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "sample.heic"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
