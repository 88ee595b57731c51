// Package dnnl runs 2-D convolutions with oneDNN (Debian libdnnl-dev), the
// library PyTorch's CPU convolutions use, when ebyd is built with cgo.
//
// The engine's own route (im2col + SGEMM, package autograd) is exact and
// portable; oneDNN's direct convolution kernels do the same arithmetic in
// cache-blocked layouts and are markedly faster on wide layers. Build with
// -tags nodnnl (or without cgo) to use the engine's route only. Available
// reports which is in use.
package dnnl
