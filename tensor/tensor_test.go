package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// mustPanic checks that fn panics with a message containing want.
func mustPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one containing %q", want)
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Fatalf("panic %q, want one containing %q", msg, want)
		}
	}()
	fn()
}

func TestNewAndFromData(t *testing.T) {
	shape := []int{2, 3}
	x := New(shape...)
	shape[0] = 7 // the tensor must hold its own copy of the shape
	if !SameShape(x.Shape, []int{2, 3}) || x.Len() != 6 || x.Dim() != 2 {
		t.Fatalf("New(2, 3) = shape %v, %d elements", x.Shape, x.Len())
	}
	for i, v := range x.Data {
		if v != 0 {
			t.Fatalf("New: element %d = %v, want 0", i, v)
		}
	}
	if s := New(); s.Dim() != 0 || s.Len() != 1 {
		t.Fatalf("New() = shape %v, %d elements; want a scalar", s.Shape, s.Len())
	}
	if e := New(3, 0, 2); e.Len() != 0 {
		t.Fatalf("New(3, 0, 2) has %d elements", e.Len())
	}

	d := []float32{1, 2, 3, 4, 5, 6}
	f := FromData(d, 3, 2)
	d[0] = 42 // FromData wraps, it does not copy
	if f.Data[0] != 42 {
		t.Fatal("FromData copied its data")
	}
	for _, c := range []struct {
		n     int
		shape []int
	}{{5, []int{2, 3}}, {7, []int{2, 3}}, {0, []int{1}}, {2, []int{}}, {1, []int{0}}} {
		mustPanic(t, "do not fill shape", func() { FromData(make([]float32, c.n), c.shape...) })
	}
	mustPanic(t, "negative dimension", func() { New(2, -1) })

	if s := Scalar(2.5); s.Dim() != 0 || s.Data[0] != 2.5 {
		t.Fatalf("Scalar(2.5) = %v", s)
	}
	full := Full(3, 2, 2)
	for _, v := range full.Data {
		if v != 3 {
			t.Fatalf("Full(3, 2, 2) = %v", full.Data)
		}
	}
}

