package data

import (
	"runtime"
	"slices"
	"testing"
)

// TestAugmentApplyByHand checks crops and flips of a 3×4 gray image against
// windows worked out by hand.
func TestAugmentApplyByHand(t *testing.T) {
	src := []uint8{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
	}
	for _, tc := range []struct {
		d    AugmentDraw
		want []uint8
	}{
		{AugmentDraw{}, src},
		{AugmentDraw{DY: 1, DX: -1}, []uint8{ // the window one row down, one column left of the image
			0, 5, 6, 7,
			0, 9, 10, 11,
			0, 0, 0, 0,
		}},
		{AugmentDraw{DY: -2, DX: 2}, []uint8{
			0, 0, 0, 0,
			0, 0, 0, 0,
			3, 4, 0, 0,
		}},
		{AugmentDraw{Flip: true}, []uint8{
			4, 3, 2, 1,
			8, 7, 6, 5,
			12, 11, 10, 9,
		}},
		{AugmentDraw{DY: -1, DX: 1, Flip: true}, []uint8{ // crop one row up, one column right; then mirror
			0, 0, 0, 0,
			0, 4, 3, 2,
			0, 8, 7, 6,
		}},
		{AugmentDraw{DY: 0, DX: -1, Flip: true}, []uint8{
			3, 2, 1, 0,
			7, 6, 5, 0,
			11, 10, 9, 0,
		}},
		{AugmentDraw{DY: 0, DX: 9}, make([]uint8, 12)},
		{AugmentDraw{DY: 0, DX: -4, Flip: true}, make([]uint8, 12)},
		{AugmentDraw{DY: 3}, make([]uint8, 12)},
	} {
		dst := slices.Repeat([]uint8{99}, 12) // every byte must be written
		tc.d.Apply(dst, src, 3, 4, 1)
		if !slices.Equal(dst, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.d, dst, tc.want)
		}
	}
}

