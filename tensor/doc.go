// Package tensor holds ebyd's dense float32 arrays and the kernels that the
// autograd ops are built from.
//
// A Tensor is a shape and a row-major (NCHW for images) slice of float32; it
// carries no gradient and no graph, which live in package autograd. Kernels
// that are worth parallelising split their outermost dimension into a fixed
// partition (see Parallel) so that the same inputs and the same GOMAXPROCS give
// bitwise-identical results.
package tensor
