// Package vec holds the engine's memory-bound element-wise kernels (ReLU,
// BatchNorm's sums and affine maps, the SGD update) in two builds: C compiled
// for AVX2 with a plain fallback chosen at run time (cgo), and pure Go. The Go
// compiler does not vectorise loops, and these passes over every activation
// are most of a training step's time outside the convolutions.
//
// Both builds sum in a fixed order for a given machine and build, so results
// are reproducible; the two builds may differ in the last bits of a sum.
package vec
