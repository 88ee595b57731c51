package data

import (
	"bufio"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ebyd/tensor"
)

// TestNormalizeMatchesTorch compares Batch bit for bit with torchvision's
// ToTensor+Normalize, recorded by testdata/normalize_torch.py.
func TestNormalizeMatchesTorch(t *testing.T) {
	f, err := os.Open("testdata/normalize_torch.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var d *Dataset
	cases := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] == "#" {
			continue
		}
		switch fields[0] {
		case "case":
			d = &Dataset{Name: fields[1], N: 1, Classes: 1, Labels: []int{0}}
			d.H, d.W, d.C = atoi(t, fields[2]), atoi(t, fields[3]), atoi(t, fields[4])
			for c := range d.C {
				d.Mean = append(d.Mean, atof(t, fields[5+c]))
				d.Std = append(d.Std, atof(t, fields[5+d.C+c]))
			}
		case "pixels":
			for _, s := range fields[1:] {
				d.Images = append(d.Images, uint8(atoi(t, s)))
			}
		case "want":
			x, _ := Batch(d, []int{0})
			if !slices.Equal(x.Shape, []int{1, d.C, d.H, d.W}) || len(fields)-1 != len(x.Data) {
				t.Fatalf("%s: shape %v, %d values; fixture has %d", d.Name, x.Shape, len(x.Data), len(fields)-1)
			}
			for i, s := range fields[1:] {
				bits, err := strconv.ParseUint(s, 16, 32)
				if err != nil {
					t.Fatal(err)
				}
				if want := math.Float32frombits(uint32(bits)); x.Data[i] != want {
					t.Errorf("%s: value %d = %v, torch has %v", d.Name, i, x.Data[i], want)
				}
			}
			cases++
		}
	}
	if cases != 3 {
		t.Fatalf("read %d cases from the fixture, want 3", cases)
	}
}

func atoi(t *testing.T, s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func atof(t *testing.T, s string) float32 {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		t.Fatal(err)
	}
	return float32(v)
}

// TestBatchByHand checks a few pixels of real MNIST images against the
// formula worked out in float64.
func TestBatchByHand(t *testing.T) {
	train, _ := loadMNISTForTest(t)
	x, y := Batch(train, []int{0, 1, 59999})
	if !slices.Equal(x.Shape, []int{3, 1, 28, 28}) || !slices.Equal(y, []int{5, 0, 8}) {
		t.Fatalf("shape %v labels %v", x.Shape, y)
	}
	for _, tc := range []struct {
		img, row, col int
		b             uint8   // the byte at that pixel
		want          float64 // (b/255 - 0.1307)/0.3081, by hand
	}{
		{0, 0, 0, 0, -0.424212917883804},
		{0, 5, 12, 3, -0.38602821849284996},
		{0, 5, 16, 126, 1.1795444565362658},
		{0, 5, 21, 255, 2.82148653034729},
	} {
		if b := train.Image(tc.img)[tc.row*28+tc.col]; b != tc.b {
			t.Fatalf("image %d pixel (%d,%d) is %d, want %d", tc.img, tc.row, tc.col, b, tc.b)
		}
		got := x.Data[tc.img*784+tc.row*28+tc.col]
		if math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("image %d pixel (%d,%d): %v, want %v", tc.img, tc.row, tc.col, got, tc.want)
		}
	}
	// Without Mean/Std the batch is just bytes/255.
	raw := train.Subset([]int{0})
	raw.Mean, raw.Std = nil, nil
	xr, _ := Batch(raw, []int{0})
	if got := xr.Data[5*28+21]; got != 1 || xr.Data[5*28+12] != float32(3)/255 {
		t.Errorf("unnormalised pixels %v, %v", got, xr.Data[5*28+12])
	}
}

// tinyRGB is a 3-channel dataset whose every pixel byte encodes (image, y, x, channel).
func tinyRGB(n int) *Dataset {
	d := &Dataset{Name: "rgb", N: n, H: 2, W: 3, C: 3, Classes: 10}
	for i := range n {
		for p := range 2 * 3 * 3 {
			d.Images = append(d.Images, uint8(i*18+p))
		}
		d.Labels = append(d.Labels, i%10)
	}
	return d
}

