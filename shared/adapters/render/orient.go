package render

import (
	"bytes"
	"encoding/binary"
	"image"
)

// orientation reads the EXIF orientation (1–8; 1 when none) of a JPEG,
// a TIFF or a WebP.
func orientation(format string, src []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegEXIF(src)
	case "tiff":
		tiff = src
	case "webp":
		tiff = webpEXIF(src)
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// jpegEXIF finds the TIFF data of a JPEG's APP1 Exif segment.
func jpegEXIF(src []byte) []byte {
	for i := 2; i+4 <= len(src) && src[i] == 0xFF; {
		marker, n := src[i+1], int(binary.BigEndian.Uint16(src[i+2:]))
		if marker == 0xDA || n < 2 || i+2+n > len(src) { // the scan: no metadata after it
			return nil
		}
		seg := src[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// webpEXIF finds a WebP's EXIF chunk.
func webpEXIF(src []byte) []byte {
	if len(src) < 12 || string(src[:4]) != "RIFF" || string(src[8:12]) != "WEBP" {
		return nil
	}
	for i := 12; i+8 <= len(src); {
		n := int(binary.LittleEndian.Uint32(src[i+4:]))
		if n < 0 || i+8+n > len(src) {
			return nil
		}
		if string(src[i:i+4]) == "EXIF" {
			return bytes.TrimPrefix(src[i+8:i+8+n], []byte("Exif\x00\x00"))
		}
		i += 8 + n + n%2
	}
	return nil
}

// tiffOrientation reads tag 0x0112 of a TIFF structure's first IFD (0:
// none or unreadable).
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[ifd:]))
	for e := 0; e < n; e++ {
		at := ifd + 2 + 12*e
		if at+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[at:]) == 0x0112 && bo.Uint16(t[at+2:]) == 3 { // SHORT
			return int(bo.Uint16(t[at+8:]))
		}
	}
	return 0
}

// turn applies an EXIF orientation to img, so it shows upright.
func turn(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // turned half
				dx, dy = w-1-x, h-1-y
			case 4: // upside down, mirrored
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // turned a quarter clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // turned a quarter counter-clockwise
				dx, dy = y, w-1-x
			}
			i, j := img.PixOffset(b.Min.X+x, b.Min.Y+y), out.PixOffset(dx, dy)
			copy(out.Pix[j:j+4], img.Pix[i:i+4])
		}
	}
	return out
}
