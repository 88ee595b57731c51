package attack

import "fmt"

// OnePixel is the one-pixel trigger of the EBYD seed (onePixelTrigger, from
// the authors' multi-trigger attack pool): the centre pixel, row H/2 and
// column W/2 (integer division: row and column 16 of a 32×32 image, 14 of a
// 28×28 one), is set to Value in every channel. The seed sets it to 255; so
// does the default here. No other pixel changes.
//
// Row and Col move the pixel (−1, the default, means the centre; Prepare
// records the position it used). On digits the centre is often part of the
// stroke and already white, so the default trigger is invisible on many
// images; a background pixel (e.g. row 2, column 2) is not.
type OnePixel struct {
	Value int `json:"value"` // the byte written to every channel of the pixel, 0–255
	Row   int `json:"row"`
	Col   int `json:"col"`
	p     int // byte offset of the pixel
	c     int
}

func init() { register("onepixel", func() Trigger { return &OnePixel{Value: 255, Row: -1, Col: -1} }) }

// Prepare implements Trigger.
func (o *OnePixel) Prepare(s Shape) error {
	if o.Value < 0 || o.Value > 255 {
		return fmt.Errorf("value %d: must be a byte, 0 to 255", o.Value)
	}
	if o.Row == -1 {
		o.Row = s.H / 2
	}
	if o.Col == -1 {
		o.Col = s.W / 2
	}
	if o.Row < 0 || o.Row >= s.H || o.Col < 0 || o.Col >= s.W {
		return fmt.Errorf("pixel (%d, %d) is outside a %d×%d image", o.Row, o.Col, s.H, s.W)
	}
	o.p, o.c = (o.Row*s.W+o.Col)*s.C, s.C
	return nil
}

// Apply implements Trigger.
func (o *OnePixel) Apply(img []uint8) {
	for c := range o.c {
		img[o.p+c] = uint8(o.Value)
	}
}
