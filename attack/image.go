package attack

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders for ReadImage
	"path/filepath"

	"ebyd/internal/userfile"
)

// ReadImage reads a trigger pattern or mask from a PNG or JPEG file:
// gray images give one channel, anything else three (RGB; alpha is dropped).
func ReadImage(path string) (*Image, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG or JPEG image: %w", filepath.Base(path), err)
	}
	return FromImage(m), nil
}

// FromImage converts a decoded image: gray models give one channel,
// any other three.
func FromImage(m image.Image) *Image {
	b := m.Bounds()
	im := &Image{H: b.Dy(), W: b.Dx(), C: 3}
	switch m.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		im.C = 1
	}
	im.Pix = make([]uint8, 0, im.H*im.W*im.C)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if im.C == 1 {
				im.Pix = append(im.Pix, color.GrayModel.Convert(m.At(x, y)).(color.Gray).Y)
				continue
			}
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			im.Pix = append(im.Pix, c.R, c.G, c.B)
		}
	}
	return im
}