func TestBatchHWCToCHW(t *testing.T) {
	d := tinyRGB(4)
	x, y := Batch(d, []int{3, 1})
	if !slices.Equal(x.Shape, []int{2, 3, 2, 3}) || !slices.Equal(y, []int{3, 1}) {
		t.Fatalf("shape %v labels %v", x.Shape, y)
	}
	for j, i := range []int{3, 1} {
		for c := range 3 {
			for h := range 2 {
				for w := range 3 {
					b := d.Image(i)[(h*3+w)*3+c]
					if got := x.Data[((j*3+c)*2+h)*3+w]; got != float32(b)/255 {
						t.Fatalf("batch %d channel %d (%d,%d) = %v, want %d/255", j, c, h, w, got, b)
					}
				}
			}
		}
	}
	// BatchInto reuses a large enough tensor and label slice.
	x2, y2 := BatchInto(x, y, d, []int{0})
	if &x2.Data[0] != &x.Data[0] || &y2[0] != &y[0] || !slices.Equal(x2.Shape, []int{1, 3, 2, 3}) || len(x2.Data) != 18 {
		t.Errorf("BatchInto did not reuse: shape %v", x2.Shape)
	}
	x3, _ := BatchInto(x2, y2, d, []int{0, 1, 2})
	if len(x3.Data) != 54 || x3.Data[53] != float32(2*18+17)/255 {
		t.Errorf("BatchInto grow: %d values", len(x3.Data))
	}
}

func TestLoader(t *testing.T) {
	d := tinyRGB(10)
	epochs := func(l *Loader, e int) (orders [][]int, shapes [][]int) {
		for x, y := range l.Epoch(e) {
			orders = append(orders, slices.Clone(y))
			shapes = append(shapes, slices.Clone(x.Shape))
		}
		return
	}
	// Labels equal indices here, so they show the order.
	plain := &Loader{Data: d, BatchSize: 4}
	order, shapes := epochs(plain, 0)
	if !slices.Equal(slices.Concat(order...), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) || len(order) != 3 || plain.Len() != 3 {
		t.Errorf("unshuffled batches %v", order)
	}
	if !slices.Equal(shapes[2], []int{2, 3, 2, 3}) {
		t.Errorf("last partial batch shape %v", shapes[2])
	}
	plain.DropLast = true
	if order, _ = epochs(plain, 0); len(order) != 2 || plain.Len() != 2 {
		t.Errorf("DropLast batches %v", order)
	}

	a := &Loader{Data: d, BatchSize: 3, Shuffle: true, Seed: 7}
	b := &Loader{Data: d, BatchSize: 3, Shuffle: true, Seed: 7}
	oa, _ := epochs(a, 0)
	ob, _ := epochs(b, 0)
	if !slices.EqualFunc(oa, ob, slices.Equal) {
		t.Errorf("same seed, different batches: %v vs %v", oa, ob)
	}
	flat := slices.Concat(oa...)
	if !slices.Equal(flat, a.Order(0)) {
		t.Errorf("batches %v do not follow Order %v", flat, a.Order(0))
	}
	if s := slices.Sorted(slices.Values(flat)); !slices.Equal(s, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("shuffled epoch is not a permutation: %v", flat)
	}
	if slices.Equal(a.Order(0), a.Order(1)) {
		t.Error("epochs 0 and 1 have the same order")
	}
	b.Seed = 8
	if slices.Equal(a.Order(0), b.Order(0)) {
		t.Error("seeds 7 and 8 give the same order")
	}
	// Pin the order so that a change of algorithm is noticed: saved runs depend on it.
	if got, want := a.Order(0), []int{2, 3, 7, 5, 6, 9, 4, 0, 8, 1}; !slices.Equal(got, want) {
		t.Errorf("seed 7 epoch 0 order %v, pinned %v", got, want)
	}

	// Reuse hands out one buffer; without it batches stay valid.
	r := &Loader{Data: d, BatchSize: 4, Reuse: true}
	var first *tensor.Tensor
	n := 0
	for x := range r.Epoch(0) {
		if first == nil {
			first = x
		} else if &x.Data[0] != &first.Data[0] {
			t.Error("Reuse allocated a new batch")
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d batches", n)
	}
	// Breaking out of the loop stops the iterator.
	n = 0
	for range a.Epoch(0) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break: %d batches", n)
	}
}

