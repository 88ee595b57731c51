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
