package expose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/expose"
	"ebyd/models"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// synthetic is a 10-class set of 8×8 grey images: class k is a bright 2×2
// block at a position of its own on a noisy background, so that a tiny
// network learns it in a few steps.
func synthetic(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 3))
	ds := &data.Dataset{Name: "synthetic", N: n, H: 8, W: 8, C: 1, Classes: 10,
		Images: make([]uint8, n*64), Labels: make([]int, n), Mean: []float32{0.2}, Std: []float32{0.3}}
	for i := range n {
		k := i % 10
		ds.Labels[i] = k
		im := ds.Image(i)
		for p := range im {
			im[p] = uint8(r.IntN(60))
		}
		y0, x0 := 2*(k/4), 2*(k%4)
		for dy := range 2 {
			for dx := range 2 {
				im[(y0+dy)*8+x0+dx] = 230 + uint8(r.IntN(25))
			}
		}
	}
	return ds
}

func defense(t *testing.T, n int) *data.Defense {
	t.Helper()
	d, err := data.NewDefense(synthetic(400, 1), n, 7)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tinyModel builds a zoo model for 8×8×1 images, trained for a few steps on
// synthetic data when train is set.
func tinyModel(t *testing.T, arch string, train bool) nn.Module {
	t.Helper()
	m, err := models.New(arch, models.Config{InChannels: 1, NumClasses: 10, InputSize: 8, Width: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if train {
		ds := synthetic(320, 2)
		var ps []*ag.Var
		for _, p := range nn.Params(m) {
			ps = append(ps, p.Var)
		}
		opt := &optim.Adam{Params: ps, Rate: 0.02}
		ld := &data.Loader{Data: ds, BatchSize: 32, Shuffle: true, Seed: 1}
		nn.SetTraining(m, true)
		for epoch := range 6 {
			for x, y := range ld.Epoch(epoch) {
				optim.ZeroGrad(ps)
				ag.Backward(ag.CrossEntropy(m.Forward(ag.Const(x)), y))
				opt.Step()
			}
		}
	}
	nn.SetTraining(m, false)
	return m
}

// quick are parameters that keep each method to a few steps.
var quick = map[string]string{
	"cul":          `{"epochs": 2, "batch_size": 16, "probes": ["noise", "shift"]}`,
	"cul-seed":     `{"epochs": 2, "batch_size": 16}`,
	"confusion-ft": `{"epochs": 2, "batch_size": 16}`,
	"rnp-unlearn":  `{"epochs": 2, "batch_size": 16}`,
	"awp":          `{"levels": [0, 0.3], "epochs": 1, "batch_size": 16}`,
	"act-prune":    `{"rates": [0, 0.5]}`,
}

func newMethod(t *testing.T, name, params string) expose.Exposer {
	t.Helper()
	e, err := expose.New(name, json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func weights(m nn.Module) []byte {
	var b bytes.Buffer
	for _, e := range nn.StateDict(m) {
		for _, v := range e.Tensor.Data {
			b.WriteString(string(rune(0))) // separator keeps lengths honest
			b.Write([]byte{byte(math.Float32bits(v)), byte(math.Float32bits(v) >> 8), byte(math.Float32bits(v) >> 16), byte(math.Float32bits(v) >> 24)})
		}
	}
	return b.Bytes()
}

func logits(m nn.Module, x *tensor.Tensor) []float32 {
	var out []float32
	ag.NoGrad(func() { out = slices.Clone(m.Forward(ag.Const(x)).Value.Data) })
	return out
}

// Every method runs on a model with BatchNorm and on one without, writes a
// row per epoch/rate/level with class shares that sum to 1, ranks every
// label, and leaves a plain network (gates folded in) in evaluation mode.
func TestEveryMethodOnEveryKindOfModel(t *testing.T) {
	if got := expose.Names(); !slices.Equal(got, []string{"act-prune", "awp", "confusion-ft", "cul", "cul-seed", "rnp-unlearn"}) {
		t.Fatalf("methods %v", got)
	}
	d := defense(t, 64)
	x, _ := data.Batch(d.Data(), []int{0, 1, 2, 3})
	for _, arch := range []string{"mnistnet", "resnet18"} {
		for _, name := range expose.Names() {
			t.Run(arch+"/"+name, func(t *testing.T) {
				m := tinyModel(t, arch, false)
				before := logits(m, x)
				var reported []expose.Row
				asrCalls := 0
				env := expose.Env{Seed: 1,
					Report: func(r expose.Row) { reported = append(reported, r) },
					ASR: func(m nn.Module) (float64, error) {
						if tr, ok := m.(interface{ Training() bool }); ok && tr.Training() {
							t.Error("ASR callback given a model in training mode")
						}
						asrCalls++
						return 0.5, nil
					},
				}
				tr, err := newMethod(t, name, quick[name]).Expose(context.Background(), m, d, env)
				if err != nil {
					t.Fatal(err)
				}
				if len(tr.Rows) < 2 || tr.Rows[0].Epoch != 0 || len(reported) != len(tr.Rows) || asrCalls != len(tr.Rows) {
					t.Fatalf("%d rows (%d reported, %d ASR calls); want at least 2, each reported and measured", len(tr.Rows), len(reported), asrCalls)
				}
				for i, r := range tr.Rows {
					sum := 0.0
					for _, s := range r.Share {
						sum += s
					}
					if len(r.Share) != 10 || math.Abs(sum-1) > 1e-9 || r.ASR == nil || *r.ASR != 0.5 || !(r.DefenseAcc >= 0 && r.DefenseAcc <= 1) {
						t.Fatalf("row %d: %+v", i, r)
					}
				}
				if tr.Method != name || tr.Stop == "" || len(tr.Candidates) != 10 {
					t.Fatalf("trace method %q stop %q, %d candidates", tr.Method, tr.Stop, len(tr.Candidates))
				}
				seen := map[int]bool{}
				for i, c := range tr.Candidates {
					seen[c.Label] = true
					if i > 0 && c.Score > tr.Candidates[i-1].Score {
						t.Fatalf("candidates not ranked: %+v", tr.Candidates)
					}
				}
				if len(seen) != 10 {
					t.Fatalf("candidates %+v do not rank every label once", tr.Candidates)
				}
				if p := tr.Predicted(); tr.Final().Share[p] != slices.Max(tr.Final().Share) {
					t.Fatalf("predicted %d is not the argmax of %v", p, tr.Final().Share)
				}
				if tm, ok := m.(interface{ Training() bool }); ok && tm.Training() {
					t.Fatal("the exposed model is left in training mode")
				}
				// A plain network: a fresh gate set fits (nothing is left
				// attached), and the model now computes something else.
				g, err := nn.ChannelGates(m)
				if err != nil {
					t.Fatalf("gates left on the exposed model: %v", err)
				}
				g.Remove()
				if name != "act-prune" && slices.Equal(before, logits(m, x)) {
					t.Fatal("the model did not change")
				}
			})
		}
	}
}

// The same seed gives the same bytes; another seed gives others.
func TestDeterminism(t *testing.T) {
	d := defense(t, 64)
	for _, name := range []string{"cul", "confusion-ft", "awp"} {
		run := func(seed uint64) ([]byte, string) {
			m := tinyModel(t, "mnistnet", false)
			tr, err := newMethod(t, name, quick[name]).Expose(context.Background(), m, d, expose.Env{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(tr)
			return weights(m), string(b)
		}
		w1, t1 := run(1)
		w2, t2 := run(1)
		w3, _ := run(2)
		if !bytes.Equal(w1, w2) || t1 != t2 {
			t.Errorf("%s: the same seed gave different weights or traces", name)
		}
		if bytes.Equal(w1, w3) {
			t.Errorf("%s: seeds 1 and 2 gave the same weights", name)
		}
	}
}

// The stop rule: a loop method stops after the first epoch whose defense
// accuracy is at most the threshold, and otherwise runs all its epochs.
func TestStopRule(t *testing.T) {
	d := defense(t, 64)
	for _, tc := range []struct {
		name, params string
		rows         int
		stop         string
	}{
		{"cul-seed", `{"epochs": 3, "stop_acc": 1}`, 2, "threshold"},
		{"cul", `{"epochs": 3, "stop_acc": 1, "probes": ["none"]}`, 2, "threshold"},
		{"cul", `{"epochs": 3, "stop_acc": 0.01, "collapse": 0.05, "probes": ["none"]}`, 2, "collapse"},
		{"cul", `{"epochs": 3, "stop_acc": 0.01, "probes": ["none"]}`, 4, "epochs"},
		{"cul-seed", `{"epochs": 3}`, 4, "epochs"},
		{"rnp-unlearn", `{"epochs": 3, "stop_acc": 1}`, 2, "threshold"},
		{"rnp-unlearn", `{"epochs": 3, "stop_acc": 0}`, 4, "epochs"},
		{"confusion-ft", `{"epochs": 3, "stop_acc": 1}`, 2, "threshold"},
	} {
		m := tinyModel(t, "mnistnet", false)
		tr, err := newMethod(t, tc.name, tc.params).Expose(context.Background(), m, d, expose.Env{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Rows) != tc.rows || tr.Stop != tc.stop {
			t.Errorf("%s %s: %d rows, stop %q; want %d, %q", tc.name, tc.params, len(tr.Rows), tr.Stop, tc.rows, tc.stop)
		}
	}
}

// Unlearning a trained model drives its defense accuracy down to the
// threshold, where it stops.
func TestUnlearningReachesThreshold(t *testing.T) {
	d := defense(t, 100)
	m := tinyModel(t, "mnistnet", true)
	tr, err := newMethod(t, "rnp-unlearn", `{"lr": 0.05, "epochs": 30}`).Expose(context.Background(), m, d, expose.Env{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, last := tr.Rows[0], tr.Final()
	if !(first.DefenseAcc > 0.6) || tr.Stop != "threshold" || !(last.DefenseAcc <= 0.2) || !(last.Loss > first.Loss) {
		t.Fatalf("defense acc %.2f → %.2f (loss %.3f → %.3f), stop %q; want a trained model (> 0.6) unlearned to ≤ 0.2",
			first.DefenseAcc, last.DefenseAcc, first.Loss, last.Loss, tr.Stop)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ name, params, want string }{
		{"nope", "", "unknown exposure method"},
		{"cul", `{"lr": -1}`, "lr"},
		{"cul", `{"probes": ["blur"]}`, "probes"},
		{"cul", `{"collapse": 0}`, "collapse"},
		{"cul", `{"noise": -1}`, "noise"},
		{"cul", `{"bogus": 1}`, "unknown field"},
		{"cul-seed", `{"epochs": 0}`, "epochs"},
		{"awp", `{"levels": []}`, "levels"},
		{"act-prune", `{"rates": [1.5]}`, "rates"},
		{"rnp-unlearn", `{"momentum": 1}`, "momentum"},
	} {
		_, err := expose.New(tc.name, json.RawMessage(tc.params))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %s): %v; want an error about %q", tc.name, tc.params, err, tc.want)
		}
	}
	// Parameters round-trip with their defaults filled in.
	e := newMethod(t, "cul-seed", `{"lr": 2e-5}`)
	var p map[string]any
	if err := json.Unmarshal(expose.Params(e), &p); err != nil || p["lr"] != 2e-5 || p["epochs"] != 20.0 || p["weight_decay"] != 5e-4 {
		t.Fatalf("params %v, %v", p, err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("enough"))
	for _, name := range expose.Names() {
		_, err := newMethod(t, name, quick[name]).Expose(ctx, tinyModel(t, "mnistnet", false), defense(t, 32), expose.Env{Seed: 1})
		if name == "act-prune" && err == nil {
			continue // one pass per rate: it may finish before looking
		}
		if err == nil || !strings.Contains(err.Error(), "enough") {
			t.Errorf("%s with a cancelled context: %v", name, err)
		}
	}
}

// A failure measuring the attack success rate ends the exposure with that
// error, whichever row it comes at.
func TestASRErrorSurfaces(t *testing.T) {
	broken := errors.New("no triggered images")
	for _, name := range expose.Names() {
		for _, at := range []int{1, 2} {
			calls := 0
			env := expose.Env{Seed: 1, ASR: func(nn.Module) (float64, error) {
				if calls++; calls == at {
					return 0, broken
				}
				return 0.5, nil
			}}
			tr, err := newMethod(t, name, quick[name]).Expose(context.Background(), tinyModel(t, "mnistnet", false), defense(t, 32), env)
			if !errors.Is(err, broken) || tr != nil {
				t.Errorf("%s with ASR failing at row %d: trace %v, error %v; want the ASR's error", name, at-1, tr != nil, err)
			}
		}
	}
}

// cul's rounds: each starts from the suspect model with the earlier rounds'
// collapse classes masked out; candidates sum the rounds' final shares; the
// exposed model and the rows are round 1's.
func TestCULRounds(t *testing.T) {
	d := defense(t, 100)
	m := tinyModel(t, "mnistnet", true)
	tr, err := newMethod(t, "cul", `{"lr": 0.01, "epochs": 4, "batch_size": 25}`).Expose(context.Background(), m, d, expose.Env{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Rounds) != 4 {
		t.Fatalf("%d rounds, want 4", len(tr.Rounds))
	}
	sum := make([]float64, 10)
	var excluded []int
	for i, r := range tr.Rounds {
		if !slices.Equal(r.Excluded, excluded) {
			t.Fatalf("round %d excludes %v, want the earlier collapse classes %v", i+1, r.Excluded, excluded)
		}
		for _, e := range r.Excluded {
			if r.Share[e] != 0 {
				t.Fatalf("round %d: excluded class %d still predicted (%v)", i+1, e, r.Share)
			}
		}
		if r.Share[r.Collapse] != slices.Max(r.Share) {
			t.Fatalf("round %d: collapse %d is not the argmax of %v", i+1, r.Collapse, r.Share)
		}
		for k, s := range r.Share {
			sum[k] += s
		}
		excluded = append(excluded, r.Collapse)
	}
	// Candidates: the collapse classes in peeling order, then the rest by
	// mean share.
	for i, c := range tr.Candidates {
		if i < 4 {
			r := tr.Rounds[i]
			if want := float64(4-i) + r.Share[r.Collapse]; c.Label != r.Collapse || math.Abs(c.Score-want) > 1e-12 {
				t.Fatalf("candidate %d: %+v, want class %d (round %d) scoring %v", i, c, r.Collapse, i+1, want)
			}
		} else if math.Abs(c.Score-sum[c.Label]/4) > 1e-12 || c.Score > tr.Candidates[i-1].Score {
			t.Fatalf("candidate %d: %+v, want its mean share %v, in order", i, c, sum[c.Label]/4)
		}
	}
	if !slices.Equal(tr.Final().Share, tr.Rounds[0].Share) || tr.Predicted() != tr.Rounds[0].Collapse {
		t.Fatalf("rows end with %v, round 1 with %v: the trace must be round 1's", tr.Final().Share, tr.Rounds[0].Share)
	}
	// The model handed back is round 1's exposed model, without the mask.
	x, _ := data.Batch(d.Data(), seq(d.Len()))
	var pred []int
	ag.NoGrad(func() { pred = m.Forward(ag.Const(x)).Value.ArgMaxRows() })
	share := make([]float64, 10)
	for _, p := range pred {
		share[p] += 1 / float64(len(pred))
	}
	for k := range share {
		if math.Abs(share[k]-tr.Rounds[0].Share[k]) > 1e-9 {
			t.Fatalf("the returned model predicts %v on the defense images, round 1 ended at %v", share, tr.Rounds[0].Share)
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
