package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// writeFile writes b to dir/rel, creating folders.
func writeFile(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rgbImage is a w×h image whose pixel (x, y) has colour f(x, y) and alpha a.
func rgbImage(w, h int, a uint8, f func(x, y int) [3]uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := f(x, y)
			m.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], a})
		}
	}
	return m
}

func grayImage(w, h int, f func(x, y int) uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	return m
}

func distinct(seed int) func(x, y int) [3]uint8 {
	return func(x, y int) [3]uint8 {
		return [3]uint8{uint8(seed + 10*y + x), uint8(seed + 100 + 10*y + x), uint8(seed + 200 - 10*y - x)}
	}
}

// uniform is a colour JPEG survives with its values nearly intact.
func uniform(r, g, b uint8) func(x, y int) [3]uint8 {
	return func(int, int) [3]uint8 { return [3]uint8{r, g, b} }
}

// writeImageFolder writes a small valid ImageFolder tree of 4×4 images.
func writeImageFolder(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, dir, "train/cat/a.png", pngBytes(t, rgbImage(4, 4, 255, distinct(0))))
	writeFile(t, dir, "train/cat/b.png", pngBytes(t, grayImage(4, 4, func(x, y int) uint8 { return uint8(50 + 4*y + x) })))
	writeFile(t, dir, "train/cat/notes.txt", []byte("not an image"))
	writeFile(t, dir, "train/dog/c.JPG", jpegBytes(t, rgbImage(4, 4, 255, uniform(200, 100, 50))))
	writeFile(t, dir, "train/dog/sub/d.png", pngBytes(t, rgbImage(4, 4, 128, distinct(7)))) // alpha is dropped
	writeFile(t, dir, "train/dog-b/e.png", pngBytes(t, rgbImage(4, 4, 255, distinct(3))))
	writeFile(t, dir, "test/cat/x.png", pngBytes(t, rgbImage(4, 4, 255, distinct(5))))
	writeFile(t, dir, "test/dog/y.jpeg", jpegBytes(t, grayImage(4, 4, func(int, int) uint8 { return 77 })))
	writeFile(t, dir, "test/dog-b/z.png", pngBytes(t, rgbImage(4, 4, 255, distinct(9))))
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	writeImageFolder(t, dir)
	train, test, err := Load("imagefolder", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dataset{train, test} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Name != "imagefolder" || d.H != 4 || d.W != 4 || d.C != 3 || d.Classes != 3 ||
			!slices.Equal(d.ClassNames, []string{"cat", "dog", "dog-b"}) {
			t.Fatalf("got %s N=%d %d×%d×%d classes %v", d.Name, d.N, d.H, d.W, d.C, d.ClassNames)
		}
	}
	// Files in torchvision's order: a, b (cat); c, sub/d (dog); e (dog-b).
	if train.N != 5 || !slices.Equal(train.Labels, []int{0, 0, 1, 1, 2}) {
		t.Fatalf("train N=%d labels %v", train.N, train.Labels)
	}
	if test.N != 3 || !slices.Equal(test.Labels, []int{0, 1, 2}) {
		t.Fatalf("test N=%d labels %v", test.N, test.Labels)
	}
	exactRGB := func(d *Dataset, i int, f func(x, y int) [3]uint8) {
		t.Helper()
		for y := range 4 {
			for x := range 4 {
				want := f(x, y)
				if got := d.Image(i)[(y*4+x)*3 : (y*4+x)*3+3]; !slices.Equal(got, want[:]) {
					t.Fatalf("image %d (x=%d, y=%d) = %v, want %v", i, x, y, got, want)
				}
			}
		}
	}
	exactRGB(train, 0, distinct(0))
	exactRGB(train, 1, func(x, y int) [3]uint8 { v := uint8(50 + 4*y + x); return [3]uint8{v, v, v} })
	exactRGB(train, 3, distinct(7)) // the colour as stored, not blended with the alpha
	exactRGB(train, 4, distinct(3))
	exactRGB(test, 0, distinct(5))
	exactRGB(test, 2, distinct(9))
	exactRGB(test, 1, uniform(77, 77, 77)) // a gray JPEG decodes exactly
	for p, b := range train.Image(2) {     // a colour JPEG of one colour, within JPEG's rounding
		if want := []int{200, 100, 50}[p%3]; math.Abs(float64(int(b)-want)) > 3 {
			t.Errorf("JPEG pixel %d channel %d = %d, want about %d", p/3, p%3, b, want)
		}
	}

	// Mean and Std: over the train split's pixels, per channel, on the [0, 1] scale.
	for c := range 3 {
		var s, q float64
		for p := c; p < len(train.Images); p += 3 {
			v := float64(train.Images[p]) / 255
			s += v
			q += v * v
		}
		n := float64(train.N * 16)
		mean := s / n
		std := math.Sqrt(q/n - mean*mean)
		if math.Abs(float64(train.Mean[c])-mean) > 1e-6 || math.Abs(float64(train.Std[c])-std) > 1e-6 {
			t.Errorf("channel %d: mean %v std %v, want %v %v", c, train.Mean[c], train.Std[c], mean, std)
		}
	}
	if !slices.Equal(test.Mean, train.Mean) || !slices.Equal(test.Std, train.Std) {
		t.Errorf("test normalisation %v/%v differs from train's %v/%v", test.Mean, test.Std, train.Mean, train.Std)
	}

	// Deterministic, whatever GOMAXPROCS.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	train1, test1, err := Load("imagefolder", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train1.Images, train.Images) || !slices.Equal(test1.Images, test.Images) ||
		!slices.Equal(train1.Mean, train.Mean) || !slices.Equal(train1.Std, train.Std) {
		t.Error("GOMAXPROCS=1 gives other data")
	}
}

