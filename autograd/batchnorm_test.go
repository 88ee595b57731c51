package autograd

import (
	"math"
	"testing"

	"ebyd/tensor"
)

func TestBatchNorm2dGrad(t *testing.T) {
	for _, training := range []bool{true, false} {
		x := RandVar(1, true, 3, 4, 2, 3)
		g := RandVar(2, true, 4)
		b := RandVar(3, true, 4)
		rm, rv := tensor.New(4), tensor.Full(1.5, 4)
		f := func() *Var {
			// Fresh running stats each call: the update must not change the output.
			return BatchNorm2d(x, g, b, rm.Clone(), rv.Clone(), BatchNormOpts{Training: training, Momentum: 0.1, Eps: 1e-5})
		}
		if err := CheckGrad(f, []*Var{x, g, b}, 1e-2, 2e-2); err != nil {
			t.Fatalf("training=%v: %v", training, err)
		}
	}
}

func TestBatchNorm2dRunningStats(t *testing.T) {
	// One channel, values 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3.
	x := Const(tensorOf([]float32{1, 2, 3, 4}, 1, 1, 2, 2))
	rm, rv := tensor.New(1), tensor.Full(1, 1)
	y := BatchNorm2d(x, nil, nil, rm, rv, BatchNormOpts{Training: true, Momentum: 0.1, Eps: 0})
	if math.Abs(float64(rm.Data[0])-0.25) > 1e-6 || math.Abs(float64(rv.Data[0])-(0.9+0.1*5.0/3)) > 1e-6 {
		t.Fatalf("running stats %v %v", rm.Data, rv.Data)
	}
	want := (1 - 2.5) / math.Sqrt(1.25)
	if math.Abs(float64(y.Value.Data[0])-want) > 1e-6 {
		t.Fatalf("y[0]=%v want %v", y.Value.Data[0], want)
	}
}

// TestBatchNorm2dFusedReLU: the fused form equals BatchNorm then ReLU, in
// values and gradients, and passes a gradient check itself.
func TestBatchNorm2dFusedReLU(t *testing.T) {
	for _, training := range []bool{true, false} {
		x := RandVar(11, true, 3, 4, 3, 2)
		g := RandVar(12, true, 4)
		b := RandVar(13, true, 4)
		run := func(fused bool) (*Var, []float32, []float32, []float32) {
			for _, v := range []*Var{x, g, b} {
				v.ZeroGrad()
			}
			o := BatchNormOpts{Training: training, Momentum: 0.1, Eps: 1e-5, ReLU: fused}
			y := BatchNorm2d(x, g, b, tensor.New(4), tensor.Full(1.5, 4), o)
			if !fused {
				y = ReLU(y)
			}
			w := RandVar(14, false, y.Value.Shape...)
			BackwardWith(y, w.Value)
			return y, x.Grad.Data, g.Grad.Data, b.Grad.Data
		}
		y1, dx1, dg1, db1 := run(true)
		y2, dx2, dg2, db2 := run(false)
		for name, pair := range map[string][2][]float32{"y": {y1.Value.Data, y2.Value.Data}, "dx": {dx1, dx2}, "dgamma": {dg1, dg2}, "dbeta": {db1, db2}} {
			for i := range pair[0] {
				if math.Abs(float64(pair[0][i]-pair[1][i])) > 1e-6 {
					t.Fatalf("training=%v %s[%d]: fused %v, unfused %v", training, name, i, pair[0][i], pair[1][i])
				}
			}
		}
		f := func() *Var {
			return BatchNorm2d(x, g, b, tensor.New(4), tensor.Full(1.5, 4), BatchNormOpts{Training: training, Momentum: 0.1, Eps: 1e-5, ReLU: true})
		}
		if err := CheckGrad(f, []*Var{x, g, b}, 1e-3, 2e-2); err != nil {
			t.Fatalf("training=%v: %v", training, err)
		}
	}
}
