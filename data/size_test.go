package data

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitSizesDiffer: a --data-dir whose test images are another size
// than its training images fails at load time with both sizes named, not
// later inside the model.
func TestSplitSizesDiffer(t *testing.T) {
	t.Run("idx", func(t *testing.T) {
		small := idxFile(idxMagicImages, []uint32{3, 1, 4}, make([]byte, 12)) // 3 images of 1×4
		dir := writeIDXDir(t, tinyImages, tinyLabels, small, tinyLabels)
		for _, name := range []string{"mnist", "fashion-mnist", "mnist-rgb32"} {
			_, _, err := Load(name, dir)
			want := "t10k-images-idx3-ubyte holds 1×4 images but train-images-idx3-ubyte.gz holds 2×2 (height×width); the training and test images must have one size"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v\nwant it to contain %q", name, err, want)
			}
		}
	})
	t.Run("imagefolder", func(t *testing.T) {
		dir := t.TempDir()
		for _, c := range []string{"cat", "dog"} {
			for i, name := range []string{"a.png", "b.png"} {
				writeFile(t, dir, filepath.Join("train", c, name), pngBytes(t, rgbImage(8, 8, 255, distinct(i))))
				writeFile(t, dir, filepath.Join("test", c, name), pngBytes(t, grayImage(6, 5, func(x, y int) uint8 { return uint8(x + y) })))
			}
		}
		_, _, err := Load("imagefolder", dir)
		want := []string{
			`"` + filepath.Join(dir, "test/cat/a.png") + `" is 6×5 pixels`,
			`"` + filepath.Join(dir, "train/cat/a.png") + `" is 8×8 (width×height)`,
		}
		if err == nil {
			t.Fatal("loaded")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q\nlacks %q", err, w)
			}
		}
	})
	t.Run("any loader", func(t *testing.T) {
		registry["odd-test"] = func(string) (*Dataset, *Dataset, error) {
			return &Dataset{Name: "odd-test", N: 0, H: 28, W: 28, C: 1, Classes: 10},
				&Dataset{Name: "odd-test", N: 0, H: 14, W: 14, C: 1, Classes: 10}, nil
		}
		defer delete(registry, "odd-test")
		_, _, err := Load("odd-test", "")
		want := "data: odd-test: the test images are 14×14×1 but the training images are 28×28×1 (height×width×channels)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	})
}
