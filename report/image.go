package report

import (
	"fmt"
	"image"
	"image/png"
	"io"

	"ebyd/internal/atomicfile"
)

// Picture is an image in HWC byte order, 1 (gray) or 3 (RGB) channels.
type Picture struct {
	Pix     []uint8
	H, W, C int
}

// Scaled returns p enlarged k times by repeating pixels, so that small
// images and single-pixel triggers stay visible and exact.
func (p Picture) Scaled(k int) Picture {
	q := Picture{H: p.H * k, W: p.W * k, C: p.C}
	q.Pix = make([]uint8, q.H*q.W*q.C)
	for y := range q.H {
		for x := range q.W {
			copy(q.Pix[(y*q.W+x)*q.C:][:q.C], p.Pix[((y/k)*p.W+x/k)*p.C:][:p.C])
		}
	}
	return q
}

// Diff returns |a−b| per byte, stretched so that the largest difference is
// white: where and how a trigger changed an image, even an invisible one.
// Identical images give black.
func Diff(a, b Picture) Picture {
	d := Picture{H: a.H, W: a.W, C: a.C, Pix: make([]uint8, len(a.Pix))}
	var top int
	for i := range a.Pix {
		v := int(a.Pix[i]) - int(b.Pix[i])
		if v < 0 {
			v = -v
		}
		d.Pix[i] = uint8(v)
		top = max(top, v)
	}
	if top > 0 {
		for i, v := range d.Pix {
			d.Pix[i] = uint8(int(v) * 255 / top)
		}
	}
	return d
}

// Image returns p as a Go image.
func (p Picture) Image() (image.Image, error) {
	if len(p.Pix) != p.H*p.W*p.C {
		return nil, fmt.Errorf("report: %d bytes for a %d×%d×%d picture", len(p.Pix), p.H, p.W, p.C)
	}
	r := image.Rect(0, 0, p.W, p.H)
	switch p.C {
	case 1:
		g := image.NewGray(r)
		copy(g.Pix, p.Pix)
		return g, nil
	case 3:
		m := image.NewNRGBA(r)
		for i := range p.H * p.W {
			copy(m.Pix[4*i:4*i+3], p.Pix[3*i:3*i+3])
			m.Pix[4*i+3] = 255
		}
		return m, nil
	}
	return nil, fmt.Errorf("report: %d channels; pictures have 1 or 3", p.C)
}

// WritePNG writes p to path as a PNG, atomically.
func (p Picture) WritePNG(path string) error {
	m, err := p.Image()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, m) })
}
