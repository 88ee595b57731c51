package data

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// The embedded MNIST is loaded once for all tests in the package.
var mnistOnce = sync.OnceValues(func() ([2]*Dataset, error) {
	train, test, err := Load("mnist", "")
	return [2]*Dataset{train, test}, err
})

func loadMNISTForTest(t testing.TB) (train, test *Dataset) {
	t.Helper()
	ds, err := mnistOnce()
	if err != nil {
		t.Fatal(err)
	}
	return ds[0], ds[1]
}

func TestMNISTEmbedded(t *testing.T) {
	train, test := loadMNISTForTest(t)
	for _, tc := range []struct {
		d    *Dataset
		n    int
		hist []int // the published class counts
	}{
		{train, 60000, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{test, 10000, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		d := tc.d
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Name != "mnist" || d.N != tc.n || d.H != 28 || d.W != 28 || d.C != 1 || d.Classes != 10 {
			t.Errorf("got %s N=%d %d×%d×%d classes %d", d.Name, d.N, d.H, d.W, d.C, d.Classes)
		}
		if h := d.Histogram(); !slices.Equal(h, tc.hist) {
			t.Errorf("%d-image split: histogram %v, want %v", tc.n, h, tc.hist)
		}
		if !slices.Equal(d.Mean, []float32{0.1307}) || !slices.Equal(d.Std, []float32{0.3081}) {
			t.Errorf("normalisation %v/%v", d.Mean, d.Std)
		}
	}
	if train.Labels[0] != 5 || test.Labels[0] != 7 {
		t.Errorf("first labels %d (train), %d (test); want 5 and 7", train.Labels[0], test.Labels[0])
	}
	// The first training image, a 5: its first rows are blank; row 5 begins
	// the stroke with the well-known bytes 3 18 18 18 126 136 175 26 166 255 247 127.
	img := train.Image(0)
	want := []uint8{3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127}
	if got := img[5*28+12 : 5*28+24]; !slices.Equal(got, want) {
		t.Errorf("image 0 row 5 = %v, want %v", got, want)
	}
	sum := 0
	for _, b := range img[:5*28] {
		sum += int(b)
	}
	if sum != 0 {
		t.Errorf("image 0 rows 0-4 sum to %d, want blank", sum)
	}
}

// TestMNISTFromDir reads the same files from a directory: gzipped for the
// train split, raw for the test split.
func TestMNISTFromDir(t *testing.T) {
	train, test := loadMNISTForTest(t)
	dir := t.TempDir()
	for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"} {
		b, err := mnistFS.ReadFile("mnist/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pixels := idxFile(idxMagicImages, []uint32{uint32(test.N), 28, 28}, test.Images)
	labels := make([]byte, test.N)
	for i, y := range test.Labels {
		labels[i] = byte(y)
	}
	for f, b := range map[string][]byte{
		"t10k-images-idx3-ubyte": pixels,
		"t10k-labels-idx1-ubyte": idxFile(idxMagicLabels, []uint32{uint32(test.N)}, labels),
	} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	train2, test2, err := Load("mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.Images, train2.Images) || !slices.Equal(train.Labels, train2.Labels) ||
		!slices.Equal(test.Images, test2.Images) || !slices.Equal(test.Labels, test2.Labels) {
		t.Error("MNIST read from a directory differs from the embedded copy")
	}
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed (%v); apt-get install dataset-fashion-mnist to run this test", err)
	}
	train, test, err := Load("fashion-mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d        *Dataset
		n, class int
	}{{train, 60000, 6000}, {test, 10000, 1000}} {
		d := tc.d
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Name != "fashion-mnist" || d.N != tc.n || d.H != 28 || d.W != 28 || d.C != 1 || d.Classes != 10 ||
			len(d.ClassNames) != 10 || d.Mean[0] != 0.2860 || d.Std[0] != 0.3530 {
			t.Errorf("got %s N=%d %d×%d×%d classes %d names %v norm %v/%v",
				d.Name, d.N, d.H, d.W, d.C, d.Classes, d.ClassNames, d.Mean, d.Std)
		}
		for c, k := range d.Histogram() {
			if k != tc.class {
				t.Errorf("%d-image split: class %d has %d images, want %d", tc.n, c, k, tc.class)
			}
		}
	}
	if train.Labels[0] != 9 || test.Labels[0] != 9 { // both splits start with an ankle boot
		t.Errorf("first labels %d, %d; want 9, 9", train.Labels[0], test.Labels[0])
	}
}

func TestDatasetSubsetClone(t *testing.T) {
	d := &Dataset{
		Name: "tiny", N: 3, H: 1, W: 2, C: 2, Classes: 3,
		Images: []uint8{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23},
		Labels: []int{0, 1, 2}, Mean: []float32{0.5, 0.5}, Std: []float32{0.25, 0.25},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := d.Image(1); !slices.Equal(got, []uint8{10, 11, 12, 13}) || cap(got) != 4 {
		t.Errorf("Image(1) = %v (cap %d)", got, cap(got))
	}
	d.Image(1)[0] = 9 // a view: writes go through
	if d.Images[4] != 9 {
		t.Error("Image is not a view")
	}
	d.Images[4] = 10

	s := d.Subset([]int{2, 0, 2})
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || !slices.Equal(s.Images, []uint8{20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23}) ||
		!slices.Equal(s.Labels, []int{2, 0, 2}) || s.Name != "tiny" || !slices.Equal(s.Mean, d.Mean) {
		t.Errorf("Subset = %+v", s)
	}
	s.Images[0], s.Mean[0] = 99, 9
	c := d.Clone()
	c.Images[0], c.Labels[0] = 99, 2
	if d.Images[0] != 0 || d.Labels[0] != 0 || d.Mean[0] != 0.5 {
		t.Error("Subset or Clone shares memory with the original")
	}
	if e := d.Subset(nil); e.N != 0 || len(e.Images) != 0 || e.Validate() != nil {
		t.Errorf("empty subset %+v", e)
	}

	bad := d.Clone()
	bad.Labels[2] = 3
	if err := bad.Validate(); err == nil || err.Error() != "data: tiny: label 3 of image 2 is outside 0..2" {
		t.Errorf("Validate: %v", err)
	}
	bad = d.Clone()
	bad.Images = bad.Images[:11]
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted short images")
	}
}
