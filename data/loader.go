package data

import (
	"fmt"
	"iter"
	"math/bits"
	"math/rand/v2"
	"slices"

	"ebyd/tensor"
)

// Loader iterates over a dataset in batches of normalised float32 NCHW
// tensors with their labels, like a PyTorch DataLoader over a dataset with
// ToTensor and Normalize transforms (and, with Augment, RandomCrop and
// RandomHorizontalFlip before them).
//
//	ld := &data.Loader{Data: train, BatchSize: 128, Shuffle: true, Seed: 1,
//		Augment: data.DefaultAugment(train.Name)}
//	for epoch := range epochs {
//		for x, y := range ld.Epoch(epoch) { ... }
//	}
type Loader struct {
	Data      *Dataset
	BatchSize int
	Shuffle   bool   // false keeps the dataset's order
	DropLast  bool   // drop the last batch when it is shorter than BatchSize
	Seed      uint64 // with the epoch number, fixes the shuffled order

	// Reuse makes all batches of an epoch share one tensor and one label
	// slice, each overwritten by the next batch: no allocation per batch, for
	// loops that are done with a batch before asking for the next.
	Reuse bool

	// Augment, unless it is the zero value, augments every image on its way
	// into a batch, on the uint8 pixels before normalisation (the dataset is
	// not modified): the image at position j of epoch e, dataset index
	// Order(e)[j], is transformed by Augment.Draw(Seed, e, j), so batches
	// depend only on Seed and the epoch, never on GOMAXPROCS. Set it for
	// training only; see DefaultAugment.
	Augment Augment
}

