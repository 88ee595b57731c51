package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxFile builds an IDX file: magic, big-endian dimensions, then body.
func idxFile(magic uint32, dims []uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, body...)
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tinyImages is 3 images of 2×2 pixels; tinyLabels their labels.
var (
	tinyPixels = []byte{0, 1, 2, 3, 10, 11, 12, 13, 255, 254, 253, 252}
	tinyImages = idxFile(idxMagicImages, []uint32{3, 2, 2}, tinyPixels)
	tinyLabels = idxFile(idxMagicLabels, []uint32{3}, []byte{7, 0, 9})
)

func TestDecodeIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		img, lab := tinyImages, tinyLabels
		if gz {
			img, lab = gzipped(t, img), gzipped(t, lab)
		}
		pixels, n, rows, cols, err := DecodeIDXImages("img", img)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if n != 3 || rows != 2 || cols != 2 || !bytes.Equal(pixels, tinyPixels) {
			t.Errorf("gz=%v: got %d×%d×%d %v", gz, n, rows, cols, pixels)
		}
		labels, err := DecodeIDXLabels("lab", lab)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if !slices.Equal(labels, []int{7, 0, 9}) {
			t.Errorf("gz=%v: labels %v", gz, labels)
		}
	}
	// Decoded pixels must not alias the input (datasets get poisoned in place).
	pixels, _, _, _, _ := DecodeIDXImages("img", tinyImages)
	pixels[0] = 99
	if tinyImages[16] != 0 {
		t.Error("decoded pixels alias the raw file")
	}
	// An empty but well-formed file is fine.
	if _, n, _, _, err := DecodeIDXImages("empty", idxFile(idxMagicImages, []uint32{0, 28, 28}, nil)); err != nil || n != 0 {
		t.Errorf("empty images file: n=%d err=%v", n, err)
	}
}

