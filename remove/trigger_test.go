package remove

import (
	"math"
	"testing"

	"ebyd/data"
	"ebyd/tensor"
)

func TestTriggerStamp(t *testing.T) {
	// 2×2 RGB images; the mask covers pixel 0 fully and pixel 3 by half.
	tr := &Trigger{H: 2, W: 2, C: 3, Mask: []float32{1, 0, 0, 0.5},
		Pattern: []float32{1, 0, 0.5, 0, 0, 0, 0, 0, 0, 0.2, 0.4, 0.6}}
	ds := &data.Dataset{H: 2, W: 2, C: 3, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.5, 1}}
	if err := tr.check(ds); err != nil {
		t.Fatal(err)
	}
	x := tensor.New(3, 3, 2, 2) // three images, all zero (the mean)
	tr.stamp(x, 2, tr.normalised(ds))
	for i := range 3 {
		for c := range 3 {
			for p := range 4 {
				got := x.Data[(i*3+c)*4+p]
				want := float32(0)
				if i < 2 {
					raw := tr.Mask[p]*tr.Pattern[p*3+c] + (1-tr.Mask[p])*ds.Mean[c]
					want = (raw - ds.Mean[c]) / ds.Std[c]
				}
				if math.Abs(float64(got-want)) > 1e-6 {
					t.Errorf("image %d channel %d pixel %d: %g, want %g", i, c, p, got, want)
				}
			}
		}
	}
	if err := (&Trigger{H: 2, W: 2, C: 1, Mask: make([]float32, 4), Pattern: make([]float32, 4)}).check(ds); err == nil {
		t.Error("a gray trigger for RGB images passed the check")
	}
}
