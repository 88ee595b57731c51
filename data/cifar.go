package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"ebyd/internal/userfile"
)

// CIFAR10Classes are the CIFAR-10 class names, by label.
var CIFAR10Classes = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// CIFAR-10 normalisation as in the EBYD reference code (the std values are
// the widespread per-image ones of kuangliu's pytorch-cifar, not the
// per-pixel 0.2470, 0.2435, 0.2616).
var (
	cifar10Mean = []float32{0.4914, 0.4822, 0.4465}
	cifar10Std  = []float32{0.2023, 0.1994, 0.2010}
)

const (
	cifarSide       = 32
	cifarPlane      = cifarSide * cifarSide // bytes of one colour plane
	cifarImageBytes = 3 * cifarPlane
	// CIFAR10RecordSize is the size of one record of the CIFAR-10 binary
	// version: a label byte, then the red, green and blue 32×32 planes.
	CIFAR10RecordSize = 1 + cifarImageBytes
)

// The binary version's files, per split, and the folder its archive
// (cifar-10-binary.tar.gz) extracts to.
var (
	cifar10TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	cifar10TestFiles  = []string{"test_batch.bin"}
)

const (
	cifar10Subdir = "cifar-10-batches-bin"
	cifar10Expect = "--data-dir must hold data_batch_1.bin … data_batch_5.bin and test_batch.bin " +
		"(the CIFAR-10 binary version, cifar-10-binary.tar.gz, extracted; its cifar-10-batches-bin folder or the folder above it will do)"
)

// DecodeCIFAR10 decodes the records of one CIFAR-10 binary batch file: each
// is a label byte in 0..9 followed by 3072 pixel bytes, the 1024 red, then
// the 1024 green, then the 1024 blue values of a 32×32 image, each plane
// row-major. The pixels come back as N×32×32×3 HWC bytes. name only labels
// errors. A size that is not a whole, non-zero number of 3073-byte records
// or a label above 9 is an error; no input makes it panic.
func DecodeCIFAR10(name string, b []byte) (pixels []uint8, labels []int, err error) {
	n, err := cifarRecords(name, int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	pixels, labels = make([]uint8, n*cifarImageBytes), make([]int, n)
	if err := decodeCIFAR10Into(pixels, labels, name, b); err != nil {
		return nil, nil, err
	}
	return pixels, labels, nil
}

// cifarRecords is the number of records a file of size bytes holds.
func cifarRecords(name string, size int64) (int, error) {
	switch {
	case size == 0:
		return 0, fmt.Errorf("data: cifar10: %q is empty; want 3073-byte records (1 label byte + 3072 pixel bytes)", name)
	case size%CIFAR10RecordSize != 0:
		return 0, fmt.Errorf("data: cifar10: %q holds %d bytes, not a whole number of 3073-byte records "+
			"(1 label byte + 3072 pixel bytes): %d records and %d bytes over; truncated or not a CIFAR-10 binary batch",
			name, size, size/CIFAR10RecordSize, size%CIFAR10RecordSize)
	}
	return int(size / CIFAR10RecordSize), nil
}

// decodeCIFAR10Into decodes the len(labels) records of b, whose size has
// been checked, into pixels (HWC) and labels.
func decodeCIFAR10Into(pixels []uint8, labels []int, name string, b []byte) error {
	for i := range labels {
		rec := b[i*CIFAR10RecordSize : (i+1)*CIFAR10RecordSize]
		if rec[0] > 9 {
			return fmt.Errorf("data: cifar10: %q: label %d of record %d is outside 0..9; not a CIFAR-10 binary batch", name, rec[0], i)
		}
		labels[i] = int(rec[0])
		r := rec[1 : 1+cifarPlane]
		g := rec[1+cifarPlane : 1+2*cifarPlane]
		bl := rec[1+2*cifarPlane : 1+3*cifarPlane]
		dst := pixels[i*cifarImageBytes : (i+1)*cifarImageBytes]
		for p := range cifarPlane { // CHW → HWC
			d := dst[3*p : 3*p+3 : 3*p+3]
			d[0], d[1], d[2] = r[p], g[p], bl[p]
		}
	}
	return nil
}

// errCIFAR10NotShipped says that CIFAR-10 must come from the user.
var errCIFAR10NotShipped = errors.New("data: cifar10: CIFAR-10 is not shipped with ebyd and is never downloaded; " +
	"--data-dir is required and must hold data_batch_1.bin … data_batch_5.bin and test_batch.bin (the CIFAR-10 binary version, cifar-10-binary.tar.gz, extracted)")

func loadCIFAR10(dir string) (train, test *Dataset, err error) {
	root, err := cifar10Root(dir)
	if err != nil {
		return nil, nil, err
	}
	// Stat every file first: a missing one is reported before 180 MB are read.
	paths := make([][]string, 2)
	sizes := make([][]int64, 2)
	for s, files := range [][]string{cifar10TrainFiles, cifar10TestFiles} {
		for _, f := range files {
			p := filepath.Join(root, f)
			fi, err := os.Stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, nil, fmt.Errorf("data: cifar10: %q not found; %s", p, cifar10Expect)
			case err != nil:
				return nil, nil, fmt.Errorf("data: cifar10: %w", err)
			case !fi.Mode().IsRegular():
				return nil, nil, fmt.Errorf("data: cifar10: %q is not a regular file; %s", p, cifar10Expect)
			}
			paths[s] = append(paths[s], p)
			sizes[s] = append(sizes[s], fi.Size())
		}
	}
	var out [2]*Dataset
	for s := range out {
		if out[s], err = readCIFAR10Split(paths[s], sizes[s]); err != nil {
			return nil, nil, err
		}
	}
	return out[0], out[1], nil
}

