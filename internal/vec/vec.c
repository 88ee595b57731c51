//go:build cgo && !purego

#include <stdint.h>
#include <string.h>
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
	for (long i = 0; i < n; i++) {
		uint32_t b;
		memcpy(&b, &y[i], 4);
		dst[i] = b != 0 ? g[i] : 0.0f;
	}
}

CLONES void ebyd_add(float *dst, const float *a, const float *b, long n) {
	#pragma omp simd
	for (long i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

CLONES float ebyd_sum(const float *x, long n) {
	float s = 0;
	#pragma omp simd reduction(+:s)
	for (long i = 0; i < n; i++) s += x[i];
	return s;
}

CLONES float ebyd_sum_sq_dev(const float *x, long n, float m) {
	float s = 0;
	#pragma omp simd reduction(+:s)
	for (long i = 0; i < n; i++) {
		float d = x[i] - m;
		s += d * d;
	}
	return s;
}

CLONES void ebyd_dot_dev(const float *g, const float *x, long n, float m, float *sg, float *sgx) {
	float a = 0, b = 0;
	#pragma omp simd reduction(+:a, b)
	for (long i = 0; i < n; i++) {
		a += g[i];
		b += g[i] * (x[i] - m);
	}
	*sg = a;
	*sgx = b;
}

CLONES void ebyd_affine(float *dst, const float *x, long n, float m, float scale, float shift) {
	#pragma omp simd
	for (long i = 0; i < n; i++) dst[i] = (x[i] - m) * scale + shift;
}

CLONES void ebyd_bn_grad(float *dst, const float *g, const float *x, long n, float m, float is, float k, float mdy, float mdyx) {
	#pragma omp simd
	for (long i = 0; i < n; i++) dst[i] = k * (g[i] - mdy - (x[i] - m) * is * mdyx);
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
