package fit_test

import (
	"context"
	"errors"
	"iter"
	"math"
	"math/rand/v2"
	"testing"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// flat is a linear classifier of flattened images.
type flat struct {
	nn.Base
	fc *nn.Linear
}

func newFlat(in, classes int) *flat {
	m := &flat{}
	m.fc = nn.AddChild(&m.Base, "fc", nn.NewLinear(in, classes, true, rand.New(rand.NewPCG(1, 2))))
	return nn.Build(m)
}

func (m *flat) Forward(x *ag.Var) *ag.Var { return m.Out(m.fc.Forward(ag.Flatten(x))) }

// blobs is n two-pixel images whose class is which pixel is the brighter.
func blobs(n int) *data.Dataset {
	r := rand.New(rand.NewPCG(3, 4))
	ds := &data.Dataset{Name: "blobs", N: n, H: 1, W: 2, C: 1, Classes: 2, Images: make([]uint8, 2*n), Labels: make([]int, n)}
	for i := range n {
		a, b := uint8(r.IntN(256)), uint8(r.IntN(256))
		ds.Images[2*i], ds.Images[2*i+1] = a, b
		if b > a {
			ds.Labels[i] = 1
		}
	}
	return ds
}

// loop trains m on ds with cross-entropy and SGD, recording each epoch's
// mean loss.
func loop(m nn.Module, ds *data.Dataset, epochs int, losses *[]float64) *fit.Loop[*tensor.Tensor] {
	ps := fit.Params(m)
	ld := &data.Loader{Data: ds, BatchSize: 16, Shuffle: true, Seed: 5}
	var sum float64
	var n int
	return &fit.Loop[*tensor.Tensor]{
		Epochs: epochs, Batches: ld.Epoch, Params: ps,
		Opt:  &optim.SGD{Params: ps, Rate: 0.5, Momentum: 0.9},
		Rate: func(epoch, _ int) float32 { return optim.MultiStep{Milestones: []int{3}, Gamma: 0.5}.Rate(0.5, epoch) },
		Clip: 10,
		Loss: func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
			l := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
			return l, l.Item()
		},
		After: func(_, _ int, v float32) { sum += float64(v); n++ },
		EndEpoch: func(int) (bool, error) {
			*losses = append(*losses, sum/float64(n))
			sum, n = 0, 0
			return false, nil
		},
	}
}

func TestLoopLearns(t *testing.T) {
	ds := blobs(256)
	m := newFlat(2, 2)
	before, err := fit.Accuracy(m, ds, 0)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	if err := loop(m, ds, 5, &losses).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(losses) != 5 || !(losses[4] < losses[0]) {
		t.Fatalf("epoch losses %v: want five, falling", losses)
	}
	after, err := fit.Accuracy(m, ds, 7)
	if err != nil {
		t.Fatal(err)
	}
	if after < 0.9 || after <= before {
		t.Fatalf("accuracy %.3f before training, %.3f after; want at least 0.9", before, after)
	}
	if name := fit.NonFiniteParam(m); name != "" {
		t.Fatalf("parameter %s not finite after training", name)
	}
}

func TestLoopIsRepeatable(t *testing.T) {
	ds := blobs(64)
	var a, b []float64
	for _, losses := range []*[]float64{&a, &b} {
		if err := loop(newFlat(2, 2), ds, 2, losses).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("two runs: losses %v and %v", a, b)
	}
}

func TestLoopNonFinite(t *testing.T) {
	m := newFlat(2, 2)
	var losses []float64
	l := loop(m, blobs(64), 2, &losses)
	want := fit.Params(m)[0].Value.Clone()
	steps := 0
	loss := l.Loss
	l.Loss = func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
		if steps++; steps == 3 {
			return nil, float32(math.NaN())
		}
		return loss(x, y)
	}
	l.Epochs = 1
	err := l.Run(context.Background())
	var nf *fit.NonFinite
	if !errors.As(err, &nf) || nf.Epoch != 1 || nf.Step != 3 || !math.IsNaN(float64(nf.Loss)) {
		t.Fatalf("Run = %v, want a *NonFinite at epoch 1, step 3", err)
	}
	if got := fit.Params(m)[0].Value; got.Data[0] == want.Data[0] {
		t.Fatal("no step taken before the NaN")
	}
}

