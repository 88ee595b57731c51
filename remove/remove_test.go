package remove_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/models"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/remove"
)

// blocks is a 10-class set of 8×8 grey images: class k is a bright 2×2
// block at a place of its own on a noisy background.
func blocks(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 5))
	ds := &data.Dataset{Name: "blocks", N: n, H: 8, W: 8, C: 1, Classes: 10,
		Images: make([]uint8, n*64), Labels: make([]int, n), Mean: []float32{0.2}, Std: []float32{0.3}}
	for i := range n {
		k := i % 10
		ds.Labels[i] = k
		im := ds.Image(i)
		for p := range im {
			im[p] = uint8(r.IntN(60))
		}
		for dy := range 2 {
			for dx := range 2 {
				im[(2*(k/4)+dy)*8+2*(k%4)+dx] = 230 + uint8(r.IntN(25))
			}
		}
	}
	return ds
}

// trained is a small zoo network trained a few steps on blocks.
func trained(t *testing.T, arch string, width int) nn.Module {
	t.Helper()
	m, err := models.New(arch, models.Config{InChannels: 1, NumClasses: 10, InputSize: 8, Width: width, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*ag.Var
	for _, p := range nn.Params(m) {
		ps = append(ps, p.Var)
	}
	opt := &optim.Adam{Params: ps, Rate: 0.02}
	ld := &data.Loader{Data: blocks(320, 2), BatchSize: 32, Shuffle: true, Seed: 1}
	nn.SetTraining(m, true)
	for epoch := range 6 {
		for x, y := range ld.Epoch(epoch) {
			optim.ZeroGrad(ps)
			ag.Backward(ag.CrossEntropy(m.Forward(ag.Const(x)), y))
			opt.Step()
		}
	}
	nn.SetTraining(m, false)
	return m
}

func defense(t *testing.T, n int) *data.Defense {
	t.Helper()
	d, err := data.NewDefense(blocks(400, 1), n, 7)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// quick are parameters that keep each method to a few steps.
var quick = map[string]string{
	"ft":       `{"epochs": 1}`,
	"fp":       `{"finetune": {"epochs": 1}}`,
	"anp":      `{"iterations": 6, "batch_size": 32}`,
	"rnp":      `{"unlearn": {"epochs": 2}, "mask_epochs": 2, "finetune": {"epochs": 1}}`,
	"ebyd-rnp": `{"mask_epochs": 2}`,
	"nad":      `{"teacher": {"epochs": 1}, "student": {"epochs": 1}}`,
	"ibau":     `{"rounds": 1}`,
}

func TestMethods(t *testing.T) {
	if len(quick) != len(remove.Names()) {
		t.Fatalf("methods %v, tested %d", remove.Names(), len(quick))
	}
	for _, arch := range []string{"mnistnet", "preactresnet18"} {
		for _, name := range remove.Names() {
			t.Run(arch+"/"+name, func(t *testing.T) {
				r, err := remove.New(name, json.RawMessage(quick[name]))
				if err != nil {
					t.Fatal(err)
				}
				m := trained(t, arch, 2)
				env := remove.Env{Seed: 1}
				if _, unlearns := r.(remove.Unlearner); unlearns || remove.NeedsExposed(name) {
					// Standing in for the exposed or unlearned model.
					env.Exposed = trained(t, arch, 2)
				}
				steps := 0
				env.Progress = func(done, total int, _ string) {
					if done > total || done < 1 {
						t.Errorf("progress %d of %d", done, total)
					}
					steps++
				}
				rep, err := r.Remove(context.Background(), m, defense(t, 64), env)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Method != name || steps == 0 || !(rep.DefenseAcc >= 0 && rep.DefenseAcc <= 1) {
					t.Fatalf("report %+v after %d steps", rep, steps)
				}
				for _, p := range nn.Params(m) {
					if p.Value.HasNaN() {
						t.Fatalf("%s holds NaN", p.Name)
					}
				}
				if rep.Cut != nil && rep.Cut.Acc < rep.Cut.BaseAcc-rep.Cut.Budget-1e-9 {
					t.Errorf("cut %+v breaks its budget", rep.Cut)
				}
			})
		}
	}
}

// The cut never costs more defense accuracy than its budget, and the
// channels it prunes are zero in the cleaned model's weights.
func TestCutBudgetAndPrunedChannels(t *testing.T) {
	suspect := trained(t, "mnistnet", 4)
	for _, budget := range []float64{0, 0.05, 0.3} {
		m := trained(t, "mnistnet", 4)
		// A random "exposed" model gives masks unrelated to the task, the
		// hard case for the budget.
		exposed, err := models.New("mnistnet", models.Config{InChannels: 1, NumClasses: 10, InputSize: 8, Width: 4, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(map[string]any{"mask_epochs": 3, "budget": budget, "threshold": 1.01, "finetune": map[string]any{"epochs": 0}})
		r, err := remove.New("ebyd-rnp", p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := r.Remove(context.Background(), m, defense(t, 100), remove.Env{Seed: 2, Exposed: exposed})
		if err != nil {
			t.Fatal(err)
		}
		c := rep.Cut
		if c == nil || c.Budget != budget || c.Acc < c.BaseAcc-budget-1e-9 || rep.DefenseAcc < rep.InitialDefenseAcc-budget-1e-9 {
			t.Fatalf("budget %g: cut %+v, defense acc %g → %g", budget, c, rep.InitialDefenseAcc, rep.DefenseAcc)
		}
		if c.Pruned != len(rep.Pruned) || len(rep.Scores) != rep.Gated || rep.Gated != 28 {
			t.Fatalf("budget %g: %d pruned, %d listed, %d scores of %d gated", budget, c.Pruned, len(rep.Pruned), len(rep.Scores), rep.Gated)
		}
		if budget == 0.3 && c.Pruned == 0 {
			t.Fatalf("a 30-point budget pruned nothing: %+v", c)
		}
		pruned := map[string]map[int]bool{}
		for _, ch := range rep.Pruned {
			if pruned[ch.Layer] == nil {
				pruned[ch.Layer] = map[int]bool{}
			}
			pruned[ch.Layer][ch.Index] = true
		}
		// Pruned rows of a layer's weight are zero, its bias kept; other
		// rows are the suspect's.
		ref := map[string]nn.Param{}
		for _, q := range nn.Params(suspect) {
			ref[q.Name] = q
		}
		for _, q := range nn.Params(m) {
			layer, ok := strings.CutSuffix(q.Name, ".weight")
			if !ok || pruned[layer] == nil {
				continue
			}
			per := q.Value.Len() / q.Value.Shape[0]
			for ch := range q.Value.Shape[0] {
				row := q.Value.Data[ch*per : (ch+1)*per]
				for i, v := range row {
					want := ref[q.Name].Value.Data[ch*per+i]
					if pruned[layer][ch] {
						want = 0
					}
					if v != want {
						t.Fatalf("budget %g: %s channel %d (pruned %v) weight %d is %g, want %g", budget, layer, ch, pruned[layer][ch], i, v, want)
					}
				}
			}
		}
	}
}

func TestBadInputs(t *testing.T) {
	for _, tc := range []struct{ name, params, want string }{
		{"nope", ``, "unknown removal method"},
		{"ft", `{"bogus": 1}`, "unknown field"},
		{"ft", `{"lr": -1}`, "lr -1"},
		{"rnp", `{"unlearn": {"stop_acc": 2}}`, "stop_acc"},
		{"ebyd-rnp", `{"budget": 2}`, "budget 2"},
		{"anp", `{"eps": -1}`, "eps -1"},
	} {
		_, err := remove.New(tc.name, json.RawMessage(tc.params))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s, %s): %v, want %q", tc.name, tc.params, err, tc.want)
		}
	}
	r, _ := remove.New("ebyd-rnp", nil)
	_, err := r.Remove(context.Background(), trained(t, "mnistnet", 2), defense(t, 20), remove.Env{})
	if err == nil || !strings.Contains(err.Error(), "exposed") {
		t.Errorf("ebyd-rnp without an exposed model: %v", err)
	}
}
