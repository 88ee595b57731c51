package autograd

import (
	"fmt"

	"ebyd/internal/blas"
	"ebyd/internal/dnnl"
	"ebyd/tensor"
)

// ConvOpts are the hyper-parameters of Conv2d; zero Stride means 1 and zero
// Groups means 1.
type ConvOpts struct {
	Stride, Padding, Groups int
}

// colTarget is the number of output positions unfolded at once: small feature
// maps (ResNet's last stages) are batched over several images so that each
// matrix multiplication stays large enough to run near peak.
const colTarget = 1024

// maxColFloats caps one worker's unfolded buffer (16 MiB).
const maxColFloats = 4 << 20

// Conv2d is a 2-D cross-correlation as torch.nn.functional.conv2d: x is
// [N, Cin, H, W], w is [Cout, Cin/groups, KH, KW], b is [Cout] or nil.
func Conv2d(x, w, b *Var, o ConvOpts) *Var {
	if o.Stride == 0 {
		o.Stride = 1
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd: Conv2d: input %v and weight %v must both be 4-D", xs, ws))
	}
	n, cin, cout, groups := xs[0], xs[1], ws[0], o.Groups
	if cin%groups != 0 || cout%groups != 0 || ws[1] != cin/groups {
		panic(fmt.Sprintf("autograd: Conv2d: input %v does not fit weight %v with %d groups", xs, ws, groups))
	}
	if b != nil && (len(b.Value.Shape) != 1 || b.Value.Shape[0] != cout) {
		panic(fmt.Sprintf("autograd: Conv2d: bias %v for %d output channels", b.Value.Shape, cout))
	}
	g := tensor.ConvGeom{C: cin / groups, H: xs[2], W: xs[3], KH: ws[2], KW: ws[3],
		SH: o.Stride, SW: o.Stride, PH: o.Padding, PW: o.Padding}
	if !g.Geometry() {
		panic(fmt.Sprintf("autograd: Conv2d: kernel %dx%d with padding %d does not fit input %v", g.KH, g.KW, o.Padding, xs))
	}
	c := conv{g: g, n: n, cin: cin, cout: cout, groups: groups}
	if UseDNNL {
		return c.viaDNNL(x, w, b, newFull(n, cout, g.OH, g.OW))
	}
	y := newOut(n, cout, g.OH, g.OW)
	c.forward(x.Value.Data, w.Value.Data, y.Data)
	if b != nil {
		addBias(y.Data, b.Value.Data, n, cout, g.OH*g.OW)
	}
	return result(y, func(out *Var) {
		c.backward(x, w, b, out.Grad.Data)
	}, x, w, b)
}

// UseDNNL routes convolutions through oneDNN when it is built in (see package
// internal/dnnl); set it to false to use the engine's im2col + SGEMM route.
var UseDNNL = dnnl.Available

func (c *conv) shape(bias bool) dnnl.Shape {
	return dnnl.Shape{N: c.n, Cin: c.cin, H: c.g.H, W: c.g.W, Cout: c.cout, KH: c.g.KH, KW: c.g.KW,
		Stride: c.g.SH, Pad: c.g.PH, Groups: c.groups, OH: c.g.OH, OW: c.g.OW, Bias: bias}
}

func (c *conv) viaDNNL(x, w, b *Var, y *tensor.Tensor) *Var {
	s := c.shape(b != nil)
	var bd []float32
	if b != nil {
		bd = b.Value.Data
	}
	// Keep the input in oneDNN's layout for the weight gradient, when one
	// will be computed: it saves reordering the activation a second time.
	var keep []float32
	if GradEnabled() && w.requiresGrad {
		if n := dnnl.KeepSize(s); n > 0 {
			keep = scratch(n)
		}
	}
	must(dnnl.Forward(s, x.Value.Data, w.Value.Data, bd, y.Data, keep))
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		var dx, dw, db []float32
		if x.requiresGrad {
			dx = scratch(len(x.Value.Data))
		}
		if w.requiresGrad || (b != nil && b.requiresGrad) {
			dw = scratch(len(w.Value.Data))
			if b != nil {
				db = make([]float32, c.cout)
			}
		}
		must(dnnl.Backward(s, x.Value.Data, w.Value.Data, dy, dx, dw, db, keep))
		release(keep)
		if dx != nil {
			x.accumulate(dx)
		}
		if w.requiresGrad {
			w.accumulate(dw)
		}
		if b != nil && b.requiresGrad {
			b.accumulate(db)
		}
	}, x, w, b)
}

