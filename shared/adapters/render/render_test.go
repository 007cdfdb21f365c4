package render_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/gen2brain/avif"

	"github.com/anexo/anexo/shared/adapters/render"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/testing/norace"
)

// picture is a w × h test card: its left half red, its right half blue,
// its top row green — so a preview shows whether it was turned.
func picture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 220, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 220, A: 255}
			}
			if y < h/8 {
				c = color.NRGBA{G: 220, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encode(t testing.TB, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withOrientation inserts an APP1 Exif segment with the orientation tag
// (and a GPS position, which no preview may carry) after a JPEG's SOI.
func withOrientation(src []byte, o uint16) []byte {
	var t bytes.Buffer
	t.WriteString("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08")
	_ = binary.Write(&t, binary.BigEndian, uint16(2)) // two entries
	_ = binary.Write(&t, binary.BigEndian, []uint16{0x0112, 3, 0, 1, o, 0})
	_ = binary.Write(&t, binary.BigEndian, []uint16{0x8825, 4, 0, 1, 0, 0}) // a GPS IFD pointer
	_ = binary.Write(&t, binary.BigEndian, uint32(0))
	t.WriteString("GPS 48.8584N 2.2945E")
	seg := append([]byte{0xFF, 0xE1, 0, 0}, t.Bytes()...)
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	return append(append(append([]byte{}, src[:2]...), seg...), src[2:]...)
}

// minimalPDF is a one-page PDF (a US-letter page with a filled red
// rectangle), its cross-reference table computed.
func minimalPDF() []byte {
	content := "1 0 0 rg 72 72 300 500 re f"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// lossyWebP and losslessWebP are 1 × 1 WebP files (x/image decodes WebP
// but has no encoder).
const (
	lossyWebP    = "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"
	losslessWebP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
)

// samples are real files of every format rendered, made here, of a
// w × h picture (the GIF is 300 × 200, the WebPs 1 × 1, the PDF a page).
func samples(t testing.TB, w, h int) map[string][]byte {
	pic := picture(w, h)
	webp1, _ := base64.StdEncoding.DecodeString(lossyWebP)
	webp2, _ := base64.StdEncoding.DecodeString(losslessWebP)
	pal := image.NewPaletted(image.Rect(0, 0, 300, 200), []color.Color{color.White, color.Black})
	return map[string][]byte{
		"jpeg": encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, pic, nil) }),
		"png":  encode(t, func(b *bytes.Buffer) error { return png.Encode(b, pic) }),
		"gif": encode(t, func(b *bytes.Buffer) error {
			return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{10, 10}})
		}),
		"bmp":           encode(t, func(b *bytes.Buffer) error { return bmp.Encode(b, pic) }),
		"tiff":          encode(t, func(b *bytes.Buffer) error { return tiff.Encode(b, pic, nil) }),
		"webp lossy":    webp1,
		"webp lossless": webp2,
		"pdf":           minimalPDF(),
	}
}

