// Package render makes previews: JPEG images of a picture (JPEG, PNG,
// GIF's first frame, WebP, BMP, TIFF — pure-Go decoders; AVIF and HEIC —
// libavif and libheif compiled to WebAssembly) or of a PDF's first page
// (pdfium compiled to WebAssembly, run by wazero: no cgo), at
// a few sizes on the long edge. The format is read from the bytes, never
// from the name; the pixel count is checked before any pixel is decoded
// (a decompression bomb is refused at its header); EXIF orientation is
// honoured and no metadata is carried over (re-encoded pixels only: no
// GPS position in a preview).
package render

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // decoders, registered with package image
	"image/jpeg"
	_ "image/png"
	"slices"
	"strings"

	xdraw "golang.org/x/image/draw"

	_ "github.com/gen2brain/avif" // libavif (dav1d) compiled to WebAssembly
	_ "github.com/gen2brain/heic" // libheif (libde265) compiled to WebAssembly
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/anexo/anexo/shared/domain/previews"
)

// Limits of one render.
const (
	// MaxPixels is the largest picture decoded: 64 megapixels (a 48 or 50
	// megapixel phone photo fits; 16-bit RGBA at this size is 512 MiB).
	MaxPixels = 64_000_000
	// MaxSide bounds either side (a 1 × 60,000,000 strip is no picture).
	MaxSide = 30_000
	// Quality is the previews' JPEG quality.
	Quality = 80
)

// Renderer renders previews; its zero value is ready.
type Renderer struct {
	// MaxPixels overrides the package's MaxPixels when set (fuzzing uses a
	// smaller bound, so each input stays cheap).
	MaxPixels int
}

// pdf is the process's one pdfium runtime, started by the first PDF.
var pdf pdfEngine

// media are the types and extensions rendered.
var media = map[string]string{
	"image/jpeg": "jpg jpeg jpe jfif", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
	"image/bmp": "bmp", "image/x-ms-bmp": "bmp", "image/tiff": "tif tiff", "application/pdf": "pdf",
	"image/avif": "avif", "image/heic": "heic", "image/heif": "heif hif",
}

// Renders reports whether a media type (or, for a generic one, the
// file's extension) is one the renderer reads.
func (r *Renderer) Renders(mimeType, ext string) bool {
	if _, ok := media[strings.ToLower(mimeType)]; ok {
		return true
	}
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	for _, exts := range media {
		if ext != "" && slices.Contains(strings.Fields(exts), ext) {
			return true
		}
	}
	return false
}

// Render decodes src (its format read from its bytes) and scales it to
// each size: previews.ErrUnsupported for bytes it cannot read,
// previews.ErrTooLarge past MaxPixels or MaxSide, ctx's error when it
// runs out of time (previews.Timeout at most).
func (r *Renderer) Render(ctx context.Context, _ string, src []byte, sizes []int) ([]previews.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, previews.Timeout)
	defer cancel()
	var (
		img    image.Image
		orient = 1
		err    error
	)
	if isPDF(src) {
		img, err = pdf.firstPage(ctx, src, slices.Max(sizes))
	} else {
		limit := MaxPixels
		if r.MaxPixels > 0 {
			limit = r.MaxPixels
		}
		img, orient, err = decode(ctx, src, limit)
	}
	if err != nil {
		return nil, err
	}
	return scaleAll(img, orient, sizes)
}

func isPDF(src []byte) bool {
	return bytes.Contains(src[:min(len(src), 1024)], []byte("%PDF-"))
}

// decode reads a picture's header, refuses one over the limits, then
// decodes its pixels (abandoned when ctx ends) and reads its orientation.
func decode(ctx context.Context, src []byte, maxPixels int) (image.Image, int, error) {
	var (
		cfg    image.Config
		format string
	)
	err := safely(func() (err error) {
		cfg, format, err = image.DecodeConfig(bytes.NewReader(src))
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", previews.ErrUnsupported, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide || cfg.Width*cfg.Height > maxPixels {
		return nil, 0, fmt.Errorf("%w: a %s of %d × %d pixels", previews.ErrTooLarge, format, cfg.Width, cfg.Height)
	}
	img, err := inTime(ctx, func() (img image.Image, err error) {
		img, _, err = image.Decode(bytes.NewReader(src))
		return img, err
	}, func() {}) // the decoder runs on, its result dropped
	if ctx.Err() != nil {
		return nil, 0, ctx.Err()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", previews.ErrUnsupported, format, err)
	}
	return img, orientation(format, src), nil
}

// inTime runs work on its own goroutine, a panic in it an error: when ctx
// ends first, abandon is called and ctx's error answered.
func inTime(ctx context.Context, work func() (image.Image, error), abandon func()) (image.Image, error) {
	type result struct {
		img image.Image
		err error
	}
	done := make(chan result, 1)
	go func() {
		var img image.Image
		err := safely(func() (err error) {
			img, err = work()
			return err
		})
		done <- result{img, err}
	}()
	select {
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	case res := <-done:
		return res.img, res.err
	}
}

// scaleAll renders img at each size, oriented: the largest from img (a
// fast bilinear pass to twice the size, then Catmull-Rom), the others
// from the largest. Transparency is flattened onto white.
func scaleAll(img image.Image, orient int, sizes []int) ([]previews.Image, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if orient >= 5 { // rotated a quarter turn: the picture's sides swap
		w, h = h, w
	}
	order := slices.Clone(sizes)
	slices.Sort(order)
	slices.Reverse(order)
	var (
		out    []previews.Image
		source = img
	)
	for _, size := range order {
		tw, th := fit(w, h, size)
		if orient >= 5 {
			tw, th = th, tw // scaled before it is turned
		}
		scaled := scale(source, tw, th)
		if source == img {
			source = scaled
		}
		pic := turn(scaled, orient)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, pic, &jpeg.Options{Quality: Quality}); err != nil {
			return nil, err
		}
		pb := pic.Bounds()
		out = append(out, previews.Image{Size: size, Width: pb.Dx(), Height: pb.Dy(), Type: "image/jpeg", Bytes: buf.Bytes()})
	}
	slices.SortFunc(out, func(a, b previews.Image) int { return a.Size - b.Size })
	return out, nil
}

// fit is w × h scaled so its long edge is size, never enlarged.
func fit(w, h, size int) (int, int) {
	long := max(w, h)
	if long <= size {
		return w, h
	}
	return max(1, (w*size+long/2)/long), max(1, (h*size+long/2)/long)
}

// scale draws src into a white tw × th canvas.
func scale(src image.Image, tw, th int) *image.RGBA {
	sb := src.Bounds()
	if sb.Dx() > 2*tw && sb.Dy() > 2*th { // a cheap pass first: Catmull-Rom over every source pixel is slow
		mid := image.NewRGBA(image.Rect(0, 0, 2*tw, 2*th))
		xdraw.BiLinear.Scale(mid, mid.Bounds(), src, sb, xdraw.Src, nil)
		src, sb = mid, mid.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	if o, ok := src.(interface{ Opaque() bool }); ok && o.Opaque() {
		// nothing to flatten: the scaler's fast paths (YCbCr, RGBA) take Src
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, xdraw.Src, nil)
		return dst
	}
	draw.Draw(dst, dst.Bounds(), &image.Uniform{C: color.White}, image.Point{}, draw.Src)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, xdraw.Over, nil)
	return dst
}

// safely runs a decoder, turning its panic on hostile bytes into an
// error: one bad file never takes the function down.
func safely(decode func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the decoder failed: %v", p)
		}
	}()
	return decode()
}