func TestDecodeIDXErrors(t *testing.T) {
	corrupt := gzipped(t, tinyImages)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC-32 in the gzip trailer
	for _, tc := range []struct {
		name   string
		labels bool
		b      []byte
		want   string
	}{
		{"empty", false, nil, "img: truncated: 0 bytes, too short for an IDX header"},
		{"short header", false, tinyImages[:6], "truncated: header ends before its 3 dimensions"},
		{"labels as images", false, tinyLabels, "not an IDX images file: magic 0x00000801, want 0x00000803 (a labels file)"},
		{"images as labels", true, tinyImages, "not an IDX labels file: magic 0x00000803, want 0x00000801 (an images file)"},
		{"garbage", false, []byte("hello world"), "not an IDX images file: magic 0x68656c6c"},
		{"truncated", false, tinyImages[:len(tinyImages)-7], "img: truncated: header says 3×2×2 images (12 bytes), file holds 5 after the header"},
		{"truncated gzip payload", false, gzipped(t, tinyImages[:len(tinyImages)-1]), "truncated: header says 3×2×2 images (12 bytes), file holds 11 after the header"},
		{"truncated gzip stream", false, gzipped(t, tinyImages)[:20], "img: gzip: unexpected EOF"},
		{"trailing bytes", false, append(slices.Clone(tinyImages), 1), "header says 3×2×2 images (12 bytes), but the file holds more"},
		{"truncated labels", true, tinyLabels[:9], "lab: truncated: header says 3 labels (3 bytes), file holds 1 after the header"},
		{"checksum", false, corrupt, "img: gzip: invalid checksum"},
		{"bad gzip header", false, []byte{0x1f, 0x8b, 1, 2, 3}, "img: gzip: "},
		{"huge", false, idxFile(idxMagicImages, []uint32{60000, 1 << 16, 1 << 16}, nil), "header says 60000×65536×65536 images, more than the 2147483648 bytes"},
		{"huge behind zero", false, idxFile(idxMagicImages, []uint32{0, 1 << 31, 1 << 31}, nil), "more than the 2147483648 bytes"},
		{"no columns", false, idxFile(idxMagicImages, []uint32{5, 28, 0}, nil), "header says 5×28×0 images: images must have rows and columns"},
	} {
		var err error
		if tc.labels {
			_, err = DecodeIDXLabels("lab", tc.b)
		} else {
			_, _, _, _, err = DecodeIDXImages("img", tc.b)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "data: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// writeIDXDir writes an MNIST-style directory; the train split gzipped, the
// test split raw, to exercise both.
func writeIDXDir(t *testing.T, trainImages, trainLabels, testImages, testLabels []byte) string {
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"train-images-idx3-ubyte.gz": gzipped(t, trainImages),
		"train-labels-idx1-ubyte.gz": gzipped(t, trainLabels),
		"t10k-images-idx3-ubyte":     testImages,
		"t10k-labels-idx1-ubyte":     testLabels,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadIDXDir(t *testing.T) {
	dir := writeIDXDir(t, tinyImages, tinyLabels, tinyImages, tinyLabels)
	for _, name := range []string{"mnist", "fashion-mnist"} {
		train, test, err := Load(name, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []*Dataset{train, test} {
			if err := d.Validate(); err != nil {
				t.Error(err)
			}
			if d.Name != name || d.N != 3 || d.H != 2 || d.W != 2 || d.C != 1 || d.Classes != 10 ||
				!bytes.Equal(d.Images, tinyPixels) || !slices.Equal(d.Labels, []int{7, 0, 9}) {
				t.Errorf("%s: got %+v", name, d)
			}
		}
	}
}

func TestLoadIDXDirErrors(t *testing.T) {
	twoLabels := idxFile(idxMagicLabels, []uint32{2}, []byte{1, 2})
	badLabel := idxFile(idxMagicLabels, []uint32{3}, []byte{1, 12, 2})
	for _, tc := range []struct {
		name string
		dir  string
		want string
	}{
		{"count mismatch", writeIDXDir(t, tinyImages, tinyLabels, tinyImages, twoLabels),
			"data: mnist: t10k-labels-idx1-ubyte holds 2 labels but t10k-images-idx3-ubyte holds 3 images"},
		{"label range", writeIDXDir(t, tinyImages, badLabel, tinyImages, tinyLabels),
			"data: mnist: train-labels-idx1-ubyte.gz: label 12 of image 1 is outside 0..9"},
		{"corrupt file", writeIDXDir(t, tinyLabels, tinyLabels, tinyImages, tinyLabels),
			"data: train-images-idx3-ubyte.gz: not an IDX images file"},
		{"missing", t.TempDir(), "data: mnist: train-images-idx3-ubyte(.gz) not found in "},
	} {
		_, _, err := Load("mnist", tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	_, _, err := loadIDXDataset("fashion-mnist", dirReader(t.TempDir(), "fashion-mnist", hintApt), nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `apt-get install dataset-fashion-mnist" or pass the directory`) {
		t.Errorf("missing Fashion-MNIST: error %v, want the apt-get hint", err)
	}
	_, _, err = Load("cifar-100", "")
	if err == nil || err.Error() != `data: unknown dataset "cifar-100" (known: cifar10, fashion-mnist, fashion-mnist-rgb32, imagefolder, mnist, mnist-rgb32)` {
		t.Errorf("unknown dataset: error %v", err)
	}
}

// FuzzDecodeIDX checks that no input makes the decoders panic, and that what
// they accept is self-consistent.
func FuzzDecodeIDX(f *testing.F) {
	f.Add(tinyImages)
	f.Add(tinyLabels)
	f.Add(gzipped(f, tinyImages))
	f.Add(gzipped(f, tinyLabels))
	f.Add(tinyImages[:len(tinyImages)-3])
	f.Add(idxFile(idxMagicImages, []uint32{1 << 20, 28, 28}, nil))
	f.Add(gzipped(f, idxFile(idxMagicImages, []uint32{1, 1 << 20, 1 << 10}, make([]byte, 1000))))
	f.Fuzz(func(t *testing.T, b []byte) {
		pixels, n, rows, cols, err := DecodeIDXImages("fuzz", b)
		if err == nil && (len(pixels) != n*rows*cols || rows <= 0 || cols <= 0) {
			t.Errorf("accepted %d pixels as %d×%d×%d", len(pixels), n, rows, cols)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "data: fuzz: ") {
			t.Errorf("error without prefix: %v", err)
		}
		labels, err := DecodeIDXLabels("fuzz", b)
		if err == nil {
			for _, y := range labels {
				if y < 0 || y > 255 {
					t.Errorf("label %d", y)
				}
			}
		}
	})
}