// TestImageFolderPalettedAnd32 reads a paletted PNG and a 32×32 16-bit PNG.
func TestImageFolderPalettedAnd32(t *testing.T) {
	dir := t.TempDir()
	pal := image.NewPaletted(image.Rect(0, 0, 32, 32), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 150, 100, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 2)
	}
	deep := image.NewRGBA64(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			deep.SetRGBA64(x, y, color.RGBA64{uint16(x) << 10, uint16(y) << 10, 0x1234, 0xffff})
		}
	}
	writeFile(t, dir, "train/a/p.png", pngBytes(t, pal))
	writeFile(t, dir, "train/b/q.png", pngBytes(t, deep))
	writeFile(t, dir, "test/a/p.png", pngBytes(t, pal))
	writeFile(t, dir, "test/b/q.png", pngBytes(t, deep))
	train, _, err := Load("imagefolder", dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.H != 32 || train.W != 32 {
		t.Fatalf("%d×%d", train.H, train.W)
	}
	if got := train.Image(0)[:6]; !slices.Equal(got, []uint8{10, 20, 30, 200, 150, 100}) {
		t.Errorf("paletted pixels %v", got)
	}
	at := (5*32 + 3) * 3 // (x=3, y=5): the high bytes of the 16-bit samples
	if got := train.Image(1)[at : at+3]; !slices.Equal(got, []uint8{3 << 2, 5 << 2, 0x12}) {
		t.Errorf("16-bit pixel %v", got)
	}
}