func must(err error) {
	if err != nil {
		panic("autograd: Conv2d: " + err.Error())
	}
}

type conv struct {
	g                    tensor.ConvGeom
	n, cin, cout, groups int
}

func (c *conv) k() int     { return c.g.C * c.g.KH * c.g.KW }
func (c *conv) ohw() int   { return c.g.OH * c.g.OW }
func (c *conv) coutG() int { return c.cout / c.groups }

// direct reports whether the input image itself is the unfolded matrix (1×1
// kernel, stride 1, no padding), so no unfolding is needed.
func (c *conv) direct() bool {
	return c.g.KH == 1 && c.g.KW == 1 && c.g.SH == 1 && c.g.SW == 1 && c.g.PH == 0 && c.g.PW == 0
}

// block is the number of images unfolded together by one worker.
func (c *conv) block(avail int) int {
	if c.direct() {
		return 1
	}
	nb := (colTarget + c.ohw() - 1) / c.ohw()
	if lim := maxColFloats / max(1, c.k()*c.ohw()); nb > lim {
		nb = lim
	}
	return max(1, min(nb, avail))
}

// unfold writes the columns of images [b0, b0+nb) of group grp into col
// ([k, nb·ohw]) and returns it; for direct convolutions of one image it
// returns the image itself.
func (c *conv) unfold(x []float32, b0, nb, grp int, col []float32) ([]float32, int) {
	hw := c.g.H * c.g.W
	ohw := c.ohw()
	if c.direct() && nb == 1 {
		off := (b0*c.cin + grp*c.g.C) * hw
		return x[off : off+c.g.C*hw], ohw
	}
	ld := nb * ohw
	for i := 0; i < nb; i++ {
		off := ((b0+i)*c.cin + grp*c.g.C) * hw
		tensor.Im2Col(&c.g, x[off:off+c.g.C*hw], col[i*ohw:], ld)
	}
	return col, ld
}

func (c *conv) forward(x, w, y []float32) {
	k, ohw, cg := c.k(), c.ohw(), c.coutG()
	tensor.Parallel(c.n, func(_, lo, hi int) {
		nb := c.block(hi - lo)
		col := tensor.GetScratch(k * nb * ohw)
		defer tensor.PutScratch(col)
		var tmp []float32
		if nb > 1 {
			tmp = tensor.GetScratch(cg * nb * ohw)
			defer tensor.PutScratch(tmp)
		}
		for b0 := lo; b0 < hi; b0 += nb {
			m := min(nb, hi-b0)
			for grp := 0; grp < c.groups; grp++ {
				a, ld := c.unfold(x, b0, m, grp, col)
				wg := w[grp*cg*k : (grp+1)*cg*k]
				if m == 1 {
					dst := y[(b0*c.cout+grp*cg)*ohw : (b0*c.cout+(grp+1)*cg)*ohw]
					blas.Sgemm(false, false, cg, ohw, k, 1, wg, k, a, ld, 0, dst, ohw)
					continue
				}
				blas.Sgemm(false, false, cg, m*ohw, k, 1, wg, k, a, ld, 0, tmp, m*ohw)
				for i := 0; i < m; i++ {
					for co := 0; co < cg; co++ {
						copy(y[((b0+i)*c.cout+grp*cg+co)*ohw:][:ohw], tmp[co*m*ohw+i*ohw:][:ohw])
					}
				}
			}
		}
	})
}

