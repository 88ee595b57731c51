package tensor

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines kernels split their work into: GOMAXPROCS
// at the time of the call, so that `GOMAXPROCS=1` gives a serial engine.
func Workers() int { return runtime.GOMAXPROCS(0) }

// Parallel splits [0, n) into at most Workers() contiguous chunks of equal size
// (the last may be shorter) and runs fn(worker, lo, hi) on each in its own
// goroutine. The partition depends only on n and Workers(), so per-worker
// partial results summed in worker order are reproducible bit for bit.
func Parallel(n int, fn func(worker, lo, hi int)) {
	p := Chunks(n)
	if p <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	size := (n + p - 1) / p
	var wg sync.WaitGroup
	for w := 1; w < p; w++ {
		lo, hi := w*size, min((w+1)*size, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	// The caller does the first chunk itself: one goroutine fewer to wake.
	fn(0, 0, min(size, n))
	wg.Wait()
}

// Chunks is the number of chunks Parallel splits n items into.
func Chunks(n int) int {
	p := Workers()
	if p > n {
		p = n
	}
	if p < 1 {
		return 1
	}
	size := (n + p - 1) / p
	return (n + size - 1) / size
}

// grain is the fewest elements worth handing to another goroutine: below it,
// the cost of starting one exceeds the work of a memory-bound loop.
const grain = 1 << 16

// ParallelElems runs fn over [0, n) in Workers() chunks when n is large
// enough to gain from it, and in one call otherwise. Use it for element-wise
// loops whose elements are independent.
func ParallelElems(n int, fn func(lo, hi int)) {
	if n < 2*grain || Workers() == 1 {
		fn(0, n)
		return
	}
	Parallel(n, func(_, lo, hi int) { fn(lo, hi) })
}
