package data

import (
	"fmt"
	"slices"
	"strings"
)

// Dataset is a labelled image set held as uint8 pixels in HWC order: attacks
// stamp triggers on these bytes, and only the loader converts them to
// normalised float NCHW batches.
type Dataset struct {
	Name       string
	Images     []uint8 // N×H×W×C, row-major
	Labels     []int   // N labels in [0, Classes)
	N, H, W, C int
	Classes    int
	ClassNames []string // Classes names, or nil

	// Mean and Std hold per-channel normalisation (on the [0,1] scale) used by
	// models trained on this dataset; empty means none.
	Mean, Std []float32
}

// ImageSize is the number of bytes of one image, H·W·C.
func (d *Dataset) ImageSize() int { return d.H * d.W * d.C }

// Image returns image i as a slice view into d.Images (writes go through).
func (d *Dataset) Image(i int) []uint8 {
	n := d.ImageSize()
	return d.Images[i*n : (i+1)*n : (i+1)*n]
}

// Subset returns a new dataset holding copies of the images and labels at
// indices, in that order (repeats allowed). It panics on an index out of range.
func (d *Dataset) Subset(indices []int) *Dataset {
	s := d.withoutData(len(indices))
	n := d.ImageSize()
	s.Images = make([]uint8, len(indices)*n)
	s.Labels = make([]int, len(indices))
	for j, i := range indices {
		copy(s.Images[j*n:(j+1)*n], d.Image(i))
		s.Labels[j] = d.Labels[i]
	}
	return s
}

// Clone returns a deep copy, e.g. to poison without touching the original.
func (d *Dataset) Clone() *Dataset {
	s := d.withoutData(d.N)
	s.Images = slices.Clone(d.Images)
	s.Labels = slices.Clone(d.Labels)
	return s
}

func (d *Dataset) withoutData(n int) *Dataset {
	return &Dataset{
		Name: d.Name, N: n, H: d.H, W: d.W, C: d.C, Classes: d.Classes,
		ClassNames: slices.Clone(d.ClassNames),
		Mean:       slices.Clone(d.Mean), Std: slices.Clone(d.Std),
	}
}

// Validate checks that sizes agree and labels lie in [0, Classes).
func (d *Dataset) Validate() error {
	switch {
	case d.N < 0 || d.H <= 0 || d.W <= 0 || d.C <= 0:
		return fmt.Errorf("data: %s: bad shape N=%d H=%d W=%d C=%d", d.Name, d.N, d.H, d.W, d.C)
	case len(d.Images) != d.N*d.ImageSize():
		return fmt.Errorf("data: %s: %d image bytes, want N×H×W×C = %d×%d×%d×%d = %d",
			d.Name, len(d.Images), d.N, d.H, d.W, d.C, d.N*d.ImageSize())
	case len(d.Labels) != d.N:
		return fmt.Errorf("data: %s: %d labels for %d images", d.Name, len(d.Labels), d.N)
	case d.Classes <= 0:
		return fmt.Errorf("data: %s: %d classes", d.Name, d.Classes)
	case d.ClassNames != nil && len(d.ClassNames) != d.Classes:
		return fmt.Errorf("data: %s: %d class names for %d classes", d.Name, len(d.ClassNames), d.Classes)
	case len(d.Mean) != len(d.Std) || (len(d.Mean) != 0 && len(d.Mean) != d.C):
		return fmt.Errorf("data: %s: %d means and %d stds for %d channels", d.Name, len(d.Mean), len(d.Std), d.C)
	}
	for c, s := range d.Std {
		if !(s > 0) {
			return fmt.Errorf("data: %s: std %v of channel %d is not positive", d.Name, s, c)
		}
	}
	for i, y := range d.Labels {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("data: %s: label %d of image %d is outside 0..%d", d.Name, y, i, d.Classes-1)
		}
	}
	return nil
}

// Histogram counts the images of each class.
func (d *Dataset) Histogram() []int {
	h := make([]int, d.Classes)
	for _, y := range d.Labels {
		h[y]++
	}
	return h
}

// loadFunc loads the train and test splits; dir "" means the default location.
type loadFunc func(dir string) (train, test *Dataset, err error)

// registry maps dataset names (as on the command line) to their loaders.
var registry = map[string]loadFunc{
	"mnist":               loadMNIST,
	"fashion-mnist":       loadFashionMNIST,
	"mnist-rgb32":         rgb32View(loadMNIST),
	"fashion-mnist-rgb32": rgb32View(loadFashionMNIST),
	"cifar10":             loadCIFAR10,
	"imagefolder":         loadImageFolder,
}

// Names lists the dataset names Load knows, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Load returns the train and test splits of the named dataset (see the
// package documentation for each name). dir overrides where its files are
// read from; "" means the default: embedded MNIST, the Debian package's
// directory for Fashion-MNIST. "cifar10" and "imagefolder" have no default
// and need dir.
func Load(name, dir string) (train, test *Dataset, err error) {
	f, ok := registry[name]
	if !ok {
		return nil, nil, fmt.Errorf("data: unknown dataset %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if train, test, err = f(dir); err != nil {
		return nil, nil, err
	}
	// Each loader checks this with its files named; this catches any that
	// does not, before a model fails on the odd split deep in a layer.
	if train.H != test.H || train.W != test.W || train.C != test.C {
		return nil, nil, fmt.Errorf("data: %s: the test images are %d×%d×%d but the training images are %d×%d×%d (height×width×channels); both splits must have one size",
			name, test.H, test.W, test.C, train.H, train.W, train.C)
	}
	return train, test, nil
}
