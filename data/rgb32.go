package data

import (
	"fmt"
	"slices"
)

// rgb32Side is the side of the RGB views' images, CIFAR-10's.
const rgb32Side = 32

// RGB32 returns the 32×32 RGB view of a grayscale dataset whose images are
// at most 32×32, such as MNIST or Fashion-MNIST, for models built for
// CIFAR-10-shaped input. Each image is centred on a black (zero) 32×32
// canvas — a 28×28 image gains 2 zero pixels on every side, as torchvision's
// Pad(2) — and its gray value is copied to all three channels, as
// Grayscale(3) does. Mean and Std are repeated for every channel, so each
// pixel normalises to the value it has in the gray dataset. The name gains
// "-rgb32"; labels and class names are kept. d is not modified.
func RGB32(d *Dataset) (*Dataset, error) {
	if d.C != 1 || d.H > rgb32Side || d.W > rgb32Side || d.H <= 0 || d.W <= 0 {
		return nil, fmt.Errorf("data: %s: the RGB view needs grayscale images of at most %d×%d, not %d×%d×%d",
			d.Name, rgb32Side, rgb32Side, d.H, d.W, d.C)
	}
	if len(d.Images) != d.N*d.ImageSize() || len(d.Labels) != d.N {
		return nil, d.Validate()
	}
	v := d.withoutData(d.N)
	v.Name = d.Name + "-rgb32"
	v.H, v.W, v.C = rgb32Side, rgb32Side, 3
	v.Labels = slices.Clone(d.Labels)
	v.Mean = repeat3(d.Mean)
	v.Std = repeat3(d.Std)
	v.Images = make([]uint8, d.N*v.ImageSize()) // zero: the padding is black
	top, left := (rgb32Side-d.H)/2, (rgb32Side-d.W)/2
	for i := range d.N {
		src, dst := d.Image(i), v.Image(i)
		for y := range d.H {
			row := src[y*d.W : (y+1)*d.W]
			out := dst[((top+y)*rgb32Side+left)*3 : ((top+y)*rgb32Side+left+d.W)*3]
			for x, b := range row {
				p := out[3*x : 3*x+3 : 3*x+3]
				p[0], p[1], p[2] = b, b, b
			}
		}
	}
	return v, nil
}

// repeat3 repeats a one-channel normalisation value for three channels
// (empty stays empty).
func repeat3(v []float32) []float32 {
	if len(v) == 0 {
		return nil
	}
	return slices.Repeat(v[:1], 3)
}

// rgb32View turns a grayscale dataset's loader into its RGB32 view's; the
// directory argument means what it means for the base dataset.
func rgb32View(base loadFunc) loadFunc {
	return func(dir string) (train, test *Dataset, err error) {
		train, test, err = base(dir)
		if err != nil {
			return nil, nil, err
		}
		if train, err = RGB32(train); err != nil {
			return nil, nil, err
		}
		if test, err = RGB32(test); err != nil {
			return nil, nil, err
		}
		return train, test, nil
	}
}