func TestReshape(t *testing.T) {
	x := FromData([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 3, 2)
	cases := []struct {
		in, want []int
	}{
		{[]int{12}, []int{12}},
		{[]int{-1}, []int{12}},
		{[]int{4, -1}, []int{4, 3}},
		{[]int{-1, 6}, []int{2, 6}},
		{[]int{2, -1, 3}, []int{2, 2, 3}},
		{[]int{1, 12, 1}, []int{1, 12, 1}},
		{[]int{3, 1, -1}, []int{3, 1, 4}},
	}
	for _, c := range cases {
		y := x.Reshape(c.in...)
		if !SameShape(y.Shape, c.want) {
			t.Errorf("Reshape(%v) = %v, want %v", c.in, y.Shape, c.want)
		}
		if &y.Data[0] != &x.Data[0] {
			t.Errorf("Reshape(%v) does not share data", c.in)
		}
	}
	// The result must not alias the caller's shape slice.
	arg := []int{3, -1}
	y := x.Reshape(arg...)
	if arg[1] != -1 {
		t.Errorf("Reshape wrote into its argument: %v", arg)
	}
	arg[0] = 99
	if y.Shape[0] != 3 {
		t.Errorf("Reshape aliases its argument: shape %v", y.Shape)
	}
	bad := []struct {
		shape []int
		msg   string
	}{
		{[]int{-1, -1}, "more than one -1"},
		{[]int{5, -1}, "cannot reshape"},
		{[]int{0, -1}, "cannot reshape"},
		{[]int{5}, "cannot reshape"},
		{[]int{2, 2, 2}, "cannot reshape"},
		{[]int{13}, "cannot reshape"},
	}
	for _, b := range bad {
		mustPanic(t, b.msg, func() { x.Reshape(b.shape...) })
	}
	// An empty tensor reshapes to -1 as length 0.
	if e := New(0, 4).Reshape(-1); !SameShape(e.Shape, []int{0}) {
		t.Errorf("empty Reshape(-1) = %v", e.Shape)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	x := FromData([]float32{1, 2, 3, 4}, 2, 2)
	c := x.Clone()
	c.Data[0] = 9
	c.Shape[0] = 4
	if x.Data[0] != 1 || x.Shape[0] != 2 {
		t.Fatalf("mutating the clone changed the original: %v", x)
	}
	x.Data[1] = 8
	if c.Data[1] != 2 {
		t.Fatal("mutating the original changed the clone")
	}
}

func TestCopyFromAndZero(t *testing.T) {
	x := New(2, 2)
	x.CopyFrom(FromData([]float32{1, 2, 3, 4}, 2, 2))
	if x.Data[3] != 4 {
		t.Fatalf("CopyFrom: %v", x.Data)
	}
	mustPanic(t, "copy of shape", func() { x.CopyFrom(New(4)) })
	x.Zero()
	for _, v := range x.Data {
		if v != 0 {
			t.Fatalf("Zero: %v", x.Data)
		}
	}
}

func TestArgMaxRows(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		data []float32
		k    int
		want []int
	}{
		{[]float32{1, 3, 2}, 3, []int{1}},
		{[]float32{5, 5, 5}, 3, []int{0}},           // all tied: the first
		{[]float32{1, 7, 3, 7}, 4, []int{1}},        // tie between 1 and 3
		{[]float32{-3, -1, -1, -2}, 4, []int{1}},    // negative ties
		{[]float32{0, -inf, inf, inf}, 4, []int{2}}, // infinities
		{[]float32{2, 1, 1, 2, 0, 0}, 2, []int{0, 1, 0}},
		{[]float32{4}, 1, []int{0}},
	}
	for _, c := range cases {
		got := FromData(c.data, len(c.data)/c.k, c.k).ArgMaxRows()
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ArgMaxRows(%v, k=%d) = %v, want %v", c.data, c.k, got, c.want)
		}
	}
	mustPanic(t, "2-D", func() { New(4).ArgMaxRows() })
	mustPanic(t, "2-D", func() { New(1, 2, 2).ArgMaxRows() })
}

