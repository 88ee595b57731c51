package attack

import "fmt"

// OnePixel is the one-pixel trigger of the EBYD seed (onePixelTrigger, from
// the authors' multi-trigger attack pool): the centre pixel, row H/2 and
// column W/2 (integer division: row and column 16 of a 32×32 image, 14 of a
// 28×28 one), is set to Value in every channel. The seed sets it to 255; so
// does the default here. No other pixel changes.
type OnePixel struct {
	Value int `json:"value"` // the byte written to every channel of the centre pixel, 0–255
	p     int // byte offset of the centre pixel
	c     int
}

func init() { register("onepixel", func() Trigger { return &OnePixel{Value: 255} }) }

// Prepare implements Trigger.
func (o *OnePixel) Prepare(s Shape) error {
	if o.Value < 0 || o.Value > 255 {
		return fmt.Errorf("value %d: must be a byte, 0 to 255", o.Value)
	}
	o.p, o.c = (s.H/2*s.W+s.W/2)*s.C, s.C
	return nil
}

// Apply implements Trigger.
func (o *OnePixel) Apply(img []uint8) {
	for c := range o.c {
		img[o.p+c] = uint8(o.Value)
	}
}