// TestRendersEveryFormat: each format becomes three JPEG previews whose
// long edges are the sizes asked for (never enlarged), with the source's
// aspect ratio.
func TestRendersEveryFormat(t *testing.T) {
	norace.Run(t) // pure Go and WebAssembly decoders: 7× under -race, per pixel
	t.Parallel()
	r := &render.Renderer{}
	want := map[string][2]int{"jpeg": {1600, 1200}, "png": {1600, 1200}, "gif": {300, 200}, "bmp": {1600, 1200},
		"tiff": {1600, 1200}, "webp lossy": {1, 1}, "webp lossless": {1, 1}, "pdf": {612, 792}}
	for name, src := range samples(t, 1600, 1200) {
		t.Run(name, func(t *testing.T) {
			imgs, err := r.Render(context.Background(), "", src, files.PreviewSizes)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != len(files.PreviewSizes) {
				t.Fatalf("%d previews", len(imgs))
			}
			sw, sh := want[name][0], want[name][1]
			for i, img := range imgs {
				size := files.PreviewSizes[i]
				got, err := jpeg.Decode(bytes.NewReader(img.Bytes))
				if err != nil || img.Type != "image/jpeg" || img.Size != size {
					t.Fatalf("preview %d: %s, %v", size, img.Type, err)
				}
				b := got.Bounds()
				long := max(b.Dx(), b.Dy())
				wantLong := min(size, max(sw, sh))
				if name == "pdf" {
					wantLong = size // vector: drawn at each size
				}
				if b.Dx() != img.Width || b.Dy() != img.Height || abs(long-wantLong) > 1 ||
					abs(b.Dx()*sh-b.Dy()*sw) > max(sw, sh) {
					t.Fatalf("preview %d is %d × %d (said %d × %d); the source is %d × %d", size, b.Dx(), b.Dy(), img.Width, img.Height, sw, sh)
				}
			}
			if name == "pdf" { // the red rectangle is drawn
				big, _ := jpeg.Decode(bytes.NewReader(imgs[2].Bytes))
				if r, g, _, _ := big.At(big.Bounds().Dx()/3, big.Bounds().Dy()/2).RGBA(); r>>8 < 180 || g>>8 > 80 {
					t.Fatalf("the PDF's page is not drawn: %v", big.At(big.Bounds().Dx()/3, big.Bounds().Dy()/2))
				}
			}
		})
	}
}

// TestOrientationAndMetadata: a photo whose EXIF says "turned a quarter"
// is previewed upright (its sides swapped, its green top row on the
// right... of the stored pixels, so on top of the preview), and the
// preview carries no EXIF (no GPS position).
func TestOrientationAndMetadata(t *testing.T) {
	t.Parallel()
	// stored sideways: what the camera's sensor saw, turned a quarter
	// counter-clockwise; orientation 6 says "turn it clockwise to view"
	upright := picture(400, 300)
	stored := image.NewNRGBA(image.Rect(0, 0, 300, 400))
	for y := range 300 {
		for x := range 400 {
			stored.Set(y, 399-x, upright.At(x, y))
		}
	}
	src := withOrientation(encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, stored, nil) }), 6)
	imgs, err := (&render.Renderer{}).Render(context.Background(), "image/jpeg", src, []int{256})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(imgs[0].Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != 256 || b.Dy() != 192 {
		t.Fatalf("an orientation-6 photo of 300 × 400 stored pixels previews at %d × %d, want 256 × 192", b.Dx(), b.Dy())
	}
	dominant := func(x, y int) string {
		r, g, b, _ := got.At(x, y).RGBA()
		switch {
		case r > g && r > b:
			return "red"
		case g > r && g > b:
			return "green"
		}
		return "blue"
	}
	if top, left, right := dominant(128, 5), dominant(40, 150), dominant(216, 150); top != "green" || left != "red" || right != "blue" {
		t.Fatalf("the preview is not upright: top %s, left %s, right %s", top, left, right)
	}
	if bytes.Contains(imgs[0].Bytes, []byte("Exif")) || bytes.Contains(imgs[0].Bytes, []byte("GPS")) {
		t.Fatal("the preview carries the photo's metadata")
	}
}

// pngBomb is a PNG whose header claims w × h pixels (its data a few
// bytes): a decompression bomb's first line.
func pngBomb(t testing.TB, w, h uint32) []byte {
	src := encode(t, func(b *bytes.Buffer) error { return png.Encode(b, image.NewGray(image.Rect(0, 0, 1, 1))) })
	binary.BigEndian.PutUint32(src[16:], w)
	binary.BigEndian.PutUint32(src[20:], h)
	binary.BigEndian.PutUint32(src[29:], crc32.ChecksumIEEE(src[12:29]))
	return src
}

