package autograd

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"ebyd/internal/dnnl"
	"ebyd/tensor"
)

// dnnlCase is one convolution compared between oneDNN and the im2col route.
type dnnlCase struct {
	n, cin, h, w, cout, k int
	o                     ConvOpts
	bias                  bool
	// which inputs require a gradient: "" means all of them
	grads string // "x", "wb" (a first layer), "b" (bias alone)
}

var dnnlCases = []dnnlCase{
	{n: 1, cin: 3, h: 8, w: 8, cout: 4, k: 3, o: ConvOpts{Padding: 1}, bias: true},
	{n: 3, cin: 4, h: 7, w: 9, cout: 6, k: 3}, // odd sizes, no padding
	{n: 5, cin: 3, h: 9, w: 7, cout: 5, k: 3, o: ConvOpts{Stride: 2, Padding: 1}, bias: true},
	{n: 3, cin: 4, h: 8, w: 8, cout: 8, k: 3, o: ConvOpts{Stride: 2}, bias: true},
	{n: 3, cin: 8, h: 6, w: 6, cout: 16, k: 1},                        // 1×1, stride 1
	{n: 3, cin: 8, h: 7, w: 9, cout: 4, k: 1, o: ConvOpts{Stride: 2}}, // strided 1×1 shortcut
	{n: 3, cin: 4, h: 7, w: 7, cout: 6, k: 3, o: ConvOpts{Padding: 1, Groups: 2}, bias: true},
	{n: 5, cin: 6, h: 8, w: 8, cout: 6, k: 3, o: ConvOpts{Padding: 1, Groups: 6}}, // depthwise
	{n: 3, cin: 6, h: 9, w: 7, cout: 6, k: 3, o: ConvOpts{Stride: 2, Padding: 1, Groups: 6}, bias: true},
	{n: 3, cin: 4, h: 6, w: 5, cout: 8, k: 3, o: ConvOpts{Padding: 1, Groups: 4}},    // two filters per group
	{n: 3, cin: 3, h: 3, w: 3, cout: 5, k: 3, bias: true},                            // one output pixel
	{n: 3, cin: 4, h: 1, w: 1, cout: 5, k: 3, o: ConvOpts{Padding: 1}, bias: true},   // one pixel, all padding around
	{n: 5, cin: 3, h: 1, w: 1, cout: 4, k: 1, bias: true},                            // 1×1 image
	{n: 3, cin: 16, h: 4, w: 4, cout: 32, k: 3, o: ConvOpts{Padding: 1}, bias: true}, // wide, small map
	{n: 1, cin: 3, h: 28, w: 28, cout: 8, k: 5, o: ConvOpts{Padding: 2}, bias: true}, // 5×5
	{n: 3, cin: 3, h: 7, w: 9, cout: 4, k: 2, o: ConvOpts{Stride: 2}, bias: true},    // even kernel
	{n: 3, cin: 3, h: 8, w: 8, cout: 4, k: 3, o: ConvOpts{Padding: 1}, bias: true, grads: "wb"},
	{n: 3, cin: 3, h: 8, w: 8, cout: 4, k: 3, o: ConvOpts{Padding: 1}, bias: true, grads: "x"},
	{n: 3, cin: 3, h: 8, w: 8, cout: 4, k: 3, o: ConvOpts{Padding: 1}, bias: true, grads: "b"},
}

func (c dnnlCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_o%d_k%d_s%d_p%d_g%d_b%v_%s", c.n, c.cin, c.h, c.w, c.cout, c.k,
		c.o.Stride, c.o.Padding, c.o.Groups, c.bias, c.grads)
}

// dnnlRun is the forward value and the gradients of one convolution, nil
// where no gradient was asked for.
type dnnlRun struct{ y, dx, dw, db *tensor.Tensor }

// run computes case i with the route selected by dnnlOn, from inputs and an
// output gradient drawn from seeds that depend on i only.
func (c dnnlCase) run(i int, dnnlOn bool) dnnlRun {
	old := UseDNNL
	UseDNNL = dnnlOn
	defer func() { UseDNNL = old }()
	g := max(c.o.Groups, 1)
	s := uint64(10 * i)
	x := RandVar(s+1, c.grads == "" || c.grads == "x", c.n, c.cin, c.h, c.w)
	w := RandVar(s+2, c.grads == "" || c.grads == "wb", c.cout, c.cin/g, c.k, c.k)
	var b *Var
	if c.bias {
		b = RandVar(s+3, c.grads != "x", c.cout)
	}
	y := Conv2d(x, w, b, c.o)
	gy := RandVar(s+4, false, y.Value.Shape...).Value
	BackwardWith(y, gy)
	r := dnnlRun{y: y.Value.Clone()}
	if x.Grad != nil {
		r.dx = x.Grad.Clone()
	}
	if w.Grad != nil {
		r.dw = w.Grad.Clone()
	}
	if b != nil && b.Grad != nil {
		r.db = b.Grad.Clone()
	}
	return r
}

