// Package blas is the one place where ebyd multiplies matrices.
//
// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32
// matrices. With cgo it calls OpenBLAS (Debian libopenblas-dev) pinned to one
// thread: the engine parallelises over the batch itself, and a multi-threaded
// BLAS inside those goroutines would oversubscribe the cores. Without cgo (or
// with the purego build tag) it falls back to gonum's pure-Go kernel, which is
// slower but gives the same results to float32 rounding.
package blas