// Len is the number of batches per epoch.
func (l *Loader) Len() int {
	n, b := l.Data.N, l.batchSize()
	if l.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

func (l *Loader) batchSize() int {
	if l.BatchSize <= 0 {
		panic(fmt.Sprintf("data: loader batch size %d, want > 0", l.BatchSize))
	}
	return l.BatchSize
}

// Order returns the dataset indices in the order epoch visits them: 0..N-1
// without Shuffle, otherwise a permutation that depends only on Seed and
// epoch, so a run resumed at some epoch sees the same batches.
// Batch k of the epoch holds Order(epoch)[k*BatchSize : (k+1)*BatchSize].
func (l *Loader) Order(epoch int) []int {
	p := make([]int, l.Data.N)
	for i := range p {
		p[i] = i
	}
	if l.Shuffle {
		shuffle(newRand(l.Seed, streamLoader, uint64(epoch)), p, len(p))
	}
	return p
}

// Epoch returns an iterator over the batches of one epoch. Batches are
// freshly allocated unless Reuse is set.
func (l *Loader) Epoch(epoch int) iter.Seq2[*tensor.Tensor, []int] {
	return func(yield func(*tensor.Tensor, []int) bool) {
		bs := l.batchSize()
		order := l.Order(epoch)
		lut := normTable(l.Data)
		var x *tensor.Tensor
		var y []int
		var aug *batchAugment
		if l.Augment.CropPad < 0 {
			panic(fmt.Sprintf("data: loader augment crop padding %d, want >= 0", l.Augment.CropPad))
		}
		if l.Augment != (Augment{}) {
			aug = &batchAugment{a: l.Augment, seed: l.Seed, epoch: epoch}
		}
		for lo := 0; lo < len(order); lo += bs {
			hi := min(lo+bs, len(order))
			if hi-lo < bs && l.DropLast {
				return
			}
			if !l.Reuse {
				x, y = nil, nil
			}
			if aug != nil {
				aug.pos = lo
			}
			x, y = batchInto(x, y, l.Data, order[lo:hi], lut, aug)
			if !yield(x, y) {
				return
			}
		}
	}
}

// Batch builds one normalised NCHW batch of the images at indices, with
// their labels: pixel b of channel c becomes (float32(b)/255 - Mean[c]) / Std[c]
// in float32, exactly as torchvision's ToTensor followed by Normalize. It
// panics on an index out of range.
func Batch(ds *Dataset, indices []int) (*tensor.Tensor, []int) {
	return batchInto(nil, nil, ds, indices, normTable(ds), nil)
}

// BatchInto is Batch writing into x and y when their capacity suffices
// (either may be nil); it returns the tensor and labels it filled.
func BatchInto(x *tensor.Tensor, y []int, ds *Dataset, indices []int) (*tensor.Tensor, []int) {
	return batchInto(x, y, ds, indices, normTable(ds), nil)
}

// normTable maps every byte value to its normalised float, per channel: the
// conversion becomes a table lookup, bit-identical to computing it.
func normTable(ds *Dataset) [][256]float32 {
	lut := make([][256]float32, ds.C)
	for c := range lut {
		mean, std := float32(0), float32(1)
		if len(ds.Mean) > 0 {
			mean, std = ds.Mean[c], ds.Std[c]
		}
		for b := range 256 {
			lut[c][b] = (float32(b)/255 - mean) / std
		}
	}
	return lut
}

// parallelMin is the batch size in elements from which the conversion is
// split over goroutines. Measured on 2 cores: no gain for an MNIST batch of
// 128 (100k elements, memory-bound), 1.3× for a 32×32 RGB batch of 128 (393k).
// A variable so that the benchmarks can compare.
var parallelMin = 1 << 18

// batchAugment is a Loader's augmentation state for one epoch.
type batchAugment struct {
	a       Augment
	seed    uint64
	epoch   int
	pos     int     // the epoch position of the batch's first image
	scratch []uint8 // one augmented image per worker, reused from batch to batch
}

// buffer returns worker's image-sized scratch space.
func (b *batchAugment) buffer(worker, size int) []uint8 {
	if (worker+1)*size > len(b.scratch) { // only if GOMAXPROCS grew since prepare
		return make([]uint8, size)
	}
	return b.scratch[worker*size : (worker+1)*size : (worker+1)*size]
}

// prepare makes room for workers augmented images.
func (b *batchAugment) prepare(workers, size int) {
	if len(b.scratch) < workers*size {
		b.scratch = make([]uint8, workers*size)
	}
}

// batchInto fills x and y with the images at indices, augmented by aug
// unless it is nil.
func batchInto(x *tensor.Tensor, y []int, ds *Dataset, indices []int, lut [][256]float32, aug *batchAugment) (*tensor.Tensor, []int) {
	for _, i := range indices { // here, not in a worker goroutine, where a panic is fatal
		if i < 0 || i >= ds.N {
			panic(fmt.Sprintf("data: %s: index %d out of range [0, %d)", ds.Name, i, ds.N))
		}
	}
	n, hw, c := len(indices), ds.H*ds.W, ds.C
	size := n * c * hw
	if x == nil || cap(x.Data) < size {
		x = tensor.New(n, c, ds.H, ds.W)
	} else {
		x.Data = x.Data[:size]
		x.Shape = append(x.Shape[:0], n, c, ds.H, ds.W)
	}
	if cap(y) < n {
		y = make([]int, n)
	}
	y = y[:n]
	parallel := size >= parallelMin
	if aug != nil {
		workers := 1
		if parallel {
			workers = tensor.Chunks(n)
		}
		aug.prepare(workers, ds.ImageSize())
	}
	convert := func(worker, lo, hi int) {
		for j := lo; j < hi; j++ {
			src := ds.Image(indices[j])
			if aug != nil {
				buf := aug.buffer(worker, len(src))
				aug.a.Draw(aug.seed, aug.epoch, aug.pos+j).Apply(buf, src, ds.H, ds.W, ds.C)
				src = buf
			}
			dst := x.Data[j*c*hw : (j+1)*c*hw]
			if c == 1 {
				t, dst := &lut[0], dst[:len(src)] // lets the compiler drop bounds checks
				for p, b := range src {
					dst[p] = t[b]
				}
				continue
			}
			if c == 3 { // HWC → CHW reading each pixel once
				t0, t1, t2 := &lut[0], &lut[1], &lut[2]
				d0, d1, d2 := dst[:hw], dst[hw:2*hw], dst[2*hw:3*hw]
				for p := range d0 {
					s := src[3*p : 3*p+3 : 3*p+3]
					d0[p], d1[p], d2[p] = t0[s[0]], t1[s[1]], t2[s[2]]
				}
				continue
			}
			for ch := range c { // HWC → CHW
				t, d := &lut[ch], dst[ch*hw:(ch+1)*hw]
				for p := range d {
					d[p] = t[src[p*c+ch]]
				}
			}
		}
	}
	if parallel {
		tensor.Parallel(n, convert)
	} else {
		convert(0, 0, n)
	}
	for j, i := range indices {
		y[j] = ds.Labels[i]
	}
	return x, y
}

// RandomSubset draws k distinct indices from [0, n), uniformly, from seed
// alone, and returns them in ascending order (so the set, not a draw order,
// is what gets saved and reused). It panics unless 0 <= k <= n.
func RandomSubset(n, k int, seed uint64) []int {
	if k < 0 || k > n {
		panic(fmt.Sprintf("data: random subset of %d from %d items", k, n))
	}
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	shuffle(newRand(seed, streamSubset, 0), p, k)
	p = p[:k:k]
	slices.Sort(p)
	return p
}

// Stream constants keep the loader's and the subset's draws independent
// when they are given the same seed.
const (
	streamLoader = 0x6c6f61646572 // "loader"
	streamSubset = 0x737562736574 // "subset"
)

// newRand returns a PCG generator for (seed, stream, index); the second PCG
// word is a SplitMix64 hash so that nearby streams and epochs give unrelated
// sequences.
func newRand(seed, stream, index uint64) *rand.PCG {
	z := stream*0x9e3779b97f4a7c15 + index
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return rand.NewPCG(seed, z^z>>31)
}

// shuffle puts a uniform random choice of p's elements in p[:k] (a partial
// Fisher–Yates; k = len(p) shuffles it all). It is written out, rather than
// using rand.Shuffle, so the order cannot change with the Go release.
func shuffle(r *rand.PCG, p []int, k int) {
	for i := 0; i < k && i < len(p)-1; i++ {
		j := i + int(uint64n(r, uint64(len(p)-i)))
		p[i], p[j] = p[j], p[i]
	}
}

// uint64n draws uniformly from [0, n) by Lemire's multiply-and-reject.
func uint64n(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}