func TestLoaderMNISTEpoch(t *testing.T) {
	train, _ := loadMNISTForTest(t)
	l := &Loader{Data: train, BatchSize: 128, Shuffle: true, Seed: 1, Reuse: true}
	n, seen := 0, make([]int, 10)
	for x, y := range l.Epoch(0) {
		if x.Shape[0] != len(y) || len(x.Data) != len(y)*784 {
			t.Fatalf("batch shape %v with %d labels", x.Shape, len(y))
		}
		for _, c := range y {
			seen[c]++
		}
		n++
	}
	if n != 469 || l.Len() != 469 || !slices.Equal(seen, train.Histogram()) {
		t.Errorf("%d batches, class counts %v", n, seen)
	}
}

func TestRandomSubset(t *testing.T) {
	s := RandomSubset(60000, 500, 1)
	if len(s) != 500 || !slices.IsSorted(s) || s[0] < 0 || s[499] >= 60000 {
		t.Fatalf("subset of %d, sorted %v, range %d..%d", len(s), slices.IsSorted(s), s[0], s[len(s)-1])
	}
	if len(slices.Compact(slices.Clone(s))) != 500 {
		t.Error("repeated indices")
	}
	if !slices.Equal(s, RandomSubset(60000, 500, 1)) {
		t.Error("same seed, different subset")
	}
	if slices.Equal(s, RandomSubset(60000, 500, 2)) {
		t.Error("seeds 1 and 2 give the same subset")
	}
	if got, want := RandomSubset(10, 3, 1), []int{2, 4, 7}; !slices.Equal(got, want) {
		t.Errorf("RandomSubset(10, 3, 1) = %v, pinned %v", got, want)
	}
	if all := RandomSubset(5, 5, 3); !slices.Equal(all, []int{0, 1, 2, 3, 4}) {
		t.Errorf("k = n: %v", all)
	}
	if none := RandomSubset(5, 0, 3); len(none) != 0 {
		t.Errorf("k = 0: %v", none)
	}
	defer func() {
		if recover() == nil {
			t.Error("k > n did not panic")
		}
	}()
	RandomSubset(5, 6, 1)
}

// TestRandomSubsetUniform is a coarse check that every index is about as likely.
func TestRandomSubsetUniform(t *testing.T) {
	counts := make([]int, 20)
	for seed := range uint64(4000) {
		for _, i := range RandomSubset(20, 5, seed) {
			counts[i]++
		}
	}
	for i, c := range counts { // expected 1000 each, sd about 27
		if c < 880 || c > 1120 {
			t.Errorf("index %d drawn %d times of 20000, expected about 1000", i, c)
		}
	}
}

func BenchmarkBatchMNIST128(b *testing.B) {
	train, _ := loadMNISTForTest(b)
	idx := RandomSubset(train.N, 128, 1)
	var x *tensor.Tensor
	var y []int
	b.SetBytes(int64(128 * 784 * 4))
	for b.Loop() {
		x, y = BatchInto(x, y, train, idx)
	}
}

func BenchmarkBatchRGB32x128(b *testing.B) {
	d := &Dataset{Name: "rgb", N: 1000, H: 32, W: 32, C: 3, Classes: 10,
		Images: make([]uint8, 1000*32*32*3), Labels: make([]int, 1000),
		Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	idx := RandomSubset(d.N, 128, 1)
	var x *tensor.Tensor
	var y []int
	b.SetBytes(int64(128 * 3072 * 4))
	for b.Loop() {
		x, y = BatchInto(x, y, d, idx)
	}
}

func BenchmarkLoadMNIST(b *testing.B) {
	for b.Loop() {
		if _, _, err := Load("mnist", ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBatchSerial(b *testing.B) {
	old := parallelMin
	parallelMin = 1 << 62
	defer func() { parallelMin = old }()
	b.Run("mnist", BenchmarkBatchMNIST128)
	b.Run("rgb", BenchmarkBatchRGB32x128)
}

func TestBatchIndexOutOfRange(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "data: rgb: index 4 out of range [0, 4)") {
			t.Errorf("panic %v", r)
		}
	}()
	Batch(tinyRGB(4), []int{0, 4})
}