func TestImageFolderErrors(t *testing.T) {
	root := t.TempDir()
	setup := func(name string, edit func(dir string)) string {
		dir := filepath.Join(root, name)
		writeImageFolder(t, dir)
		edit(dir)
		return dir
	}
	small := pngBytes(t, rgbImage(4, 4, 255, distinct(1)))
	wide := pngBytes(t, rgbImage(5, 4, 255, distinct(1)))
	corrupt := slices.Clone(small)
	corrupt = corrupt[:len(corrupt)-20] // cut inside the image data
	flipped := slices.Clone(small)
	flipped[len(flipped)/2] ^= 0xff // a CRC mismatch

	sizes := setup("sizes", func(dir string) { writeFile(t, dir, "train/dog/c2.png", wide) })
	testSize := setup("testsize", func(dir string) { writeFile(t, dir, "test/cat/w.png", wide) })
	truncated := setup("truncated", func(dir string) { writeFile(t, dir, "train/cat/a.png", corrupt) })
	crc := setup("crc", func(dir string) { writeFile(t, dir, "test/dog-b/z.png", flipped) })
	notImage := setup("notimage", func(dir string) { writeFile(t, dir, "train/dog/fake.png", []byte("hello")) })
	// Two bad files: the first in the listing's order is reported.
	twoBad := setup("twobad", func(dir string) {
		writeFile(t, dir, "train/dog-b/e.png", corrupt)
		writeFile(t, dir, "train/cat/b.png", wide)
	})
	classes := setup("classes", func(dir string) {
		os.RemoveAll(filepath.Join(dir, "test/dog"))
		writeFile(t, dir, "test/cow/y.png", small)
	})
	emptyClass := setup("emptyclass", func(dir string) { os.MkdirAll(filepath.Join(dir, "train/eel"), 0o755) })
	bmp := setup("bmp", func(dir string) { writeFile(t, dir, "train/cat/z.bmp", []byte("BM")) })
	noTest := setup("notest", func(dir string) { os.RemoveAll(filepath.Join(dir, "test")) })
	noClasses := filepath.Join(root, "noclasses")
	writeFile(t, noClasses, "train/loose.png", small)
	nowhere := filepath.Join(root, "nowhere")

	q := func(dir, rel string) string { return `"` + filepath.Join(dir, rel) + `"` }
	for _, tc := range []struct {
		name, dir string
		want      []string
	}{
		{"no dir", "", []string{"no directory given", "--data-dir must hold train/<class>/"}},
		{"missing dir", nowhere, []string{`directory "` + nowhere + `" not found`, "ImageFolder layout"}},
		{"no test split", noTest, []string{q(noTest, "test") + " not found"}},
		{"no classes", noClasses, []string{q(noClasses, "train") + " holds no class folders"}},
		{"sizes", sizes, []string{q(sizes, "train/dog/c2.png") + " is 5×4 pixels but " + q(sizes, "train/cat/a.png") + " is 4×4 (width×height)"}},
		{"test size", testSize, []string{q(testSize, "test/cat/w.png") + " is 5×4 pixels"}},
		{"truncated PNG", truncated, []string{q(truncated, "train/cat/a.png") + ": corrupt image"}},
		{"CRC", crc, []string{q(crc, "test/dog-b/z.png") + ": corrupt image"}},
		{"not an image", notImage, []string{q(notImage, "train/dog/fake.png") + " is not a PNG or JPEG image"}},
		{"first bad file", twoBad, []string{q(twoBad, "train/cat/b.png") + " is 5×4"}},
		{"class sets", classes, []string{"test classes differ", `lacks class folders ["dog"]`, `has class folders ["cow"]`}},
		{"empty class", emptyClass, []string{q(emptyClass, "train/eel") + " holds no .png, .jpg or .jpeg images"}},
		{"bmp", bmp, []string{q(bmp, "train/cat/z.bmp") + ": ebyd reads only PNG and JPEG"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, procs := range []int{1, 4} {
				old := runtime.GOMAXPROCS(procs)
				_, _, err := Load("imagefolder", tc.dir)
				runtime.GOMAXPROCS(old)
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("GOMAXPROCS=%d: error %q\nlacks %q", procs, err, w)
					}
				}
				if !strings.HasPrefix(err.Error(), "data: imagefolder: ") {
					t.Errorf("error %q lacks the prefix", err)
				}
			}
		})
	}
}
