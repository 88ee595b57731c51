package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

func near(t *testing.T, what string, got, want float64, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Fatalf("%s: got %v want %v", what, got, want)
	}
}

// TestKernelsMatchReference checks every kernel against a plain float64 loop
// on lengths that exercise vector bodies and remainders.
func TestKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 16, 33, 1000} {
		x, g := randSlice(r, n), randSlice(r, n)
		dst := make([]float32, n)
		ReLU(dst, x)
		for i, v := range x {
			if want := float32(math.Max(float64(v), 0)); dst[i] != want {
				t.Fatalf("n=%d relu[%d]=%v want %v", n, i, dst[i], want)
			}
		}
		y := append([]float32(nil), dst...)
		ReLUGrad(dst, g, y)
		for i := range y {
			want := float32(0)
			if y[i] > 0 {
				want = g[i]
			}
			if dst[i] != want {
				t.Fatalf("n=%d relugrad[%d]=%v want %v", n, i, dst[i], want)
			}
		}
		sum := make([]float32, n)
		Add(sum, x, g)
		for i := range sum {
			if sum[i] != x[i]+g[i] {
				t.Fatalf("n=%d add[%d]=%v want %v", n, i, sum[i], x[i]+g[i])
			}
		}
		var s, ss, sg, sgx float64
		const m = 0.1
		for i := range x {
			s += float64(x[i])
			ss += (float64(x[i]) - m) * (float64(x[i]) - m)
			sg += float64(g[i])
			sgx += float64(g[i]) * (float64(x[i]) - m)
		}
		one := Channel{N: 1, Stride: n, HW: n} // the whole slice as one plane
		near(t, "sum", ChSum(x, one), s, 1e-5)
		near(t, "sumsqdev", ChSumSqDev(x, one, m), ss, 1e-5)
		a, b := ChDotDev(g, nil, x, one, m)
		near(t, "dot g", a, sg, 1e-5)
		near(t, "dot gx", b, sgx, 1e-5)
		ChAffine(dst, x, nil, false, one, m, 2, 0.5)
		ChBNGrad(y, g, nil, x, one, m, 1.5, 2, 0.25, 0.75)
		for i := range x {
			near(t, "affine", float64(dst[i]), (float64(x[i])-m)*2+0.5, 1e-6)
			near(t, "bngrad", float64(y[i]), 2*(float64(g[i])-0.25-(float64(x[i])-m)*1.5*0.75), 1e-5)
		}
	}
}

func TestReLUKeepsNaN(t *testing.T) {
	dst := make([]float32, 3)
	ReLU(dst, []float32{float32(math.NaN()), -1, float32(math.Inf(1))})
	if dst[0] == dst[0] || dst[1] != 0 || !math.IsInf(float64(dst[2]), 1) {
		t.Fatalf("got %v", dst)
	}
}

func TestSGDMatchesTorchRule(t *testing.T) {
	w, g, buf := []float32{1}, []float32{2}, []float32{0}
	SGD(w, g, buf, 0.1, 0.9, 0.5, true, false) // d=2.5, buf=2.5, step 2.5+2.25
	near(t, "w", float64(w[0]), 1-0.475, 1e-6)
	SGD(w, g, buf, 0.1, 0.9, 0.5, true, true)
	near(t, "w2", float64(w[0]), 0.525-0.632375, 1e-6)
	w = []float32{1}
	SGD(w, g, nil, 0.1, 0, 0, false, false)
	near(t, "plain", float64(w[0]), 0.8, 1e-6)
}