func TestHasNaN(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		data []float32
		want bool
	}{
		{nil, false},
		{[]float32{0, -1, math.MaxFloat32, math.SmallestNonzeroFloat32}, false},
		{[]float32{1, nan}, true},
		{[]float32{inf, 1}, true},
		{[]float32{1, -inf, 2}, true},
	}
	for _, c := range cases {
		if got := FromData(c.data, len(c.data)).HasNaN(); got != c.want {
			t.Errorf("HasNaN(%v) = %v, want %v", c.data, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	if s := FromData([]float32{1, 2}, 2).String(); s != "Tensor[2][1 2]" {
		t.Errorf("String = %q", s)
	}
	if s := New(2, 4).String(); !strings.HasSuffix(s, "…") || !strings.HasPrefix(s, "Tensor[2 4]") {
		t.Errorf("String of a long tensor = %q", s)
	}
}

// geoms are convolution windows covering stride, padding, 1×1 kernels,
// rectangular kernels and images, padding wider than the kernel reach, and
// single-pixel outputs.
var geoms = []ConvGeom{
	{C: 1, H: 4, W: 4, KH: 3, KW: 3, SH: 1, SW: 1},
	{C: 2, H: 5, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	{C: 3, H: 7, W: 7, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	{C: 2, H: 7, W: 9, KH: 3, KW: 3, SH: 2, SW: 2},
	{C: 4, H: 3, W: 5, KH: 1, KW: 1, SH: 1, SW: 1},
	{C: 2, H: 6, W: 6, KH: 1, KW: 1, SH: 2, SW: 2},
	{C: 2, H: 5, W: 4, KH: 2, KW: 3, SH: 1, SW: 2, PH: 0, PW: 1},
	{C: 1, H: 3, W: 3, KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2}, // rows and columns entirely in padding
	{C: 2, H: 3, W: 3, KH: 3, KW: 3, SH: 1, SW: 1},               // one output pixel
	{C: 1, H: 1, W: 1, KH: 1, KW: 1, SH: 1, SW: 1},
	{C: 2, H: 8, W: 5, KH: 5, KW: 2, SH: 3, SW: 1, PH: 2, PW: 0},
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func TestGeometry(t *testing.T) {
	cases := []struct {
		g      ConvGeom
		ok     bool
		oh, ow int
	}{
		{ConvGeom{H: 28, W: 28, KH: 3, KW: 3, SH: 1, SW: 1}, true, 26, 26},
		{ConvGeom{H: 32, W: 32, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1}, true, 16, 16},
		{ConvGeom{H: 7, W: 9, KH: 3, KW: 3, SH: 2, SW: 2}, true, 3, 4},
		{ConvGeom{H: 2, W: 2, KH: 3, KW: 3, SH: 1, SW: 1}, false, 0, 0},
		{ConvGeom{H: 2, W: 2, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}, true, 2, 2},
	}
	for _, c := range cases {
		g := c.g
		ok := g.Geometry()
		if ok != c.ok || (ok && (g.OH != c.oh || g.OW != c.ow)) {
			t.Errorf("%+v: Geometry = %v, %dx%d; want %v, %dx%d", c.g, ok, g.OH, g.OW, c.ok, c.oh, c.ow)
		}
	}
}

// TestIm2ColNaive compares Im2Col with the index formula of its doc comment,
// with a leading dimension wider than one image's columns: the gap between
// rows must be left alone.
func TestIm2ColNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const sentinel = float32(-777)
	for gi, g := range geoms {
		if !g.Geometry() {
			t.Fatalf("geometry %d does not fit", gi)
		}
		x := randSlice(r, g.C*g.H*g.W)
		ohw := g.OH * g.OW
		for _, extra := range []int{0, 3} {
			ld := ohw + extra
			rows := g.C * g.KH * g.KW
			col := make([]float32, rows*ld)
			for i := range col {
				col[i] = sentinel
			}
			Im2Col(&g, x, col, ld)
			for c := 0; c < g.C; c++ {
				for i := 0; i < g.KH; i++ {
					for j := 0; j < g.KW; j++ {
						row := (c*g.KH+i)*g.KW + j
						for oh := 0; oh < g.OH; oh++ {
							for ow := 0; ow < g.OW; ow++ {
								ih, iw := oh*g.SH-g.PH+i, ow*g.SW-g.PW+j
								want := float32(0)
								if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
									want = x[(c*g.H+ih)*g.W+iw]
								}
								if got := col[row*ld+oh*g.OW+ow]; got != want {
									t.Fatalf("geom %d ld %d: col[%d][%d,%d] = %v, want %v", gi, ld, row, oh, ow, got, want)
								}
							}
						}
						for k := ohw; k < ld; k++ {
							if col[row*ld+k] != sentinel {
								t.Fatalf("geom %d: Im2Col wrote into the gap of row %d", gi, row)
							}
						}
					}
				}
			}
		}
	}
}

// TestIm2ColCol2ImAdjoint checks ⟨Im2Col(x), c⟩ = ⟨x, Col2Im(c)⟩, and that
// Col2Im adds into its output rather than overwriting it.
func TestIm2ColCol2ImAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dot := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	for gi, g := range geoms {
		g.Geometry()
		ohw := g.OH * g.OW
		for _, extra := range []int{0, 2} {
			ld := ohw + extra
			rows := g.C * g.KH * g.KW
			x := randSlice(r, g.C*g.H*g.W)
			c := randSlice(r, rows*ld)
			for row := 0; row < rows; row++ {
				clear(c[row*ld+ohw : (row+1)*ld]) // the gap holds no data
			}
			col := make([]float32, rows*ld)
			Im2Col(&g, x, col, ld)
			base := randSlice(r, len(x))
			back := append([]float32(nil), base...)
			Col2Im(&g, c, ld, back)
			for i := range back {
				back[i] -= base[i]
			}
			lhs, rhs := dot(col, c), dot(x, back)
			if math.Abs(lhs-rhs) > 1e-4*math.Max(1, math.Abs(lhs)) {
				t.Errorf("geom %d ld %d: <Im2Col x, c> = %v, <x, Col2Im c> = %v", gi, ld, lhs, rhs)
			}
		}
	}
}

// withProcs runs fn with GOMAXPROCS set to p.
func withProcs(p int, fn func()) {
	old := runtime.GOMAXPROCS(p)
	defer runtime.GOMAXPROCS(old)
	fn()
}

func TestParallelPartition(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 10, 100, 101} {
			withProcs(p, func() {
				type chunk struct{ w, lo, hi int }
				var mu sync.Mutex
				var got []chunk
				hits := make([]int, n)
				Parallel(n, func(w, lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i]++ // chunks are disjoint, so no race
					}
					mu.Lock()
					got = append(got, chunk{w, lo, hi})
					mu.Unlock()
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("p=%d n=%d: index %d covered %d times", p, n, i, h)
					}
				}
				if n == 0 {
					if len(got) != 0 {
						t.Fatalf("p=%d n=0: %d calls", p, len(got))
					}
					return
				}
				if len(got) != Chunks(n) || len(got) > p || len(got) > n {
					t.Fatalf("p=%d n=%d: %d chunks, Chunks = %d", p, n, len(got), Chunks(n))
				}
				sort.Slice(got, func(i, j int) bool { return got[i].w < got[j].w })
				size := got[0].hi - got[0].lo
				next := 0
				for i, c := range got {
					if c.w != i || c.lo != next || c.hi <= c.lo {
						t.Fatalf("p=%d n=%d: chunks %v are not contiguous in worker order", p, n, got)
					}
					if i < len(got)-1 && c.hi-c.lo != size || c.hi-c.lo > size {
						t.Fatalf("p=%d n=%d: chunk sizes %v are not equal (last shorter)", p, n, got)
					}
					next = c.hi
				}
				if next != n {
					t.Fatalf("p=%d n=%d: chunks end at %d", p, n, next)
				}
			})
		}
	}
}

