package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"ebyd/internal/userfile"
)

const imageFolderExpect = "--data-dir must hold train/<class>/*.png|*.jpg|*.jpeg and test/<class>/... " +
	"(torchvision's ImageFolder layout, with the same class folders in both)"

// Limits that turn absurd input into an error rather than an allocation the
// process cannot survive.
const (
	maxImagePixels      = 1 << 24 // per image, e.g. 4096×4096
	maxImageFolderBytes = 1 << 36 // per split, decoded
)

// unsupportedImageExts are the other extensions torchvision's ImageFolder
// accepts; ebyd refuses them rather than silently leaving files out, which
// would change the dataset and its labels.
var unsupportedImageExts = []string{".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}

func loadImageFolder(dir string) (train, test *Dataset, err error) {
	if dir == "" {
		return nil, nil, errors.New("data: imagefolder: no directory given; " + imageFolderExpect)
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("data: imagefolder: directory %q not found; %s", dir, imageFolderExpect)
	case err != nil:
		return nil, nil, fmt.Errorf("data: imagefolder: %w", err)
	case !fi.IsDir():
		return nil, nil, fmt.Errorf("data: imagefolder: %q is not a directory; %s", dir, imageFolderExpect)
	}
	trainDir, testDir := filepath.Join(dir, "train"), filepath.Join(dir, "test")
	classes, trainFiles, trainLabels, err := listImageFolder(trainDir)
	if err != nil {
		return nil, nil, err
	}
	testClasses, testFiles, testLabels, err := listImageFolder(testDir)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(classes, testClasses) {
		return nil, nil, classMismatch(trainDir, testDir, classes, testClasses)
	}

	// The first training image fixes the size of all.
	first := trainFiles[0]
	w, h, err := imageFileSize(first)
	if err != nil {
		return nil, nil, err
	}
	if w*h > maxImagePixels {
		return nil, nil, fmt.Errorf("data: imagefolder: %q is %d×%d pixels, more than the %d this reader accepts per image", first, w, h, maxImagePixels)
	}
	ref := imageRef{path: first, w: w, h: h}
	if train, err = readImageFolderSplit(trainFiles, trainLabels, ref); err != nil {
		return nil, nil, err
	}
	if test, err = readImageFolderSplit(testFiles, testLabels, ref); err != nil {
		return nil, nil, err
	}
	train.Mean, train.Std = channelStats(train)
	for _, d := range []*Dataset{train, test} {
		d.Classes = len(classes)
		d.ClassNames = slices.Clone(classes)
		d.Mean, d.Std = slices.Clone(train.Mean), slices.Clone(train.Std)
		if err := d.Validate(); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// listImageFolder lists the class folders of root (its subfolders, sorted)
// and their image files in torchvision's order: folders below a class are
// walked too, ordered by path, files by name. Labels are class indices.
func listImageFolder(root string) (classes, files []string, labels []int, err error) {
	entries, err := os.ReadDir(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil, fmt.Errorf("data: imagefolder: %q not found; %s", root, imageFolderExpect)
	case err != nil:
		return nil, nil, nil, fmt.Errorf("data: imagefolder: %w", err)
	}
	for _, e := range entries { // sorted by name, as torchvision's find_classes
		if isDir(root, e) {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, nil, nil, fmt.Errorf("data: imagefolder: %q holds no class folders; %s", root, imageFolderExpect)
	}
	for label, class := range classes {
		var dirs []dirFiles
		if err := walkImages(filepath.Join(root, class), 0, &dirs); err != nil {
			return nil, nil, nil, err
		}
		// torchvision: for root, _, fnames in sorted(os.walk(dir)): for f in sorted(fnames).
		slices.SortFunc(dirs, func(a, b dirFiles) int { return strings.Compare(a.dir, b.dir) })
		n := len(files)
		for _, d := range dirs {
			for _, f := range d.names {
				files = append(files, filepath.Join(d.dir, f))
				labels = append(labels, label)
			}
		}
		if len(files) == n {
			return nil, nil, nil, fmt.Errorf("data: imagefolder: class folder %q holds no .png, .jpg or .jpeg images; %s",
				filepath.Join(root, class), imageFolderExpect)
		}
	}
	return classes, files, labels, nil
}

// dirFiles is one folder's image file names, sorted.
type dirFiles struct {
	dir   string
	names []string
}

// isDir reports whether the entry of dir is a folder, following symbolic links.
func isDir(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && fi.IsDir()
	}
	return e.IsDir()
}

// walkImages appends dir's image files, then its subfolders', to out.
func walkImages(dir string, depth int, out *[]dirFiles) error {
	if depth > 32 {
		return fmt.Errorf("data: imagefolder: %q is nested more than 32 folders deep (a symbolic link loop?)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data: imagefolder: %w", err)
	}
	d := dirFiles{dir: dir}
	var subdirs []string
	for _, e := range entries {
		if isDir(dir, e) {
			subdirs = append(subdirs, filepath.Join(dir, e.Name()))
			continue
		}
		switch ext := strings.ToLower(filepath.Ext(e.Name())); {
		case ext == ".png" || ext == ".jpg" || ext == ".jpeg":
			d.names = append(d.names, e.Name())
		case slices.Contains(unsupportedImageExts, ext):
			return fmt.Errorf("data: imagefolder: %q: ebyd reads only PNG and JPEG images; convert or remove it",
				filepath.Join(dir, e.Name()))
		}
		// Other files are not images and are left out, as by torchvision.
	}
	*out = append(*out, d)
	for _, s := range subdirs {
		if err := walkImages(s, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

// classMismatch describes how the test split's classes differ from train's.
func classMismatch(trainDir, testDir string, train, test []string) error {
	var missing, extra []string
	for _, c := range train {
		if !slices.Contains(test, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range test {
		if !slices.Contains(train, c) {
			extra = append(extra, c)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%q lacks class folders %q", testDir, missing))
	}
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("%q has class folders %q that %q lacks", testDir, extra, trainDir))
	}
	return fmt.Errorf("data: imagefolder: the test classes differ from the training classes: %s; %s",
		strings.Join(parts, ", and "), imageFolderExpect)
}

// imageRef is the image whose size all others must have.
type imageRef struct {
	path string
	w, h int
}

// imageFileSize reads the width and height from an image file's header.
func imageFileSize(path string) (w, h int, err error) {
	b, err := userfile.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("data: imagefolder: %w", err)
	}
	cfg, err := decodeImageConfig(path, b)
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// imageFormat recognises PNG and JPEG by their first bytes (not by the
// file's extension, which is sometimes wrong).
func imageFormat(path string, b []byte) (decode func([]byte) (image.Image, error), config func([]byte) (image.Config, error), err error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
			func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }, nil
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		return func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
			func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }, nil
	}
	return nil, nil, fmt.Errorf("data: imagefolder: %q is not a PNG or JPEG image (corrupt?)", path)
}

func decodeImageConfig(path string, b []byte) (image.Config, error) {
	_, config, err := imageFormat(path, b)
	if err != nil {
		return image.Config{}, err
	}
	cfg, err := config(b)
	if err != nil {
		return image.Config{}, fmt.Errorf("data: imagefolder: %q: corrupt image: %w", path, err)
	}
	return cfg, nil
}

// decodeImageFile decodes the image at path, which must have ref's size,
// into dst as H×W×3 RGB bytes.
func decodeImageFile(dst []uint8, path string, ref imageRef) error {
	b, err := userfile.ReadFile(path)
	if err != nil {
		return fmt.Errorf("data: imagefolder: %w", err)
	}
	return decodeImage(dst, path, b, ref)
}

// decodeImage is decodeImageFile on the file's bytes b.
func decodeImage(dst []uint8, path string, b []byte, ref imageRef) error {
	decode, _, err := imageFormat(path, b)
	if err != nil {
		return err
	}
	cfg, err := decodeImageConfig(path, b) // the header first: no full decode of a wrong size
	if err != nil {
		return err
	}
	if cfg.Width != ref.w || cfg.Height != ref.h {
		return sizeMismatch(path, cfg.Width, cfg.Height, ref)
	}
	img, err := decode(b)
	if err != nil {
		return fmt.Errorf("data: imagefolder: %q: corrupt image: %w", path, err)
	}
	if r := img.Bounds(); r.Dx() != ref.w || r.Dy() != ref.h {
		return sizeMismatch(path, r.Dx(), r.Dy(), ref)
	}
	toRGB(dst, img)
	return nil
}

func sizeMismatch(path string, w, h int, ref imageRef) error {
	return fmt.Errorf("data: imagefolder: %q is %d×%d pixels but %q is %d×%d (width×height); all images must have the same size",
		path, w, h, ref.path, ref.w, ref.h)
}

// toRGB writes img as HWC RGB bytes to dst: gray images get their value in
// all three channels, alpha is dropped (the colour kept as stored, not
// blended), 16-bit samples keep their high byte, as PIL's convert("RGB").
func toRGB(dst []uint8, img image.Image) {
	r := img.Bounds()
	w := r.Dx()
	switch m := img.(type) {
	case *image.Gray:
		for y := range r.Dy() {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			out := dst[3*y*w : 3*(y+1)*w]
			for x, v := range row {
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = v, v, v
			}
		}
	case *image.NRGBA:
		rgbaToRGB(dst, m.Pix, m.Stride, w, r.Dy())
	case *image.RGBA:
		if m.Opaque() { // premultiplied colour equals straight colour only where opaque
			rgbaToRGB(dst, m.Pix, m.Stride, w, r.Dy())
			return
		}
		genericToRGB(dst, img)
	case *image.YCbCr:
		for y := range r.Dy() {
			for x := range w {
				yi, ci := m.YOffset(r.Min.X+x, r.Min.Y+y), m.COffset(r.Min.X+x, r.Min.Y+y)
				o := dst[3*(y*w+x) : 3*(y*w+x)+3 : 3*(y*w+x)+3]
				o[0], o[1], o[2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, len(m.Palette))
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range r.Dy() {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, k := range row {
				var c [3]uint8
				if int(k) < len(pal) { // out-of-palette indices are black, as image.Paletted.At
					c = pal[k]
				}
				copy(dst[3*(y*w+x):3*(y*w+x)+3], c[:])
			}
		}
	default:
		genericToRGB(dst, img)
	}
}

// rgbaToRGB drops the alpha byte of 4-byte pixels.
func rgbaToRGB(dst, pix []uint8, stride, w, h int) {
	for y := range h {
		row := pix[y*stride : y*stride+4*w]
		out := dst[3*y*w : 3*(y+1)*w]
		for x := range w {
			s := row[4*x : 4*x+3 : 4*x+3]
			o := out[3*x : 3*x+3 : 3*x+3]
			o[0], o[1], o[2] = s[0], s[1], s[2]
		}
	}
}

// genericToRGB converts any image through straight (non-premultiplied) colour.
func genericToRGB(dst []uint8, img image.Image) {
	r := img.Bounds()
	w := r.Dx()
	for y := range r.Dy() {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			o := dst[3*(y*w+x) : 3*(y*w+x)+3 : 3*(y*w+x)+3]
			o[0], o[1], o[2] = c.R, c.G, c.B
		}
	}
}

// readImageFolderSplit decodes files (all of ref's size) into one dataset,
// in parallel. The error returned is that of the first bad file in the
// listing's order, whatever the goroutines' timing.
func readImageFolderSplit(files []string, labels []int, ref imageRef) (*Dataset, error) {
	n, isz := len(files), ref.w*ref.h*3
	if int64(n)*int64(isz) > maxImageFolderBytes {
		return nil, fmt.Errorf("data: imagefolder: %d images of %d×%d pixels would take %d GiB decoded; more than this reader accepts",
			n, ref.w, ref.h, int64(n)*int64(isz)>>30)
	}
	d := &Dataset{
		Name: "imagefolder", N: n, H: ref.h, W: ref.w, C: 3,
		Images: make([]uint8, n*isz), Labels: slices.Clone(labels),
	}
	errs := make([]error, n)
	var next atomic.Int64
	var firstBad atomic.Int64 // the lowest failed index so far; files after it need no work
	firstBad.Store(int64(n))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				// Indices are handed out in order, so when file i fails every
				// file before it has been (or is being) decoded.
				i := next.Add(1) - 1
				if i >= firstBad.Load() {
					return
				}
				if err := decodeImageFile(d.Images[i*int64(isz):(i+1)*int64(isz)], files[i], ref); err != nil {
					errs[i] = err
					for {
						old := firstBad.Load()
						if i >= old || firstBad.CompareAndSwap(old, i) {
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// channelStats returns the mean and standard deviation of each channel over
// all pixels of d, on the [0, 1] scale (the population deviation; a channel
// that never varies gets 1, so that normalising only centres it).
func channelStats(d *Dataset) (mean, std []float32) {
	sum, sq := make([]uint64, d.C), make([]uint64, d.C)
	chunk := max(1, (d.N+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for lo := 0; lo < d.N; lo += chunk {
		wg.Go(func() {
			s, q := make([]uint64, d.C), make([]uint64, d.C)
			pix := d.Images[lo*d.ImageSize() : min(lo+chunk, d.N)*d.ImageSize()]
			for p := 0; p < len(pix); p += d.C {
				for c, b := range pix[p : p+d.C] {
					s[c] += uint64(b)
					q[c] += uint64(b) * uint64(b)
				}
			}
			mu.Lock() // integer sums: the order of addition does not matter
			for c := range s {
				sum[c] += s[c]
				sq[c] += q[c]
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	count := float64(d.N * d.H * d.W)
	for c := range d.C {
		m := float64(sum[c]) / count
		v := max(0, float64(sq[c])/count-m*m)
		sd := math.Sqrt(v) / 255
		if float32(sd) <= 0 {
			sd = 1
		}
		mean = append(mean, float32(m/255))
		std = append(std, float32(sd))
	}
	return mean, std
}
