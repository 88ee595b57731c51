//go:build cgo && !purego

package vec

/*
#cgo CFLAGS: -O3 -fopenmp-simd
#cgo LDFLAGS: -lm
#include "vec.h"
// Declared here too: cgo did not see this one through vec.h (gcc alone does).
void ebyd_adam(float *w, const float *g, float *m, float *v, long n, float lr, float b1, float b2, float eps, float wd, int decoupled, float step, float sq2);
*/
import "C"

import "unsafe"

// Backend names the build in use.
const Backend = "c"

func p(x []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(x))) }

// ReLU writes max(src, 0) into dst (NaN passes through).
func ReLU(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	C.ebyd_relu(p(dst), p(src), C.long(len(src)))
}

// ReLUGrad writes g where y (a ReLU output) is not +0, and 0 elsewhere.
func ReLUGrad(dst, g, y []float32) {
	if len(y) == 0 {
		return
	}
	_, _ = dst[len(y)-1], g[len(y)-1]
	C.ebyd_relu_grad(p(dst), p(g), p(y), C.long(len(y)))
}

// Add writes a + b into dst (dst may be a or b).
func Add(dst, a, b []float32) {
	if len(dst) == 0 {
		return
	}
	_, _ = a[len(dst)-1], b[len(dst)-1]
	C.ebyd_add(p(dst), p(a), p(b), C.long(len(dst)))
}

// Channel is one channel of an NCHW tensor: N planes of HW floats, Stride
// floats apart, the first at Off.
type Channel struct{ Off, N, Stride, HW int }

func (c Channel) check(xs ...[]float32) {
	if c.N == 0 || c.HW == 0 {
		return
	}
	last := c.Off + (c.N-1)*c.Stride + c.HW - 1
	for _, x := range xs {
		_ = x[last]
	}
}

// ChSum is the sum of a channel, float32 within a plane, float64 across.
func ChSum(x []float32, c Channel) float64 {
	if c.N == 0 || c.HW == 0 {
		return 0
	}
	c.check(x)
	return float64(C.ebyd_ch_sum(p(x[c.Off:]), C.long(c.N), C.long(c.Stride), C.long(c.HW)))
}

// ChSumSqDev is Σ(x−m)² over a channel.
func ChSumSqDev(x []float32, c Channel, m float32) float64 {
	if c.N == 0 || c.HW == 0 {
		return 0
	}
	c.check(x)
	return float64(C.ebyd_ch_sum_sq_dev(p(x[c.Off:]), C.long(c.N), C.long(c.Stride), C.long(c.HW), C.float(m)))
}

// pm is p(x[off:]), or nil for a nil mask.
func pm(x []float32, off int) *C.float {
	if x == nil {
		return nil
	}
	return p(x[off:])
}

// ChDotDev returns Σg′ and Σg′·(x−m) over a channel, where g′ is g, or g
// where mask (a ReLU output) is not +0 when mask is not nil.
func ChDotDev(g, mask, x []float32, c Channel, m float32) (float64, float64) {
	if c.N == 0 || c.HW == 0 {
		return 0, 0
	}
	c.check(g, x)
	if mask != nil {
		c.check(mask)
	}
	var a, b C.double
	C.ebyd_ch_dot_dev(p(g[c.Off:]), pm(mask, c.Off), p(x[c.Off:]), C.long(c.N), C.long(c.Stride), C.long(c.HW), C.float(m), &a, &b)
	return float64(a), float64(b)
}

// ChAffine writes (x−m)·scale + shift over a channel into dst, zeroed where
// mask (if not nil) is +0, and through a ReLU when relu is set.
func ChAffine(dst, x, mask []float32, relu bool, c Channel, m, scale, shift float32) {
	if c.N == 0 || c.HW == 0 {
		return
	}
	c.check(dst, x)
	if mask != nil {
		c.check(mask)
	}
	C.ebyd_ch_affine(p(dst[c.Off:]), p(x[c.Off:]), pm(mask, c.Off), b2i(relu), C.long(c.N), C.long(c.Stride), C.long(c.HW),
		C.float(m), C.float(scale), C.float(shift))
}

// ChBNGrad writes k·(g′ − mdy − (x−m)·is·mdyx) over a channel into dst, with
// g′ as in ChDotDev.
func ChBNGrad(dst, g, mask, x []float32, c Channel, m, is, k, mdy, mdyx float32) {
	if c.N == 0 || c.HW == 0 {
		return
	}
	c.check(dst, g, x)
	if mask != nil {
		c.check(mask)
	}
	C.ebyd_ch_bn_grad(p(dst[c.Off:]), p(g[c.Off:]), pm(mask, c.Off), p(x[c.Off:]), C.long(c.N), C.long(c.Stride), C.long(c.HW),
		C.float(m), C.float(is), C.float(k), C.float(mdy), C.float(mdyx))
}

// Adam applies torch.optim.Adam's update to w in place (AdamW's when
// decoupled), with m and v the moment estimates, step = lr/(1−β1^t) and
// sq2 = √(1−β2^t).
func Adam(w, g, m, v []float32, lr, b1, b2, eps, wd float32, decoupled bool, step, sq2 float32) {
	if len(w) == 0 {
		return
	}
	_, _, _ = g[len(w)-1], m[len(w)-1], v[len(w)-1]
	C.ebyd_adam(p(w), p(g), p(m), p(v), C.long(len(w)), C.float(lr), C.float(b1), C.float(b2),
		C.float(eps), C.float(wd), b2i(decoupled), C.float(step), C.float(sq2))
}

// SGD applies torch.optim.SGD's update (dampening 0) to w in place; buf is
// the momentum buffer (unused when mom is 0), started whether it holds a
// previous step.
func SGD(w, g, buf []float32, lr, mom, wd float32, nesterov, started bool) {
	if len(w) == 0 {
		return
	}
	_ = g[len(w)-1]
	if mom != 0 {
		_ = buf[len(w)-1]
	}
	C.ebyd_sgd(p(w), p(g), p(buf), C.long(len(w)), C.float(lr), C.float(mom), C.float(wd), b2i(nesterov), b2i(started))
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