// cifar10Root finds the folder that holds the batch files: dir itself, or
// the cifar-10-batches-bin folder the archive extracts to.
func cifar10Root(dir string) (string, error) {
	if dir == "" {
		return "", errCIFAR10NotShipped
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("data: cifar10: directory %q not found; %s", dir, cifar10Expect)
	case err != nil:
		return "", fmt.Errorf("data: cifar10: %w", err)
	case !fi.IsDir():
		return "", fmt.Errorf("data: cifar10: %q is not a directory (an archive must be extracted first, e.g. tar xzf cifar-10-binary.tar.gz); %s", dir, cifar10Expect)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	switch {
	case exists(filepath.Join(dir, cifar10TrainFiles[0])):
		return dir, nil
	case exists(filepath.Join(dir, cifar10Subdir, cifar10TrainFiles[0])):
		return filepath.Join(dir, cifar10Subdir), nil
	case exists(filepath.Join(dir, "data_batch_1")) || exists(filepath.Join(dir, "cifar-10-batches-py")):
		return "", fmt.Errorf("data: cifar10: %q holds the Python (pickle) version of CIFAR-10, which ebyd does not read; "+
			"use the binary version (cifar-10-binary.tar.gz): %s", dir, cifar10Expect)
	}
	return dir, nil // the missing-file error names dir/data_batch_1.bin
}

// readCIFAR10Split decodes the batch files of one split into one dataset,
// reading one file at a time straight into the final buffers.
func readCIFAR10Split(paths []string, sizes []int64) (*Dataset, error) {
	counts := make([]int, len(paths))
	n := 0
	for i, p := range paths {
		k, err := cifarRecords(p, sizes[i])
		if err != nil {
			return nil, err
		}
		counts[i] = k
		n += k
	}
	d := &Dataset{
		Name: "cifar10", N: n, H: cifarSide, W: cifarSide, C: 3, Classes: 10,
		Images: make([]uint8, n*cifarImageBytes), Labels: make([]int, n),
		ClassNames: slices.Clone(CIFAR10Classes),
		Mean:       slices.Clone(cifar10Mean), Std: slices.Clone(cifar10Std),
	}
	var buf []byte
	at := 0
	for i, p := range paths {
		var err error
		if buf, err = readExactly(p, sizes[i], buf); err != nil {
			return nil, err
		}
		k := counts[i]
		if err := decodeCIFAR10Into(d.Images[at*cifarImageBytes:(at+k)*cifarImageBytes], d.Labels[at:at+k], p, buf); err != nil {
			return nil, err
		}
		at += k
	}
	return d, nil
}

// readExactly reads the file at p, which must still be size bytes long,
// into buf (grown when too small).
func readExactly(p string, size int64, buf []byte) ([]byte, error) {
	f, err := userfile.Open(p)
	if err != nil {
		return buf, fmt.Errorf("data: cifar10: %w", err)
	}
	defer f.Close()
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return buf, fmt.Errorf("data: cifar10: reading %q: %w (did the file change while it was read?)", p, err)
	}
	var one [1]byte
	if k, _ := f.Read(one[:]); k > 0 {
		return buf, fmt.Errorf("data: cifar10: %q grew while it was read", p)
	}
	return buf, nil
}
