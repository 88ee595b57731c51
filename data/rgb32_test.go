package data

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRGB32OnMNIST(t *testing.T) {
	train, _ := loadMNISTForTest(t)
	gray := train.Subset([]int{0, 59999})
	v, err := RGB32(gray)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if v.Name != "mnist-rgb32" || v.N != 2 || v.H != 32 || v.W != 32 || v.C != 3 || v.Classes != 10 ||
		!slices.Equal(v.Labels, []int{5, 8}) {
		t.Fatalf("got %s N=%d %d×%d×%d labels %v", v.Name, v.N, v.H, v.W, v.C, v.Labels)
	}
	if !slices.Equal(v.Mean, []float32{0.1307, 0.1307, 0.1307}) || !slices.Equal(v.Std, []float32{0.3081, 0.3081, 0.3081}) {
		t.Errorf("normalisation %v / %v", v.Mean, v.Std)
	}
	for i := range 2 {
		src, img := gray.Image(i), v.Image(i)
		for y := range 32 {
			for x := range 32 {
				want := uint8(0) // the 2-pixel black border
				if y >= 2 && y < 30 && x >= 2 && x < 30 {
					want = src[(y-2)*28+x-2]
				}
				for c := range 3 {
					if got := img[(y*32+x)*3+c]; got != want {
						t.Fatalf("image %d (y=%d, x=%d, c=%d) = %d, want %d", i, y, x, c, got, want)
					}
				}
			}
		}
	}
	// The stroke bytes of image 0's row 5 (see TestMNISTEmbedded) land on row 7, from column 14.
	if got := v.Image(0)[(7*32+14)*3 : (7*32+14)*3+6]; !slices.Equal(got, []uint8{3, 3, 3, 18, 18, 18}) {
		t.Errorf("row 7 from column 14: %v", got)
	}
	// Each channel normalises as the gray image does.
	xg, _ := Batch(gray, []int{0})
	xv, _ := Batch(v, []int{0})
	for c := range 3 {
		for y := range 28 {
			for x := range 28 {
				if g, r := xg.Data[y*28+x], xv.Data[(c*32+y+2)*32+x+2]; g != r {
					t.Fatalf("channel %d (%d, %d): %v, gray %v", c, y, x, r, g)
				}
			}
		}
	}
	if xv.Data[0] != xg.Data[0] { // border pixels are normalised zeros
		t.Errorf("border %v, want %v", xv.Data[0], xg.Data[0])
	}
	if gray.C != 1 || len(gray.Mean) != 1 {
		t.Error("RGB32 modified its argument")
	}

	if _, err := RGB32(v); err == nil || !strings.Contains(err.Error(), "needs grayscale images") {
		t.Errorf("RGB32 of an RGB dataset: %v", err)
	}
	big := &Dataset{Name: "big", N: 1, H: 33, W: 10, C: 1, Classes: 1, Images: make([]uint8, 330), Labels: []int{0}}
	if _, err := RGB32(big); err == nil {
		t.Error("RGB32 accepted 33 rows")
	}
}

func TestLoadRGB32(t *testing.T) {
	for _, n := range []string{"mnist-rgb32", "fashion-mnist-rgb32", "cifar10", "imagefolder", "mnist", "fashion-mnist"} {
		if !slices.Contains(Names(), n) {
			t.Errorf("Names() = %v lacks %s", Names(), n)
		}
	}
	if testing.Short() {
		t.Skip("loads MNIST a second time")
	}
	train, test, err := Load("mnist-rgb32", "")
	if err != nil {
		t.Fatal(err)
	}
	gtrain, gtest := loadMNISTForTest(t)
	for _, p := range [][2]*Dataset{{train, gtrain}, {test, gtest}} {
		d, g := p[0], p[1]
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Name != "mnist-rgb32" || d.N != g.N || d.H != 32 || d.C != 3 || !slices.Equal(d.Labels, g.Labels) {
			t.Errorf("got %s N=%d %d×%d×%d", d.Name, d.N, d.H, d.W, d.C)
		}
	}
	want, _ := RGB32(gtest.Subset([]int{gtest.N - 1}))
	if !slices.Equal(test.Image(test.N-1), want.Image(0)) {
		t.Error("the loaded view's last test image differs from RGB32 of MNIST's")
	}
}

func TestFashionMNISTRGB32Dir(t *testing.T) {
	// The directory means what it means for Fashion-MNIST: a missing one is
	// reported as Fashion-MNIST's loader reports it.
	_, _, err := Load("fashion-mnist-rgb32", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "fashion-mnist: train-images-idx3-ubyte(.gz) not found") {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	if testing.Short() {
		t.Skip("loads Fashion-MNIST")
	}
	train, _, err := Load("fashion-mnist-rgb32", "")
	if err != nil {
		t.Fatal(err)
	}
	if train.Name != "fashion-mnist-rgb32" || train.N != 60000 || train.C != 3 || train.H != 32 ||
		len(train.ClassNames) != 10 || !slices.Equal(train.Mean, []float32{0.2860, 0.2860, 0.2860}) {
		t.Errorf("got %s N=%d %d×%d×%d names %v mean %v", train.Name, train.N, train.H, train.W, train.C, train.ClassNames, train.Mean)
	}
}
