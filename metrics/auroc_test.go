package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteAUROC counts every positive–negative pair, ties as one half.
func bruteAUROC(scores []float64, pos []bool) float64 {
	var num, den float64
	for i := range scores {
		for j := range scores {
			if !pos[i] || pos[j] {
				continue
			}
			den++
			switch {
			case scores[i] > scores[j]:
				num++
			case scores[i] == scores[j]:
				num += 0.5
			}
		}
	}
	return num / den
}

func TestAUROC(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{3, 3, 3, 3, 3}, []bool{true, false, true, false, false}, 0.5},
		// Pairs: (0.5 vs 0.5) tie, (0.5 vs 0.1) win, (0.9 vs both) wins: 3.5/4.
		{"one tie", []float64{0.5, 0.9, 0.5, 0.1}, []bool{true, true, false, false}, 0.875},
		{"interleaved", []float64{1, 2, 3, 4}, []bool{true, false, true, false}, 0.25},
	}
	for _, c := range cases {
		if got := AUROC(c.scores, c.pos); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: AUROC %v, want %v", c.name, got, c.want)
		}
	}
	// Random scores drawn from few values (many ties) against pair counting.
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 2 + r.IntN(60)
		s, p := make([]float64, n), make([]bool, n)
		for i := range n {
			s[i] = float64(r.IntN(5))
			p[i] = r.IntN(2) == 0
		}
		p[0], p[1] = true, false
		if got, want := AUROC(s, p), bruteAUROC(s, p); math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: AUROC %v, pair count %v", trial, got, want)
		}
	}
}

func TestAUROCUndefined(t *testing.T) {
	if v := AUROC([]float64{1, 2}, []bool{true, true}); !math.IsNaN(v) {
		t.Errorf("no negatives: %v, want NaN", v)
	}
	if v := AUROC([]float64{1, math.NaN()}, []bool{true, false}); !math.IsNaN(v) {
		t.Errorf("NaN score: %v, want NaN", v)
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic for mismatched lengths")
		}
	}()
	AUROC([]float64{1}, []bool{true, false})
}
