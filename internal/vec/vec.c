//go:build cgo && !purego

// Nothing here relies on floating-point exception flags or on errno, so GCC
// may turn float compares into vector selects and sqrtf into a vector square
// root.
#pragma GCC optimize("no-trapping-math", "no-math-errno")

#include <math.h>
#include "vec.h"

// Each kernel is compiled twice, for AVX2+FMA and for the baseline, and the
// loader picks the one the CPU supports.
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

CLONES void ebyd_relu(float *dst, const float *src, long n) {
	#pragma omp simd
	for (long i = 0; i < n; i++) {
		float v = src[i];
		dst[i] = (v > 0.0f || v != v) ? v : 0.0f;
	}
}

CLONES void ebyd_relu_grad(float *dst, const float *g, const float *y, long n) {
	#pragma omp simd
	for (long i = 0; i < n; i++) dst[i] = g[i] * (float)(y[i] != 0.0f);
}

CLONES void ebyd_add(float *dst, const float *a, const float *b, long n) {
	#pragma omp simd
	for (long i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

// Channel kernels: one BatchNorm channel is n planes of hw floats, the
// planes stride floats apart (NCHW: stride = C·H·W). One call per channel
// rather than per plane keeps the cgo crossings few.

CLONES double ebyd_ch_sum(const float *x, long n, long stride, long hw) {
	double t = 0;
	for (long i = 0; i < n; i++) {
		const float *p = x + i * stride;
		float s = 0;
		#pragma omp simd reduction(+:s)
		for (long j = 0; j < hw; j++) s += p[j];
		t += s;
	}
	return t;
}

CLONES double ebyd_ch_sum_sq_dev(const float *x, long n, long stride, long hw, float m) {
	double t = 0;
	for (long i = 0; i < n; i++) {
		const float *p = x + i * stride;
		float s = 0;
		#pragma omp simd reduction(+:s)
		for (long j = 0; j < hw; j++) {
			float d = p[j] - m;
			s += d * d;
		}
		t += s;
	}
	return t;
}

// live is 1 where the ReLU output y let the gradient through. A ReLU output
// is +0, positive or NaN, so a float compare tells, and vectorises.
static inline float live(const float *y, long j) { return (float)(y[j] != 0.0f); }

// mask (NULL: none) is a ReLU output applied after the affine map: gradients
// g count only where it is not +0 (BatchNorm and ReLU fused).
CLONES void ebyd_ch_dot_dev(const float *g, const float *mask, const float *x, long n, long stride, long hw, float m, double *sg, double *sgx) {
	double ta = 0, tb = 0;
	for (long i = 0; i < n; i++) {
		const float *gp = g + i * stride, *xp = x + i * stride;
		float a = 0, b = 0;
		if (mask) {
			const float *yp = mask + i * stride;
			#pragma omp simd reduction(+:a, b)
			for (long j = 0; j < hw; j++) {
				float gj = gp[j] * live(yp, j);
				a += gj;
				b += gj * (xp[j] - m);
			}
		} else {
			#pragma omp simd reduction(+:a, b)
			for (long j = 0; j < hw; j++) {
				a += gp[j];
				b += gp[j] * (xp[j] - m);
			}
		}
		ta += a;
		tb += b;
	}
	*sg = ta;
	*sgx = tb;
}

// ebyd_ch_affine writes (x−m)·scale + shift, zeroed where mask is +0, and
// passed through ReLU when relu is set.
CLONES void ebyd_ch_affine(float *dst, const float *x, const float *mask, int relu, long n, long stride, long hw, float m, float scale, float shift) {
	for (long i = 0; i < n; i++) {
		float *d = dst + i * stride;
		const float *p = x + i * stride;
		if (mask) {
			const float *yp = mask + i * stride;
			#pragma omp simd
			for (long j = 0; j < hw; j++) d[j] = ((p[j] - m) * scale + shift) * live(yp, j);
		} else if (relu) {
			#pragma omp simd
			for (long j = 0; j < hw; j++) {
				float v = (p[j] - m) * scale + shift;
				d[j] = (v > 0.0f || v != v) ? v : 0.0f;
			}
		} else {
			#pragma omp simd
			for (long j = 0; j < hw; j++) d[j] = (p[j] - m) * scale + shift;
		}
	}
}

CLONES void ebyd_ch_bn_grad(float *dst, const float *g, const float *mask, const float *x, long n, long stride, long hw, float m, float is, float k, float mdy, float mdyx) {
	for (long i = 0; i < n; i++) {
		float *d = dst + i * stride;
		const float *gp = g + i * stride, *xp = x + i * stride;
		if (mask) {
			const float *yp = mask + i * stride;
			#pragma omp simd
			for (long j = 0; j < hw; j++) d[j] = k * (gp[j] * live(yp, j) - mdy - (xp[j] - m) * is * mdyx);
		} else {
			#pragma omp simd
			for (long j = 0; j < hw; j++) d[j] = k * (gp[j] - mdy - (xp[j] - m) * is * mdyx);
		}
	}
}

// ebyd_adam is torch.optim.Adam's update (AdamW's with decoupled set):
// step = lr/bc1, sq2 = sqrt(bc2) for the bias corrections bc1, bc2.
CLONES void ebyd_adam(float *w, const float *g, float *m, float *v, long n, float lr, float b1, float b2,
		float eps, float wd, int decoupled, float step, float sq2) {
	#pragma omp simd
	for (long i = 0; i < n; i++) {
		float gi = g[i];
		float wi = w[i];
		if (decoupled) {
			wi *= 1 - lr * wd;
		} else {
			gi += wd * wi;
		}
		float mi = b1 * m[i] + (1 - b1) * gi;
		float vi = b2 * v[i] + (1 - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		w[i] = wi - step * mi / (sqrtf(vi) / sq2 + eps);
	}
}

CLONES void ebyd_sgd(float *w, const float *g, float *buf, long n, float lr, float mom, float wd, int nesterov, int started) {
	if (mom == 0) {
		#pragma omp simd
		for (long i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
		return;
	}
	#pragma omp simd
	for (long i = 0; i < n; i++) {
		float d = g[i] + wd * w[i];
		float b = started ? mom * buf[i] + d : d;
		buf[i] = b;
		w[i] -= lr * (nesterov ? d + mom * b : b);
	}
}