// TestAugmentApplyChannels checks every channel count's code path against
// the definition: output (y, x) is input (y+DY, x'+DX), x' mirrored by Flip.
func TestAugmentApplyChannels(t *testing.T) {
	const h, w = 5, 6
	for _, c := range []int{1, 2, 3, 4} {
		src := make([]uint8, h*w*c)
		for i := range src {
			src[i] = uint8(i + 1)
		}
		dst := make([]uint8, len(src))
		for dy := -6; dy <= 6; dy++ {
			for dx := -7; dx <= 7; dx++ {
				for _, flip := range []bool{false, true} {
					d := AugmentDraw{DY: dy, DX: dx, Flip: flip}
					d.Apply(dst, src, h, w, c)
					for y := range h {
						for x := range w {
							sx := x
							if flip {
								sx = w - 1 - x
							}
							sy, sx := y+dy, sx+dx
							for ch := range c {
								want := uint8(0)
								if sy >= 0 && sy < h && sx >= 0 && sx < w {
									want = src[(sy*w+sx)*c+ch]
								}
								if got := dst[(y*w+x)*c+ch]; got != want {
									t.Fatalf("C=%d %+v: (%d, %d, %d) = %d, want %d", c, d, y, x, ch, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestAugmentDraw(t *testing.T) {
	a := Augment{CropPad: 4, Flip: true}
	seen := map[[2]int]int{}
	flips := 0
	const n = 20000
	for j := range n {
		d := a.Draw(1, 0, j)
		if d.DY < -4 || d.DY > 4 || d.DX < -4 || d.DX > 4 {
			t.Fatalf("position %d: %+v outside the padding", j, d)
		}
		if d != a.Draw(1, 0, j) {
			t.Fatal("same seed, epoch and position, different draw")
		}
		seen[[2]int{d.DY, d.DX}]++
		if d.Flip {
			flips++
		}
	}
	if len(seen) != 81 {
		t.Errorf("%d of the 81 offsets drawn", len(seen))
	}
	for off, k := range seen { // expected n/81 ≈ 247 each, sd about 16
		if k < 170 || k > 330 {
			t.Errorf("offset %v drawn %d times of %d", off, k, n)
		}
	}
	if flips < n/2-400 || flips > n/2+400 { // sd about 71
		t.Errorf("%d flips of %d", flips, n)
	}
	same := 0
	for j := range 100 {
		if a.Draw(1, 0, j) == a.Draw(1, 1, j) {
			same++
		}
		if a.Draw(1, 0, j) == a.Draw(2, 0, j) {
			same++
		}
	}
	if same > 10 { // each agrees by chance with probability 1/162
		t.Errorf("%d of 200 draws agree across epochs or seeds", same)
	}
	// Pin the draws: saved runs depend on them.
	var got []AugmentDraw
	for j := range 3 {
		got = append(got, a.Draw(7, 2, j))
	}
	want := []AugmentDraw{{DY: -2, DX: -1, Flip: true}, {DY: -2, DX: -2, Flip: true}, {DY: 3, DX: 4, Flip: false}}
	if !slices.Equal(got, want) {
		t.Errorf("seed 7 epoch 2 draws %+v, pinned %+v", got, want)
	}
	if d := (Augment{}).Draw(1, 2, 3); d != (AugmentDraw{}) {
		t.Errorf("zero Augment drew %+v", d)
	}
	if d := (Augment{CropPad: 2}).Draw(1, 2, 3); d.Flip || d.DY < -2 || d.DY > 2 {
		t.Errorf("crop only drew %+v", d)
	}
	for j := range 50 {
		if d := (Augment{Flip: true}).Draw(1, 2, j); d.DY != 0 || d.DX != 0 {
			t.Fatalf("flip only drew %+v", d)
		}
	}
}

func TestDefaultAugment(t *testing.T) {
	for name, want := range map[string]Augment{
		"cifar10":             {CropPad: 4, Flip: true},
		"imagefolder":         {CropPad: 4, Flip: true},
		"mnist":               {},
		"fashion-mnist":       {},
		"mnist-rgb32":         {},
		"fashion-mnist-rgb32": {},
		"unknown":             {},
	} {
		if got := DefaultAugment(name); got != want {
			t.Errorf("DefaultAugment(%q) = %+v, want %+v", name, got, want)
		}
	}
	if s := DefaultAugment("cifar10").String(); s != "RandomCrop(padding=4)+RandomHorizontalFlip" {
		t.Errorf("String() = %q", s)
	}
	if s := (Augment{}).String(); s != "none" {
		t.Errorf("String() = %q", s)
	}
}

// randomImages is a dataset of n h×w×c images of pseudo-random bytes.
func randomImages(n, h, w, c int) *Dataset {
	d := &Dataset{Name: "rand", N: n, H: h, W: w, C: c, Classes: 10,
		Images: make([]uint8, n*h*w*c), Labels: make([]int, n),
		Mean: slices.Repeat([]float32{0.5}, c), Std: slices.Repeat([]float32{0.25}, c)}
	r := newRand(3, 4, 5)
	for i := range d.Images {
		d.Images[i] = uint8(r.Uint64())
	}
	for i := range d.Labels {
		d.Labels[i] = i % 10
	}
	return d
}

// epochBatches collects one epoch's batches as copies.
func epochBatches(l *Loader, epoch int) (xs [][]float32, ys [][]int) {
	for x, y := range l.Epoch(epoch) {
		xs = append(xs, slices.Clone(x.Data))
		ys = append(ys, slices.Clone(y))
	}
	return xs, ys
}

func TestLoaderAugment(t *testing.T) {
	d := randomImages(11, 6, 5, 3)
	orig := slices.Clone(d.Images)
	aug := Augment{CropPad: 2, Flip: true}
	l := &Loader{Data: d, BatchSize: 4, Shuffle: true, Seed: 9, Augment: aug}
	for epoch := range 2 {
		xs, ys := epochBatches(l, epoch)
		// By hand: augment each image of the epoch's order, then batch them.
		order := l.Order(epoch)
		manual := d.Subset(order)
		for j, i := range order {
			aug.Draw(9, epoch, j).Apply(manual.Image(j), d.Image(i), 6, 5, 3)
		}
		for k := range xs {
			idx := make([]int, len(ys[k]))
			for j := range idx {
				idx[j] = k*4 + j
			}
			x, y := Batch(manual, idx)
			if !slices.Equal(xs[k], x.Data) || !slices.Equal(ys[k], y) {
				t.Fatalf("epoch %d batch %d differs from augmenting by hand", epoch, k)
			}
		}
	}
	if !slices.Equal(d.Images, orig) {
		t.Error("the loader modified the dataset")
	}
	// Augmentation changes the batches; the zero value changes nothing.
	plain := &Loader{Data: d, BatchSize: 4, Shuffle: true, Seed: 9}
	xa, _ := epochBatches(l, 0)
	xp, yp := epochBatches(plain, 0)
	if slices.EqualFunc(xa, xp, slices.Equal) {
		t.Error("augmented batches equal plain ones")
	}
	order := plain.Order(0)
	for k := range xp {
		x, y := Batch(d, order[k*4:min(k*4+4, d.N)])
		if !slices.Equal(xp[k], x.Data) || !slices.Equal(yp[k], y) {
			t.Errorf("zero Augment: batch %d differs from Batch", k)
		}
	}
}

// TestLoaderAugmentDeterministic checks that the augmented batches are the
// same serial or split over goroutines, whatever GOMAXPROCS is, with and
// without Reuse.
func TestLoaderAugmentDeterministic(t *testing.T) {
	d := randomImages(37, 8, 8, 3)
	run := func(procs int, parallel, reuse bool) ([][]float32, [][]int) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		old := parallelMin
		defer func() { parallelMin = old }()
		if parallel {
			parallelMin = 0
		}
		l := &Loader{Data: d, BatchSize: 10, Shuffle: true, Seed: 5, Reuse: reuse, Augment: Augment{CropPad: 3, Flip: true}}
		return epochBatches(l, 3)
	}
	x0, y0 := run(1, false, false)
	for _, c := range []struct {
		procs           int
		parallel, reuse bool
	}{{1, true, true}, {2, true, false}, {3, true, true}, {4, true, true}, {4, false, true}} {
		x, y := run(c.procs, c.parallel, c.reuse)
		if !slices.EqualFunc(x, x0, slices.Equal) || !slices.EqualFunc(y, y0, slices.Equal) {
			t.Errorf("GOMAXPROCS=%d parallel=%v reuse=%v: batches differ", c.procs, c.parallel, c.reuse)
		}
	}
}

// TestLoaderAugmentAllocs checks that augmenting costs no allocation per
// image when Reuse is set: a few per epoch at most, beside the loader's own.
func TestLoaderAugmentAllocs(t *testing.T) {
	allocs := func(n int, a Augment) float64 {
		d := randomImages(n, 8, 8, 3)
		l := &Loader{Data: d, BatchSize: 16, Shuffle: true, Seed: 1, Reuse: true, Augment: a}
		return testing.AllocsPerRun(3, func() {
			for range l.Epoch(1) {
			}
		})
	}
	for _, n := range []int{256, 1024} {
		plain, aug := allocs(n, Augment{}), allocs(n, Augment{CropPad: 4, Flip: true})
		if aug-plain > 3 {
			t.Errorf("%d images: %v allocations per augmented epoch, %v without", n, aug, plain)
		}
	}
}

func BenchmarkLoaderAugmentRGB32x128(b *testing.B) {
	d := randomImages(1024, 32, 32, 3)
	l := &Loader{Data: d, BatchSize: 128, Shuffle: true, Seed: 1, Reuse: true, Augment: Augment{CropPad: 4, Flip: true}}
	b.SetBytes(int64(d.N * 3072 * 4))
	for b.Loop() {
		for range l.Epoch(0) {
		}
	}
}