// TestRefusesBombsAndJunk: pictures over the pixel limits are refused
// from their header, before any pixel is decoded (quickly, and with no
// memory spent); bytes that are no picture are unsupported.
func TestRefusesBombsAndJunk(t *testing.T) {
	norace.Run(t) // the broken PDF starts pdfium: its WebAssembly compiles past previews.Timeout under -race on a busy machine
	t.Parallel()
	r := &render.Renderer{}
	for name, src := range map[string][]byte{
		"100k × 100k PNG": pngBomb(t, 100_000, 100_000),
		"9000 × 9000 PNG": pngBomb(t, 9000, 9000),
		"a strip":         pngBomb(t, 40_000, 2),
	} {
		start := time.Now()
		if _, err := r.Render(context.Background(), "image/png", src, files.PreviewSizes); !errors.Is(err, previews.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Logf("%s: refused after %s", name, d) // reported, not asserted: CI machines vary
		}
	}
	for name, src := range map[string][]byte{
		"text":          []byte("just some text, no picture"),
		"truncated PNG": samples(t, 640, 480)["png"][:400],
		"a broken PDF":  []byte("%PDF-1.4\nnothing else"),
	} {
		if _, err := r.Render(context.Background(), "", src, files.PreviewSizes); !errors.Is(err, previews.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}

func TestRenders(t *testing.T) {
	t.Parallel()
	r := &render.Renderer{}
	for _, c := range []struct {
		mime, ext string
		want      bool
	}{{"image/jpeg", "jpg", true}, {"application/octet-stream", "png", true}, {"application/pdf", "", true},
		{"image/svg+xml", "svg", false}, {"text/plain", "txt", false}, {"video/mp4", "mp4", false}} {
		if got := r.Renders(c.mime, c.ext); got != c.want {
			t.Errorf("Renders(%s, %s) = %v", c.mime, c.ext, got)
		}
	}
}

// FuzzRender: hostile bytes never crash the renderer (a decoder's panic
// is an error) and are refused with one of its errors or rendered.
func FuzzRender(f *testing.F) {
	for name, src := range samples(f, 64, 48) {
		if name != "pdf" { // pdfium's own fuzzing covers it; its WebAssembly start is slow per input
			f.Add(src)
		}
	}
	f.Add(pngBomb(f, 70_000, 70_000))
	r := &render.Renderer{MaxPixels: 1 << 20} // each input cheap: a header may claim any size up to the bound
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.Contains(src[:min(len(src), 1024)], []byte("%PDF-")) {
			t.Skip() // pdfium's own fuzzing covers it; its WebAssembly start is slow per input
		}
		_, err := r.Render(context.Background(), "", src, []int{64})
		if err != nil && !errors.Is(err, previews.ErrUnsupported) && !errors.Is(err, previews.ErrTooLarge) {
			t.Fatalf("an error of no known kind: %v", err)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestRendersHEICAndAVIF: an iPhone's HEIC photo (a real sample: no
// encoder exists here) and an AVIF made by libavif's encoder become
// previews like any other picture.
func TestRendersHEICAndAVIF(t *testing.T) {
	norace.Run(t) // pure Go and WebAssembly decoders: 7× under -race, per pixel
	t.Parallel()
	heic := heicSample(t)
	avifSrc := encode(t, func(b *bytes.Buffer) error {
		return avif.Encode(b, picture(320, 240), avif.Options{Quality: 60, Speed: 10})
	})
	r := &render.Renderer{}
	for name, src := range map[string][]byte{"heic": heic, "avif": avifSrc} {
		if !r.Renders("image/"+name, name) {
			t.Fatalf("%s is not rendered", name)
		}
		imgs, err := r.Render(context.Background(), "image/"+name, src, files.PreviewSizes)
		if err != nil || len(imgs) != 3 {
			t.Fatalf("%s: %d previews, %v", name, len(imgs), err)
		}
		if got, err := jpeg.Decode(bytes.NewReader(imgs[1].Bytes)); err != nil || max(got.Bounds().Dx(), got.Bounds().Dy()) != 256 {
			t.Fatalf("%s: the 256 px preview: %v, %v", name, got.Bounds(), err)
		}
	}
}