func TestParallelElems(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		for _, n := range []int{0, 1, 1000, 2*grain - 1, 2 * grain, 3*grain + 5} {
			withProcs(p, func() {
				var mu sync.Mutex
				calls := 0
				hits := make([]uint8, n)
				ParallelElems(n, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i]++
					}
					mu.Lock()
					calls++
					mu.Unlock()
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("p=%d n=%d: element %d covered %d times", p, n, i, h)
					}
				}
				want := 1
				if n >= 2*grain && p > 1 {
					want = p
				}
				if calls != want {
					t.Fatalf("p=%d n=%d: %d calls, want %d", p, n, calls, want)
				}
			})
		}
	}
}

func TestScratch(t *testing.T) {
	if b := GetScratch(0); b != nil {
		t.Fatalf("GetScratch(0) = %v, want nil", b)
	}
	for _, n := range []int{1, 2, 3, 4, 5, 100, 1024, 1025, 70000} {
		b := GetScratch(n)
		if len(b) != n || cap(b) < n || cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("GetScratch(%d): len %d cap %d, want len %d and a power-of-two cap", n, len(b), cap(b), n)
		}
		for i := range b {
			b[i] = float32(i) // every element is writable
		}
		PutScratch(b)
		// The same class, a different length: the length must still be exact.
		m := n/2 + 1
		if c := GetScratch(m); len(c) != m {
			t.Fatalf("GetScratch(%d) after PutScratch: len %d", m, len(c))
		} else {
			PutScratch(c)
		}
	}
	// Foreign buffers are ignored rather than pooled with a wrong capacity.
	PutScratch(make([]float32, 3))
	PutScratch(nil)
	if b := GetScratch(3); len(b) != 3 || cap(b) != 4 {
		t.Fatalf("GetScratch(3) after a foreign PutScratch: len %d cap %d", len(b), cap(b))
	}
}
