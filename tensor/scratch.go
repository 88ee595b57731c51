package tensor

import (
	"math/bits"
	"sync"
)

// Scratch buffers for kernels (unfolded images, partial sums): large, short
// lived and needed again at the next step of the same size. Recycling them
// saves the page faults and zeroing of fresh allocations, which on these
// sizes cost as much as the arithmetic around them.
var scratch [48]sync.Pool

// GetScratch returns a buffer of length n with arbitrary contents.
func GetScratch(n int) []float32 {
	if n == 0 {
		return nil
	}
	c := bits.Len(uint(n - 1)) // capacity class: 2^c >= n
	if b, ok := scratch[c].Get().(*[]float32); ok {
		return (*b)[:n]
	}
	return make([]float32, n, 1<<c)
}

// PutScratch gives a buffer from GetScratch back for reuse; the caller must
// not touch it afterwards.
func PutScratch(b []float32) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return // not one of ours
	}
	b = b[:c]
	scratch[bits.Len(uint(c-1))].Put(&b)
}
