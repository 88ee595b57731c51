//go:build !cgo || purego

package vec

import "math"

// Backend names the build in use.
const Backend = "go"

// ReLU writes max(src, 0) into dst (NaN passes through). Branch-free: on
// activations of random sign a branch mispredicts half the time.
func ReLU(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		b := math.Float32bits(v)
		neg := uint32(int32(b) >> 31)
		if v != v {
			neg = 0
		}
		dst[i] = math.Float32frombits(b &^ neg)
	}
}

// ReLUGrad writes g where y (a ReLU output) is not +0, and 0 elsewhere.
func ReLUGrad(dst, g, y []float32) {
	dst, g = dst[:len(y)], g[:len(y)]
	for i, v := range y {
		b := int32(math.Float32bits(v))
		live := uint32((b | -b) >> 31)
		dst[i] = math.Float32frombits(math.Float32bits(g[i]) & live)
	}
}

// Add writes a + b into dst (dst may be a or b).
func Add(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// sum is Σx, with four accumulators.
func sum(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev is Σ(x−m)².
func sumSqDev(x []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-m, x[i+1]-m, x[i+2]-m, x[i+3]-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dotDev returns Σg and Σg·(x−m).
func dotDev(g, x []float32, m float32) (float32, float32) {
	var a0, a1, b0, b1 float32
	x = x[:len(g)]
	i := 0
	for ; i+2 <= len(g); i += 2 {
		a0 += g[i]
		a1 += g[i+1]
		b0 += g[i] * (x[i] - m)
		b1 += g[i+1] * (x[i+1] - m)
	}
	for ; i < len(g); i++ {
		a0 += g[i]
		b0 += g[i] * (x[i] - m)
	}
	return a0 + a1, b0 + b1
}

// affine writes (x−m)·scale + shift into dst.
func affine(dst, x []float32, m, scale, shift float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = (v-m)*scale + shift
	}
}

// bnGrad writes k·(g − mdy − (x−m)·is·mdyx) into dst.
func bnGrad(dst, g, x []float32, m, is, k, mdy, mdyx float32) {
	dst, x = dst[:len(g)], x[:len(g)]
	for i, v := range g {
		dst[i] = k * (v - mdy - (x[i]-m)*is*mdyx)
	}
}

// Channel is one channel of an NCHW tensor: N planes of HW floats, Stride
// floats apart, the first at Off.
type Channel struct{ Off, N, Stride, HW int }

func (c Channel) plane(x []float32, i int) []float32 {
	o := c.Off + i*c.Stride
	return x[o : o+c.HW]
}

// ChSum is the sum of a channel, float32 within a plane, float64 across.
func ChSum(x []float32, c Channel) float64 {
	var t float64
	for i := 0; i < c.N; i++ {
		t += float64(sum(c.plane(x, i)))
	}
	return t
}

// ChSumSqDev is Σ(x−m)² over a channel.
func ChSumSqDev(x []float32, c Channel, m float32) float64 {
	var t float64
	for i := 0; i < c.N; i++ {
		t += float64(sumSqDev(c.plane(x, i), m))
	}
	return t
}

// masked returns g, or a copy of g zeroed where the ReLU output y is +0.
func masked(g, y []float32) []float32 {
	if y == nil {
		return g
	}
	out := make([]float32, len(g))
	ReLUGrad(out, g, y)
	return out
}

// planeOf is c.plane, or nil for a nil mask.
func (c Channel) planeOf(x []float32, i int) []float32 {
	if x == nil {
		return nil
	}
	return c.plane(x, i)
}

// ChDotDev returns Σg′ and Σg′·(x−m) over a channel, where g′ is g, or g
// where mask (a ReLU output) is not +0 when mask is not nil.
func ChDotDev(g, mask, x []float32, c Channel, m float32) (float64, float64) {
	var ta, tb float64
	for i := 0; i < c.N; i++ {
		a, b := dotDev(masked(c.plane(g, i), c.planeOf(mask, i)), c.plane(x, i), m)
		ta += float64(a)
		tb += float64(b)
	}
	return ta, tb
}

// ChAffine writes (x−m)·scale + shift over a channel into dst, zeroed where
// mask (if not nil) is +0, and through a ReLU when relu is set.
func ChAffine(dst, x, mask []float32, relu bool, c Channel, m, scale, shift float32) {
	for i := 0; i < c.N; i++ {
		d := c.plane(dst, i)
		affine(d, c.plane(x, i), m, scale, shift)
		if mask != nil {
			ReLUGrad(d, d, c.plane(mask, i))
		}
		if relu {
			ReLU(d, d)
		}
	}
}

// ChBNGrad writes k·(g′ − mdy − (x−m)·is·mdyx) over a channel into dst, with
// g′ as in ChDotDev.
func ChBNGrad(dst, g, mask, x []float32, c Channel, m, is, k, mdy, mdyx float32) {
	for i := 0; i < c.N; i++ {
		bnGrad(c.plane(dst, i), masked(c.plane(g, i), c.planeOf(mask, i)), c.plane(x, i), m, is, k, mdy, mdyx)
	}
}

// Adam applies torch.optim.Adam's update to w in place (AdamW's when
// decoupled), with m and v the moment estimates, step = lr/(1−β1^t) and
// sq2 = √(1−β2^t).
func Adam(w, g, m, v []float32, lr, b1, b2, eps, wd float32, decoupled bool, step, sq2 float32) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		gi := g[i]
		if decoupled {
			w[i] *= 1 - lr*wd
		} else {
			gi += wd * w[i]
		}
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		w[i] -= step * m[i] / (float32(math.Sqrt(float64(v[i])))/sq2 + eps)
	}
}

// SGD applies torch.optim.SGD's update (dampening 0) to w in place.
func SGD(w, g, buf []float32, lr, mom, wd float32, nesterov, started bool) {
	g = g[:len(w)]
	for i := range w {
		d := g[i] + wd*w[i]
		if mom != 0 {
			if started {
				buf[i] = mom*buf[i] + d
			} else {
				buf[i] = d
			}
			if nesterov {
				d += mom * buf[i]
			} else {
				d = buf[i]
			}
		}
		w[i] -= lr * d
	}
}
