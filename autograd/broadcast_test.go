package autograd

import (
	"math/rand/v2"
	"slices"
	"testing"

	"ebyd/tensor"
)

func TestBcastShape(t *testing.T) {
	cases := []struct{ a, b, want []int }{
		{[]int{2, 3}, []int{2, 3}, []int{2, 3}},
		{[]int{3, 1, 1}, []int{4, 3, 5, 6}, []int{4, 3, 5, 6}},
		{[]int{}, []int{2}, []int{2}},
		{[]int{2, 1}, []int{1, 3}, []int{2, 3}},
		{[]int{5, 1, 4}, []int{3, 1}, []int{5, 3, 4}},
		{[]int{0, 1}, []int{1, 3}, []int{0, 3}},
	}
	for _, c := range cases {
		if got := bcastShape("T", c.a, c.b); !slices.Equal(got, c.want) {
			t.Errorf("%v, %v: got %v, want %v", c.a, c.b, got, c.want)
		}
	}
	ckPanics(t, "autograd: T: shapes [2 3] and [4] do not broadcast", func() { bcastShape("T", []int{2, 3}, []int{4}) })
}

func TestBcastPlanCollapses(t *testing.T) {
	// A per-channel mask against NCHW: rows of H·W with the mask repeated.
	p := newBcastPlan([]int{4, 3, 5, 6}, []int{4, 3, 5, 6}, []int{1, 3, 1, 1})
	if !slices.Equal(p.dims, []int{4, 3, 30}) || !slices.Equal(p.strides[0], []int{90, 30, 1}) || !slices.Equal(p.strides[1], []int{0, 1, 0}) {
		t.Fatalf("plan %v %v", p.dims, p.strides)
	}
	// Same shapes: one row.
	p = newBcastPlan([]int{2, 3, 4}, []int{2, 3, 4}, []int{3, 4})
	if !slices.Equal(p.dims, []int{2, 12}) {
		t.Fatalf("plan %v %v", p.dims, p.strides)
	}
	p = newBcastPlan([]int{2, 3, 4}, []int{2, 3, 4}, []int{2, 3, 4})
	if !slices.Equal(p.dims, []int{24}) {
		t.Fatalf("plan %v %v", p.dims, p.strides)
	}
}

// naiveIndex maps a flat index of out to the flat index of an operand of the
// given shape broadcast to out, by explicit multi-indices.
func naiveIndex(i int, out, shape []int) int {
	r := len(out)
	idx := make([]int, r)
	for d := r - 1; d >= 0; d-- {
		idx[d] = i % out[d]
		i /= out[d]
	}
	j, step := 0, 1
	for d := 1; d <= len(shape); d++ {
		if s := shape[len(shape)-d]; s != 1 {
			j += idx[r-d] * step
			step *= s
		}
	}
	return j
}

// TestBcastAgainstNaive compares bcastApply, bcastExpand and bcastReduce
// with explicit index arithmetic on random broadcastable shapes.
func TestBcastAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		rank := r.IntN(5)
		out := make([]int, rank)
		for i := range out {
			out[i] = 1 + r.IntN(3)
		}
		mk := func() []int {
			n := r.IntN(rank + 1)
			s := slices.Clone(out[rank-n:])
			for i := range s {
				if r.IntN(2) == 0 {
					s[i] = 1
				}
			}
			return s
		}
		sa, sb := mk(), mk()
		full := bcastShape("T", sa, sb)
		a, b := RandVar(uint64(trial), false, sa...).Value, RandVar(uint64(trial+1000), false, sb...).Value
		y := bcastApply(full, a, b, subRow)
		n := tensor.Numel(full)
		for i := 0; i < n; i++ {
			want := a.Data[naiveIndex(i, full, sa)] - b.Data[naiveIndex(i, full, sb)]
			if y.Data[i] != want {
				t.Fatalf("%v - %v at %d: got %v, want %v", sa, sb, i, y.Data[i], want)
			}
		}
		e := bcastExpand(a.Data, sa, full)
		red := bcastReduce(slices.Clone(y.Data), full, sa)
		want := make([]float64, tensor.Numel(sa))
		for i := 0; i < n; i++ {
			if e[i] != a.Data[naiveIndex(i, full, sa)] {
				t.Fatalf("expand %v to %v at %d", sa, full, i)
			}
			want[naiveIndex(i, full, sa)] += float64(y.Data[i])
		}
		for i, w := range want {
			if red[i] != float32(w) {
				t.Fatalf("reduce %v to %v at %d: got %v, want %v", full, sa, i, red[i], w)
			}
		}
	}
}

func TestNormAxis(t *testing.T) {
	if normAxis("T", -1, 3) != 2 || normAxis("T", 0, 3) != 0 || normAxis("T", -3, 3) != 0 {
		t.Fatal("normAxis")
	}
	ckPanics(t, "autograd: T: dim 3 out of range", func() { normAxis("T", 3, 3) })
	ckPanics(t, "autograd: T: dim -4 out of range", func() { normAxis("T", -4, 3) })
}
