package data

import "fmt"

// Augment is the random data augmentation a [Loader] applies to each
// training image before normalising it, as torchvision's
// RandomCrop(size, padding=CropPad) followed by RandomHorizontalFlip().
// The zero value applies none.
type Augment struct {
	// CropPad > 0 pads the image with CropPad black (zero) pixels on every
	// side and crops a uniformly random H×W window of the padded image: the
	// image shifts by -CropPad..CropPad pixels in each direction, and what
	// comes in from outside is black, as when torchvision pads the PIL image
	// with 0 before ToTensor.
	CropPad int `json:"crop_pad"`
	// Flip mirrors the (cropped) image left to right with probability 1/2.
	Flip bool `json:"flip"`
}

// DefaultAugment is the augmentation usually trained with on the named
// dataset: random crop with padding 4 and horizontal flip for "cifar10" and
// "imagefolder" (the standard CIFAR-10 recipe); none for the MNIST-style
// datasets ("mnist", "fashion-mnist") and their RGB views ("mnist-rgb32",
// "fashion-mnist-rgb32"), which are trained without augmentation, and for
// which a flip turns digits into other shapes. Unknown names get none.
func DefaultAugment(dataset string) Augment {
	switch dataset {
	case "cifar10", "imagefolder":
		return Augment{CropPad: 4, Flip: true}
	}
	return Augment{}
}

// String describes the augmentation as torchvision transforms, e.g.
// "RandomCrop(padding=4)+RandomHorizontalFlip" or "none".
func (a Augment) String() string {
	switch {
	case a.CropPad > 0 && a.Flip:
		return fmt.Sprintf("RandomCrop(padding=%d)+RandomHorizontalFlip", a.CropPad)
	case a.CropPad > 0:
		return fmt.Sprintf("RandomCrop(padding=%d)", a.CropPad)
	case a.Flip:
		return "RandomHorizontalFlip"
	}
	return "none"
}

// AugmentDraw is one random draw of an [Augment]: output pixel (y, x) of
// an H×W image is input pixel (y+DY, x'+DX), with x' = W-1-x when Flip is
// set and x' = x otherwise, or black when that lies outside the image.
// The zero value leaves an image unchanged.
type AugmentDraw struct {
	DY, DX int // the crop window's shift, in -CropPad..CropPad
	Flip   bool
}

// streamAugment keeps the augmentation's draws independent of the loader's
// shuffle and of RandomSubset under the same seed.
const streamAugment = 0x6175676d656e74 // "augment"

// Draw returns the augmentation of the image at position in an epoch's
// order (the Loader's Order(epoch)[position]). It depends only on seed,
// epoch and position, so batches are the same whatever the batch size,
// goroutine count or GOMAXPROCS. Positions must lie below 2³².
func (a Augment) Draw(seed uint64, epoch, position int) AugmentDraw {
	var d AugmentDraw
	if a.CropPad <= 0 && !a.Flip {
		return d
	}
	r := newRand(seed, streamAugment, uint64(epoch)<<32+uint64(uint32(position)))
	if a.CropPad > 0 {
		span := uint64(2*a.CropPad + 1)
		// torchvision draws the top offset, then the left one.
		d.DY = int(uint64n(r, span)) - a.CropPad
		d.DX = int(uint64n(r, span)) - a.CropPad
	}
	if a.Flip {
		d.Flip = r.Uint64()>>63 == 1
	}
	return d
}

// Apply writes the augmented copy of src, an H×W×C (HWC) image, to dst.
// dst and src must have length H·W·C and must not overlap. It does not
// allocate.
func (d AugmentDraw) Apply(dst, src []uint8, h, w, c int) {
	n := h * w * c
	if h <= 0 || w <= 0 || c <= 0 || len(src) != n || len(dst) != n {
		panic(fmt.Sprintf("data: augment: %d-byte image into %d bytes, want H×W×C = %d×%d×%d = %d", len(src), len(dst), h, w, c, n))
	}
	row := w * c
	// The output columns [x0, x1) come from inside the image.
	x0, x1 := max(0, -d.DX), min(w, w-d.DX)
	if d.Flip {
		x0, x1 = max(0, d.DX), min(w, w+d.DX)
	}
	x0, x1 = min(x0, w), max(x1, min(x0, w))
	for y := range h {
		out := dst[y*row : (y+1)*row : (y+1)*row]
		sy := y + d.DY
		if sy < 0 || sy >= h {
			clear(out)
			continue
		}
		in := src[sy*row : (sy+1)*row : (sy+1)*row]
		clear(out[:x0*c])
		clear(out[x1*c:])
		if x0 == x1 {
			continue
		}
		if !d.Flip {
			copy(out[x0*c:x1*c], in[(x0+d.DX)*c:(x1+d.DX)*c])
			continue
		}
		// Output column x reads input column w-1-x+DX.
		switch c {
		case 1:
			for x := x0; x < x1; x++ {
				out[x] = in[w-1-x+d.DX]
			}
		case 3:
			for x := x0; x < x1; x++ {
				s := in[3*(w-1-x+d.DX) : 3*(w-1-x+d.DX)+3 : 3*(w-1-x+d.DX)+3]
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = s[0], s[1], s[2]
			}
		default:
			for x := x0; x < x1; x++ {
				copy(out[x*c:(x+1)*c], in[(w-1-x+d.DX)*c:(w-x+d.DX)*c])
			}
		}
	}
}
