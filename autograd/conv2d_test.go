package autograd

import (
	"ebyd/internal/dnnl"
	"ebyd/tensor"
	"fmt"
	"testing"
)

func TestConv2dGrad(t *testing.T) {
	for _, on := range []bool{false, true} {
		if on && !dnnl.Available {
			continue
		}
		UseDNNL = on
		t.Run(fmt.Sprintf("dnnl=%v", on), testConv2dGrad)
	}
	UseDNNL = dnnl.Available
}

func testConv2dGrad(t *testing.T) {
	cases := []struct {
		n, cin, h, w, cout, k int
		o                     ConvOpts
		bias                  bool
	}{
		{2, 3, 6, 5, 4, 3, ConvOpts{Stride: 1, Padding: 1}, true},
		{3, 2, 7, 7, 3, 3, ConvOpts{Stride: 2, Padding: 1}, false},
		{2, 4, 5, 5, 6, 1, ConvOpts{}, true},                                  // direct 1×1
		{2, 4, 6, 6, 4, 3, ConvOpts{Stride: 1, Padding: 1, Groups: 4}, false}, // depthwise
		{2, 4, 5, 5, 6, 3, ConvOpts{Groups: 2}, true},
		{5, 2, 3, 3, 3, 3, ConvOpts{Padding: 1}, true}, // small maps: several images per block
		{2, 2, 6, 6, 2, 1, ConvOpts{Stride: 2}, false}, // strided 1×1 (shortcut)
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			g := c.o.Groups
			if g == 0 {
				g = 1
			}
			x := RandVar(uint64(i), true, c.n, c.cin, c.h, c.w)
			w := RandVar(uint64(i)+100, true, c.cout, c.cin/g, c.k, c.k)
			var b *Var
			ins := []*Var{x, w}
			if c.bias {
				b = RandVar(uint64(i)+200, true, c.cout)
				ins = append(ins, b)
			}
			if err := CheckGrad(func() *Var { return Conv2d(x, w, b, c.o) }, ins, 1e-2, 1e-2); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConv2dValues(t *testing.T) {
	// 1×1×3×3 input 1..9, 2×2 kernel of ones, stride 1: sums of 2×2 windows.
	x := Const(tensorOf([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3))
	w := Const(tensorOf([]float32{1, 1, 1, 1}, 1, 1, 2, 2))
	y := Conv2d(x, w, nil, ConvOpts{})
	want := []float32{12, 16, 24, 28}
	for i, v := range want {
		if y.Value.Data[i] != v {
			t.Fatalf("got %v want %v", y.Value.Data, want)
		}
	}
}

func tensorOf(d []float32, shape ...int) *tensor.Tensor { return tensor.FromData(d, shape...) }
