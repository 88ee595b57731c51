package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// FuzzDecodeImage drives the image folder's decoding of one file (PNG or
// JPEG, recognised by its first bytes) on hostile bytes: no panic, an error
// that is the reader's own, and an accepted image that fills its buffer.
// The size is taken from the header as the loader does for the first
// image, and checked against a fixed 4×4 as for every later one.
func FuzzDecodeImage(f *testing.F) {
	enc := func(img image.Image, jpg bool) []byte {
		var buf bytes.Buffer
		var err error
		if jpg {
			err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
		} else {
			err = png.Encode(&buf, img)
		}
		if err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 150, 100, 255}})
	deep := image.NewRGBA64(image.Rect(0, 0, 4, 3))
	deep.SetRGBA64(1, 1, color.RGBA64{0x1234, 0x5678, 0x9abc, 0x8000})
	for _, img := range []image.Image{rgbImage(4, 4, 255, distinct(0)), rgbImage(4, 4, 128, distinct(7)),
		grayImage(4, 4, func(x, y int) uint8 { return uint8(x * y) }), pal, deep} {
		f.Add(enc(img, false))
		f.Add(enc(img, true))
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xff, 0xd8})
	f.Fuzz(func(t *testing.T, b []byte) {
		wantErr := func(err error) {
			if !strings.HasPrefix(err.Error(), `data: imagefolder: "fuzz`) {
				t.Fatalf("error without the reader's prefix: %v", err)
			}
		}
		cfg, err := decodeImageConfig("fuzz", b)
		if err != nil {
			wantErr(err)
			return
		}
		if cfg.Width < 0 || cfg.Height < 0 {
			t.Fatalf("header says %d×%d", cfg.Width, cfg.Height)
		}
		// The loader accepts up to maxImagePixels; a smaller bound keeps
		// the fuzzer fast and still covers every decoding path.
		if cfg.Width*cfg.Height <= 1<<16 {
			dst := make([]uint8, 3*cfg.Width*cfg.Height)
			if err := decodeImage(dst, "fuzz", b, imageRef{path: "fuzz-first", w: cfg.Width, h: cfg.Height}); err != nil {
				wantErr(err)
			}
		}
		dst := make([]uint8, 3*4*4)
		if err := decodeImage(dst, "fuzz", b, imageRef{path: "fuzz-ref", w: 4, h: 4}); err != nil {
			wantErr(err)
		}
	})
}