func (c *conv) backward(x, w, b *Var, dy []float32) {
	k, ohw, cg := c.k(), c.ohw(), c.coutG()
	xd, wd := x.Value.Data, w.Value.Data
	var dx []float32
	if x.requiresGrad {
		dx = x.gradBuf().Data
	}
	parts := tensor.Chunks(c.n)
	var dws [][]float32
	if w.requiresGrad {
		dws = make([][]float32, parts)
	}
	tensor.Parallel(c.n, func(worker, lo, hi int) {
		nb := c.block(hi - lo)
		col := tensor.GetScratch(k * nb * ohw)
		defer tensor.PutScratch(col)
		var dyb, dcol []float32
		if nb > 1 {
			dyb = tensor.GetScratch(cg * nb * ohw)
			defer tensor.PutScratch(dyb)
		}
		if dx != nil {
			dcol = tensor.GetScratch(k * nb * ohw)
			defer tensor.PutScratch(dcol)
		}
		var dw []float32
		if dws != nil {
			dw = tensor.GetScratch(len(wd))
			clear(dw)
			dws[worker] = dw
		}
		hw := c.g.H * c.g.W
		for b0 := lo; b0 < hi; b0 += nb {
			m := min(nb, hi-b0)
			for grp := 0; grp < c.groups; grp++ {
				// Gather this block's output gradient as [cg, m·ohw].
				g, ldg := dy[(b0*c.cout+grp*cg)*ohw:], ohw
				if m > 1 {
					for i := 0; i < m; i++ {
						for co := 0; co < cg; co++ {
							copy(dyb[co*m*ohw+i*ohw:][:ohw], dy[((b0+i)*c.cout+grp*cg+co)*ohw:][:ohw])
						}
					}
					g, ldg = dyb, m*ohw
				}
				if dw != nil {
					a, ld := c.unfold(xd, b0, m, grp, col)
					blas.Sgemm(false, true, cg, k, m*ohw, 1, g, ldg, a, ld, 1, dw[grp*cg*k:], k)
				}
				if dx == nil {
					continue
				}
				wg := wd[grp*cg*k : (grp+1)*cg*k]
				if c.direct() && m == 1 {
					off := (b0*c.cin + grp*c.g.C) * hw
					blas.Sgemm(true, false, k, ohw, cg, 1, wg, k, g, ldg, 1, dx[off:off+c.g.C*hw], ohw)
					continue
				}
				ld := m * ohw
				blas.Sgemm(true, false, k, ld, cg, 1, wg, k, g, ldg, 0, dcol, ld)
				for i := 0; i < m; i++ {
					off := ((b0+i)*c.cin + grp*c.g.C) * hw
					tensor.Col2Im(&c.g, dcol[i*ohw:], ld, dx[off:off+c.g.C*hw])
				}
			}
		}
	})
	if dws != nil {
		// Partial sums are added in worker order: reproducible bit for bit.
		dw := w.gradBuf().Data
		for _, p := range dws {
			addTo(dw, p)
			tensor.PutScratch(p)
		}
	}
	if b != nil && b.requiresGrad {
		b.accumulate(biasGrad(dy, c.n, c.cout, ohw))
	}
}

// addBias adds b[c] to every position of channel c of y ([n, ch, hw]).
func addBias(y, b []float32, n, ch, hw int) {
	for i := 0; i < n; i++ {
		for c := 0; c < ch; c++ {
			row := y[(i*ch+c)*hw : (i*ch+c+1)*hw]
			v := b[c]
			for j := range row {
				row[j] += v
			}
		}
	}
}

// biasGrad sums dy ([n, ch, hw]) over everything but the channel, in a fixed
// order and in float64.
func biasGrad(dy []float32, n, ch, hw int) []float32 {
	acc := make([]float64, ch)
	for i := 0; i < n; i++ {
		for c := 0; c < ch; c++ {
			var s float32
			for _, v := range dy[(i*ch+c)*hw : (i*ch+c+1)*hw] {
				s += v
			}
			acc[c] += float64(s)
		}
	}
	out := make([]float32, ch)
	for c, v := range acc {
		out[c] = float32(v)
	}
	return out
}