// TestChannelKernelsMatchPlanes checks the per-channel kernels on strided
// planes of an NCHW tensor, and that they leave other channels alone.
func TestChannelKernelsMatchPlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, ch, hw, c = 3, 4, 37, 2
	x, g := randSlice(r, n*ch*hw), randSlice(r, n*ch*hw)
	cc := Channel{Off: c * hw, N: n, Stride: ch * hw, HW: hw}
	plane := func(v []float32, i int) []float32 { return v[(i*ch+c)*hw : (i*ch+c+1)*hw] }
	var s, ss, sg, sgx float64
	const m = -0.05
	for i := 0; i < n; i++ {
		for j, v := range plane(x, i) {
			gv := float64(plane(g, i)[j])
			s += float64(v)
			ss += (float64(v) - m) * (float64(v) - m)
			sg += gv
			sgx += gv * (float64(v) - m)
		}
	}
	near(t, "chsum", ChSum(x, cc), s, 1e-6)
	near(t, "chsumsqdev", ChSumSqDev(x, cc, m), ss, 1e-6)
	a, b := ChDotDev(g, nil, x, cc, m)
	near(t, "chdot g", a, sg, 1e-6)
	near(t, "chdot gx", b, sgx, 1e-6)
	d1, d2 := make([]float32, len(x)), make([]float32, len(x))
	ChAffine(d1, x, nil, false, cc, m, 1.5, 0.25)
	ChBNGrad(d2, g, nil, x, cc, m, 2, 0.5, 0.1, 0.2)
	for i := range x {
		inside := (i/hw)%ch == c
		if !inside {
			if d1[i] != 0 || d2[i] != 0 {
				t.Fatalf("element %d outside the channel written", i)
			}
			continue
		}
		near(t, "chaffine", float64(d1[i]), (float64(x[i])-m)*1.5+0.25, 1e-6)
		near(t, "chbngrad", float64(d2[i]), 0.5*(float64(g[i])-0.1-(float64(x[i])-m)*2*0.2), 1e-5)
	}
}

// TestChannelKernelsFuseReLU checks the ReLU-fused forms against the plain
// kernels followed by ReLU / ReLUGrad.
func TestChannelKernelsFuseReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, ch, hw, c = 2, 3, 29, 1
	x, g := randSlice(r, n*ch*hw), randSlice(r, n*ch*hw)
	cc := Channel{Off: c * hw, N: n, Stride: ch * hw, HW: hw}
	const m = 0.02
	y, want := make([]float32, len(x)), make([]float32, len(x))
	ChAffine(y, x, nil, true, cc, m, 1.5, -0.1)
	ChAffine(want, x, nil, false, cc, m, 1.5, -0.1)
	ReLU(want, want)
	for i := range y {
		if y[i] != want[i] {
			t.Fatalf("fused relu[%d]=%v want %v", i, y[i], want[i])
		}
	}
	gm := make([]float32, len(g))
	ReLUGrad(gm, g, y)
	a1, b1 := ChDotDev(g, y, x, cc, m)
	a2, b2 := ChDotDev(gm, nil, x, cc, m)
	near(t, "masked dot g", a1, a2, 1e-6)
	near(t, "masked dot gx", b1, b2, 1e-6)
	d1, d2 := make([]float32, len(x)), make([]float32, len(x))
	ChBNGrad(d1, g, y, x, cc, m, 2, 0.5, 0.1, 0.2)
	ChBNGrad(d2, gm, nil, x, cc, m, 2, 0.5, 0.1, 0.2)
	ChAffine(d1[:0:0], nil, nil, false, Channel{}, 0, 0, 0) // empty channel: no-op
	e1, e2 := make([]float32, len(x)), make([]float32, len(x))
	ChAffine(e1, g, y, false, cc, 0, 3, 0)
	ChAffine(e2, gm, nil, false, cc, 0, 3, 0)
	for i := range d1 {
		near(t, "masked bngrad", float64(d1[i]), float64(d2[i]), 1e-6)
		near(t, "masked scale", float64(e1[i]), float64(e2[i]), 1e-6)
	}
}

func TestAdamMatchesTorchRule(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, decoupled := range []bool{false, true} {
		w, g := randSlice(r, 37), randSlice(r, 37)
		m, v := randSlice(r, 37), randSlice(r, 37)
		for i := range v {
			v[i] = v[i] * v[i]
		}
		w0, m0, v0 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		const lr, b1, b2, eps, wd, step, sq2 = 0.01, 0.9, 0.999, 1e-8, 0.05, 0.1, 0.05
		Adam(w, g, m, v, lr, b1, b2, eps, wd, decoupled, step, sq2)
		for i := range w {
			wi, gi := float64(w0[i]), float64(g[i])
			if decoupled {
				wi *= 1 - lr*wd
			} else {
				gi += wd * wi
			}
			mi := b1*float64(m0[i]) + (1-b1)*gi
			vi := b2*float64(v0[i]) + (1-b2)*gi*gi
			near(t, "m", float64(m[i]), mi, 1e-6)
			near(t, "v", float64(v[i]), vi, 1e-6)
			near(t, "w", float64(w[i]), wi-step*mi/(math.Sqrt(vi)/sq2+eps), 1e-5)
		}
	}
}