func TestLoopStops(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	why := errors.New("enough")
	m := newFlat(2, 2)
	var losses []float64
	l := loop(m, blobs(64), 3, &losses)
	l.After = func(epoch, step int, _ float32) {
		if epoch == 1 && step == 1 {
			cancel(why)
		}
	}
	err := l.Run(ctx)
	var st *fit.Stopped
	if !errors.As(err, &st) || st.Epoch != 2 || st.Step != 3 || !errors.Is(err, why) {
		t.Fatalf("Run = %v, want a *Stopped at epoch 2, step 3 for %v", err, why)
	}
	if len(losses) != 1 {
		t.Fatalf("%d epochs ended; want 1", len(losses))
	}
}

func TestLoopEndEpoch(t *testing.T) {
	m := newFlat(2, 2)
	var losses []float64
	l := loop(m, blobs(32), 4, &losses)
	epochs := 0
	l.EndEpoch = func(int) (bool, error) { epochs++; return epochs == 2, nil }
	if err := l.Run(context.Background()); err != nil || epochs != 2 {
		t.Fatalf("Run = %v after %d epochs; want nil after 2", err, epochs)
	}
	boom := errors.New("boom")
	l.EndEpoch = func(int) (bool, error) { return false, boom }
	if err := l.Run(context.Background()); err != boom {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

// pairs walks two loaders in lockstep, as batches of a type other than a
// tensor.
func TestLoopGenericBatches(t *testing.T) {
	ds := blobs(32)
	m := newFlat(4, 2)
	ps := fit.Params(m)
	ld := &data.Loader{Data: ds, BatchSize: 8}
	steps := 0
	l := fit.Loop[[2]*tensor.Tensor]{
		Epochs: 1, Params: ps, Opt: &optim.Adam{Params: ps, Rate: 1e-2},
		Batches: func(epoch int) iter.Seq2[[2]*tensor.Tensor, []int] {
			return func(yield func([2]*tensor.Tensor, []int) bool) {
				for x, y := range ld.Epoch(epoch) {
					if !yield([2]*tensor.Tensor{x, x}, y) {
						return
					}
				}
			}
		},
		Loss: func(xs [2]*tensor.Tensor, y []int) (*ag.Var, float32) {
			in := ag.Concat(1, ag.Flatten(ag.Const(xs[0])), ag.Flatten(ag.Const(xs[1])))
			l := ag.CrossEntropy(m.fc.Forward(in), y)
			return l, l.Item()
		},
		After: func(int, int, float32) { steps++ },
	}
	if err := l.Run(context.Background()); err != nil || steps != 4 {
		t.Fatalf("Run = %v after %d steps; want nil after 4", err, steps)
	}
}

func TestLoopShapeError(t *testing.T) {
	m := newFlat(3, 2) // the images have 2 pixels
	var losses []float64
	err := loop(m, blobs(16), 1, &losses).Run(context.Background())
	var se nn.ShapeError
	if !errors.As(err, &se) {
		t.Fatalf("Run = %v, want an nn.ShapeError", err)
	}
}

func TestEval(t *testing.T) {
	ds := blobs(23)
	m := newFlat(2, 2)
	var sizes []int
	err := fit.Eval(m, ds, 10, func(logits *ag.Var, y []int) {
		if s := logits.Shape(); s[0] != len(y) || s[1] != 2 {
			t.Errorf("logits %v for %d labels", s, len(y))
		}
		sizes = append(sizes, len(y))
	})
	if err != nil || len(sizes) != 3 || sizes[2] != 3 {
		t.Fatalf("Eval = %v over batches %v; want batches of 10, 10, 3", err, sizes)
	}
	if !m.Training() {
		t.Fatal("Eval left the model in evaluation mode")
	}
	pred, err := fit.Predict(m, ds, 0)
	if err != nil || len(pred) != ds.N {
		t.Fatalf("Predict = %d predictions, %v", len(pred), err)
	}
	if _, err := fit.Predict(newFlat(2, 3), ds, 0); err == nil {
		t.Fatal("a model with 3 classes on a 2-class set: no error")
	}
	if _, err := fit.Accuracy(newFlat(5, 2), ds, 0); err == nil {
		t.Fatal("a model for other images: no error")
	}
}
