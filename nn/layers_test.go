package nn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/nn"
	"ebyd/tensor"
)

func vecVar(vals ...float32) *ag.Var { return ag.Param(tensor.FromData(vals, len(vals))) }

// bnPair returns a BatchNorm2d with Mask, WeightNoise and BiasNoise set, and
// a plain one whose weight and bias are the effective ones the doc comment
// promises: weight·Mask·(1+WeightNoise) and bias·(1+BiasNoise).
func bnPair() (edited, plain *nn.BatchNorm2d) {
	edited = buildBN()
	copy(edited.Weight.Value.Data, []float32{0.5, -1.5, 2})
	copy(edited.Bias.Value.Data, []float32{0.25, -0.75, 1.25})
	copy(edited.RunningMean.Data, []float32{0.1, -0.2, 0.3})
	copy(edited.RunningVar.Data, []float32{0.5, 2, 1.5})
	edited.Mask = vecVar(1, 0, 0.5)
	edited.WeightNoise = vecVar(0.1, -0.2, 0.3)
	edited.BiasNoise = vecVar(0.5, 1, -0.4)

	plain = buildBN()
	for c := 0; c < 3; c++ {
		w := edited.Weight.Value.Data[c] * edited.Mask.Value.Data[c]
		plain.Weight.Value.Data[c] = w * (1 + edited.WeightNoise.Value.Data[c])
		plain.Bias.Value.Data[c] = edited.Bias.Value.Data[c] * (1 + edited.BiasNoise.Value.Data[c])
	}
	copy(plain.RunningMean.Data, edited.RunningMean.Data)
	copy(plain.RunningVar.Data, edited.RunningVar.Data)
	return edited, plain
}

func TestBatchNormMaskAndNoiseSemantics(t *testing.T) {
	x := ag.RandVar(1, false, 2, 3, 3, 2)
	for _, training := range []bool{false, true} {
		edited, plain := bnPair()
		nn.SetTraining(edited, training)
		nn.SetTraining(plain, training)
		ye, yp := edited.Forward(x).Value, plain.Forward(x).Value
		for i := range yp.Data {
			if d := math.Abs(float64(ye.Data[i] - yp.Data[i])); d > 1e-6*math.Max(1, math.Abs(float64(yp.Data[i]))) {
				t.Fatalf("training=%v: element %d: edited BN %v, BN with effective weight/bias %v", training, i, ye.Data[i], yp.Data[i])
			}
		}
		// Channel 1 is masked out: its output is the (noisy) bias alone.
		for n := 0; n < 2; n++ {
			for i := 0; i < 6; i++ {
				if v := ye.Data[(n*3+1)*6+i]; math.Abs(float64(v)-(-1.5)) > 1e-6 {
					t.Fatalf("masked channel output %v, want bias·(1+noise) = -1.5", v)
				}
			}
		}
		// The module's own parameters are left as they are.
		if edited.Weight.Value.Data[1] != -1.5 || edited.Bias.Value.Data[1] != -0.75 {
			t.Fatal("Forward changed the stored weight or bias")
		}
	}
}

func TestBatchNormMaskAndNoiseGradients(t *testing.T) {
	for _, training := range []bool{false, true} {
		bn, _ := bnPair()
		nn.SetTraining(bn, training)
		x := ag.RandVar(2, true, 3, 3, 2, 2)
		ins := []*ag.Var{x, bn.Weight, bn.Bias, bn.Mask, bn.WeightNoise, bn.BiasNoise}
		if err := ag.CheckGrad(func() *ag.Var { return bn.Forward(x) }, ins, 1e-2, 2e-2); err != nil {
			t.Fatalf("training=%v: %v", training, err)
		}
		for i, v := range ins[3:] {
			if v.Grad == nil || !slices.ContainsFunc(v.Grad.Data, func(g float32) bool { return g != 0 }) {
				t.Fatalf("training=%v: no gradient reached edit Var %d", training, i)
			}
		}
	}
}

func TestBatchNormWithoutEditsMatchesOp(t *testing.T) {
	bn := buildBN()
	copy(bn.Weight.Value.Data, []float32{2, 3, 4})
	nn.SetTraining(bn, false)
	x := ag.RandVar(3, false, 1, 3, 2, 2)
	y := bn.Forward(x).Value
	want := ag.BatchNorm2d(x, bn.Weight, bn.Bias, bn.RunningMean, bn.RunningVar,
		ag.BatchNormOpts{Momentum: 0.1, Eps: 1e-5}).Value
	if !slices.Equal(y.Data, want.Data) {
		t.Fatalf("BatchNorm2d module %v, op %v", y.Data, want.Data)
	}
}