// dnnlCompare reports the first tensor of got that differs from want by more
// than tol times the largest magnitude of want's tensor (tol 0: bitwise).
func dnnlCompare(want, got dnnlRun, tol float64) error {
	pairs := []struct {
		name string
		a, b *tensor.Tensor
	}{{"output", want.y, got.y}, {"input gradient", want.dx, got.dx},
		{"weight gradient", want.dw, got.dw}, {"bias gradient", want.db, got.db}}
	for _, p := range pairs {
		if (p.a == nil) != (p.b == nil) {
			return fmt.Errorf("%s: present %v, want %v", p.name, p.b != nil, p.a != nil)
		}
		if p.a == nil {
			continue
		}
		if !tensor.SameShape(p.a.Shape, p.b.Shape) {
			return fmt.Errorf("%s: shape %v, want %v", p.name, p.b.Shape, p.a.Shape)
		}
		var scale float64
		for _, v := range p.a.Data {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i, v := range p.a.Data {
			u := p.b.Data[i]
			if tol == 0 && math.Float32bits(u) != math.Float32bits(v) ||
				math.Abs(float64(u)-float64(v)) > tol*scale || math.IsNaN(float64(u)) {
				return fmt.Errorf("%s element %d: %v, want %v (max |want| %v)", p.name, i, u, v, scale)
			}
		}
	}
	return nil
}

func TestConv2dDNNLMatchesIm2Col(t *testing.T) {
	if !dnnl.Available {
		t.Skip("oneDNN not built in")
	}
	for i, c := range dnnlCases {
		t.Run(c.String(), func(t *testing.T) {
			ref := c.run(i, false)
			got := c.run(i, true)
			if err := dnnlCompare(ref, got, 1e-5); err != nil {
				t.Fatalf("oneDNN vs im2col: %v", err)
			}
			// The same shape again (a cached primitive, the shared work
			// buffers already filled by other shapes) gives the same bits.
			if err := dnnlCompare(got, c.run(i, true), 0); err != nil {
				t.Fatalf("second oneDNN call: %v", err)
			}
		})
	}
	if UseDNNL != dnnl.Available {
		t.Fatal("UseDNNL was not restored")
	}
}

// TestConv2dDNNLAnyThread runs the same convolutions from two goroutines in
// turn, each locked to its own OS thread and exiting locked so that its
// thread is destroyed: the second cannot run where the first did, and must
// still get the first's results.
func TestConv2dDNNLAnyThread(t *testing.T) {
	if !dnnl.Available {
		t.Skip("oneDNN not built in")
	}
	idx := []int{0, 2, 7, 13}
	onNewThread := func() []dnnlRun {
		out := make(chan []dnnlRun)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			var rs []dnnlRun
			for _, i := range idx {
				rs = append(rs, dnnlCases[i].run(i, true))
			}
			out <- rs
		}()
		return <-out
	}
	first := onNewThread()
	second := onNewThread()
	for k, i := range idx {
		if err := dnnlCompare(first[k], second[k], 0); err != nil {
			t.Fatalf("case %v on another thread: %v", dnnlCases[i], err)
		}
		if err := dnnlCompare(dnnlCases[i].run(i, false), second[k], 1e-5); err != nil {
			t.Fatalf("case %v on another thread vs im2col: %v", dnnlCases[i], err)
		}
	}
}

// TestConv2dDNNLThreadCounts runs oneDNN with one and with three threads
// (GOMAXPROCS at the time of the call) and checks the results still match
// the im2col route.
func TestConv2dDNNLThreadCounts(t *testing.T) {
	if !dnnl.Available {
		t.Skip("oneDNN not built in")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 3} {
		runtime.GOMAXPROCS(procs)
		for _, i := range []int{2, 8} {
			c := dnnlCases[i]
			if err := dnnlCompare(c.run(i, false), c.run(i, true), 1e-5); err != nil {
				t.Fatalf("GOMAXPROCS=%d, case %v: %v", procs, c, err)
			}
		}
	}
}