// shapePanic runs fn and returns the ShapeError it panics with.
func shapePanic(t *testing.T, fn func()) (se nn.ShapeError) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		var ok bool
		if se, ok = r.(nn.ShapeError); !ok {
			t.Fatalf("panic value %#v, want nn.ShapeError", r)
		}
	}()
	fn()
	return
}

func TestShapeErrors(t *testing.T) {
	m := newTiny(1)
	cases := []struct {
		name, path string
		fn         func()
		want       string
	}{
		{"conv channels", "features.0", func() { m.Conv.Forward(ag.RandVar(1, false, 2, 3, 4, 4)) }, "[N, 2, H, W]"},
		{"conv rank", "features.0", func() { m.Conv.Forward(ag.RandVar(1, false, 2, 4, 4)) }, "[2 4 4]"},
		{"model input", "features.0", func() { m.Forward(ag.RandVar(1, false, 2, 1, 4, 4)) }, "[2 1 4 4]"},
		{"bn channels", "features.1", func() { m.BN.Forward(ag.RandVar(1, false, 2, 4, 4, 4)) }, "[N, 3, H, W]"},
		{"bn rank", "features.1", func() { m.BN.Forward(ag.RandVar(1, false, 2, 3)) }, "[2 3]"},
		{"linear features", "fc", func() { m.FC.Forward(ag.RandVar(1, false, 2, 47)) }, "[N, 48]"},
		{"linear rank", "fc", func() { m.FC.Forward(ag.RandVar(1, false, 2, 3, 16)) }, "[2 3 16]"},
		// An input of the right size but the wrong image size gets through
		// the convolution and is caught at the dense layer.
		{"image size", "fc", func() { m.Forward(ag.RandVar(1, false, 2, 2, 5, 5)) }, "[2 75]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			se := shapePanic(t, c.fn)
			if se.Module != c.path {
				t.Errorf("ShapeError.Module = %q, want %q", se.Module, c.path)
			}
			if msg := se.Error(); !strings.Contains(msg, c.path) || !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not name %q and %q", msg, c.path, c.want)
			}
			err := nn.Recover(c.fn)
			var got nn.ShapeError
			if !errors.As(err, &got) || got != se {
				t.Errorf("Recover = %v, want the ShapeError", err)
			}
		})
	}
	// A module outside any built tree is reported as "model".
	lin := nn.NewLinear(3, 2, true, rand.New(rand.NewPCG(1, 1)))
	se := shapePanic(t, func() { lin.Forward(ag.RandVar(1, false, 1, 4)) })
	if se.Module != "" || !strings.HasPrefix(se.Error(), "nn: model expects [N, 3]") {
		t.Errorf("unnamed module: %q (%q)", se.Error(), se.Module)
	}
}

func TestRecover(t *testing.T) {
	if err := nn.Recover(func() {}); err != nil {
		t.Fatalf("Recover of a normal return = %v", err)
	}
	m := newTiny(1)
	if err := nn.Recover(func() { m.Forward(tinyInput(1)) }); err != nil {
		t.Fatalf("Recover of a good forward = %v", err)
	}
	for _, v := range []any{"boom", fmt.Errorf("wrapped: %w", nn.ShapeError{Module: "x"}), 42} {
		func() {
			defer func() {
				if r := recover(); r != v {
					t.Errorf("Recover let %#v through as %#v", v, r)
				}
			}()
			err := nn.Recover(func() { panic(v) })
			t.Errorf("Recover swallowed panic %#v as %v", v, err)
		}()
	}
}

func TestDropoutModule(t *testing.T) {
	x := ag.RandVar(4, false, 4, 64)
	run := func(seed uint64, p float32, training bool) *ag.Var {
		d := nn.Build(&nn.Dropout{P: p, Rng: rand.New(rand.NewPCG(seed, 9))})
		nn.SetTraining(d, training)
		return d.Forward(x)
	}
	a, b := run(1, 0.5, true).Value.Data, run(1, 0.5, true).Value.Data
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different masks")
	}
	if slices.Equal(a, run(2, 0.5, true).Value.Data) {
		t.Fatal("different seeds, same mask")
	}
	zeros := 0
	for i, v := range a {
		switch v {
		case 0:
			zeros++
		case 2 * x.Value.Data[i]:
		default:
			t.Fatalf("element %d: %v is neither 0 nor 2·%v", i, v, x.Value.Data[i])
		}
	}
	if zeros < 64 || zeros > 192 {
		t.Fatalf("p=0.5 dropped %d of 256", zeros)
	}
	if y := run(1, 0.5, false); y != x {
		t.Fatal("eval-mode dropout is not the identity")
	}
	if y := run(1, 0, true); y != x {
		t.Fatal("P=0 dropout is not the identity")
	}
	// Successive training calls draw fresh masks from the module's generator.
	d := nn.Build(&nn.Dropout{P: 0.5, Rng: rand.New(rand.NewPCG(1, 9))})
	first := d.Forward(x).Value.Data
	if !slices.Equal(first, a) || slices.Equal(d.Forward(x).Value.Data, first) {
		t.Fatal("the second call of a dropout reused the first mask")
	}
}

// buildBN is a built (named, training-mode) BatchNorm2d over 3 channels.
func buildBN() *nn.BatchNorm2d { return nn.Build(nn.NewBatchNorm2d(3)) }

// TestShapeErrorSpatialTooSmall: an image too small for a layer's window is
// an input of the wrong shape too, and callers (run.Train, run.Eval) rely on
// Recover to turn it into an error rather than a crash.
func TestShapeErrorSpatialTooSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	m := nn.Build(nn.NewSequential(
		nn.NewConv2d(2, 3, 3, ag.ConvOpts{}, true, r),
		&nn.MaxPool2d{Kernel: 2, Stride: 2},
		nn.NewBatchNorm2d(3),
	))
	cases := []struct {
		path  string
		input []int
	}{
		{"0", []int{1, 2, 2, 2}}, // 2×2 image, 3×3 kernel without padding
		{"1", []int{1, 2, 3, 3}}, // 1×1 map into a 2×2 pool
		{"2", []int{1, 2, 4, 4}}, // one value per channel in training
	}
	for _, c := range cases {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("input %v: Recover let a panic through: %v", c.input, r)
				}
			}()
			err = nn.Recover(func() { m.Forward(ag.RandVar(1, false, c.input...)) })
		}()
		var se nn.ShapeError
		if !errors.As(err, &se) || se.Module != c.path {
			t.Errorf("input %v: error %v, want a ShapeError from module %q", c.input, err, c.path)
		}
	}
}

// TestBatchNormForwardReLU: the fused form equals ReLU(Forward), and a hook
// on the layer still sees (and may replace) the output before the ReLU.
func TestBatchNormForwardReLU(t *testing.T) {
	x := ag.RandVar(3, false, 2, 3, 4, 4)
	bn := buildBN()
	want := ag.ReLU(bn.Forward(x)).Value
	bn2 := buildBN()
	got := bn2.ForwardReLU(x).Value
	for i := range want.Data {
		if math.Abs(float64(want.Data[i]-got.Data[i])) > 1e-6 {
			t.Fatalf("fused [%d] = %v, unfused %v", i, got.Data[i], want.Data[i])
		}
	}
	var seen *ag.Var
	if err := nn.SetHook(bn2, "", func(y *ag.Var) *ag.Var {
		seen = y
		return ag.Neg(y)
	}); err != nil {
		t.Fatal(err)
	}
	out := bn2.ForwardReLU(x).Value
	negatives := 0
	for i, v := range seen.Value.Data {
		if v < 0 {
			negatives++
		}
		if w := float32(math.Max(float64(-v), 0)); out.Data[i] != w {
			t.Fatalf("hooked fused output [%d] = %v, want relu(-%v) = %v", i, out.Data[i], v, w)
		}
	}
	if negatives == 0 {
		t.Fatal("the hook saw no negative values: it was given the output after the ReLU")
	}
}

// TestBatchNormShifts: additive perturbations of weight and bias apply after
// the mask and the multiplicative noise, and gradients reach them.
func TestBatchNormShifts(t *testing.T) {
	x := ag.RandVar(4, true, 2, 3, 2, 2)
	edited, plain := bnPair()
	edited.WeightShift = vecVar(0.2, 0.3, -0.1)
	edited.BiasShift = vecVar(-0.5, 0.25, 0)
	for c := 0; c < 3; c++ {
		plain.Weight.Value.Data[c] += edited.WeightShift.Value.Data[c]
		plain.Bias.Value.Data[c] += edited.BiasShift.Value.Data[c]
	}
	nn.SetTraining(edited, false)
	nn.SetTraining(plain, false)
	ye, yp := edited.Forward(x).Value, plain.Forward(x).Value
	for i := range yp.Data {
		if math.Abs(float64(ye.Data[i]-yp.Data[i])) > 1e-6 {
			t.Fatalf("element %d: shifted BN %v, BN with effective weight/bias %v", i, ye.Data[i], yp.Data[i])
		}
	}
	ins := []*ag.Var{x, edited.WeightShift, edited.BiasShift}
	if err := ag.CheckGrad(func() *ag.Var { return edited.Forward(x) }, ins, 1e-2, 2e-2); err != nil {
		t.Fatal(err)
	}
}
