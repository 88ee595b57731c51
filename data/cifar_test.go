package data

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarPixel is the byte the synthetic batch files hold for channel c of
// pixel (y, x) of record rec of file: different coefficients for every
// coordinate, so that a transposed or mixed-up plane shows.
func cifarPixel(file, rec, c, y, x int) uint8 {
	return uint8(1 + 71*c + 13*y + 3*x + 29*rec + 101*file)
}

// cifarFile builds a binary batch file of records with the given labels,
// in the CIFAR-10 layout: label, then the R, G and B planes, row-major.
func cifarFile(file int, labels ...uint8) []byte {
	var b []byte
	for rec, y := range labels {
		b = append(b, y)
		for c := range 3 {
			for row := range 32 {
				for col := range 32 {
					b = append(b, cifarPixel(file, rec, c, row, col))
				}
			}
		}
	}
	return b
}

// writeCIFAR10 writes the six batch files, two records in each training
// file and three in the test file, to dir; it returns the labels by split.
func writeCIFAR10(t *testing.T, dir string) (trainLabels, testLabels []int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, name := range append(slices.Clone(cifar10TrainFiles), cifar10TestFiles...) {
		labels := []uint8{uint8(2 * f % 10), uint8((2*f + 1) % 10)}
		if f == 5 {
			labels = []uint8{9, 0, 3}
		}
		if err := os.WriteFile(filepath.Join(dir, name), cifarFile(f, labels...), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, y := range labels {
			if f < 5 {
				trainLabels = append(trainLabels, int(y))
			} else {
				testLabels = append(testLabels, int(y))
			}
		}
	}
	return trainLabels, testLabels
}

func TestCIFAR10Load(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct{ name, files, arg string }{
		{"flat", root + "/flat", root + "/flat"},
		{"archive folder", root + "/up/cifar-10-batches-bin", root + "/up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trainLabels, testLabels := writeCIFAR10(t, tc.files)
			train, test, err := Load("cifar10", tc.arg)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []struct {
				d      *Dataset
				labels []int
				files  []int // file number of each record
				recs   []int // record number within its file
			}{
				{train, trainLabels, []int{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, []int{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}},
				{test, testLabels, []int{5, 5, 5}, []int{0, 1, 2}},
			} {
				d := s.d
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
				if d.Name != "cifar10" || d.N != len(s.labels) || d.H != 32 || d.W != 32 || d.C != 3 || d.Classes != 10 {
					t.Fatalf("got %s N=%d %d×%d×%d classes %d", d.Name, d.N, d.H, d.W, d.C, d.Classes)
				}
				if !slices.Equal(d.Labels, s.labels) {
					t.Errorf("labels %v, want %v", d.Labels, s.labels)
				}
				if !slices.Equal(d.ClassNames, CIFAR10Classes) || d.ClassNames[0] != "airplane" || d.ClassNames[9] != "truck" {
					t.Errorf("class names %v", d.ClassNames)
				}
				if !slices.Equal(d.Mean, []float32{0.4914, 0.4822, 0.4465}) || !slices.Equal(d.Std, []float32{0.2023, 0.1994, 0.2010}) {
					t.Errorf("normalisation %v / %v", d.Mean, d.Std)
				}
				// Every byte, pixel by pixel: HWC position (y, x, c) holds plane c's (y, x).
				for i := range d.N {
					img := d.Image(i)
					for y := range 32 {
						for x := range 32 {
							for c := range 3 {
								if got, want := img[(y*32+x)*3+c], cifarPixel(s.files[i], s.recs[i], c, y, x); got != want {
									t.Fatalf("image %d (y=%d, x=%d, c=%d) = %d, want %d", i, y, x, c, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestDecodeCIFAR10(t *testing.T) {
	// One record, by hand: R plane all 10, G plane all 20, B plane 30 except
	// the last pixel, 31.
	b := []byte{7}
	b = append(b, bytes.Repeat([]byte{10}, 1024)...)
	b = append(b, bytes.Repeat([]byte{20}, 1024)...)
	b = append(b, bytes.Repeat([]byte{30}, 1023)...)
	b = append(b, 31)
	pixels, labels, err := DecodeCIFAR10("one", b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, []int{7}) || len(pixels) != 3072 {
		t.Fatalf("labels %v, %d pixel bytes", labels, len(pixels))
	}
	if !slices.Equal(pixels[:6], []uint8{10, 20, 30, 10, 20, 30}) || !slices.Equal(pixels[3069:], []uint8{10, 20, 31}) {
		t.Errorf("pixels start %v, end %v", pixels[:6], pixels[3069:])
	}
}

func TestCIFAR10Errors(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	writeCIFAR10(t, good)
	setup := func(name string, edit func(dir string)) string {
		dir := filepath.Join(root, name)
		writeCIFAR10(t, dir)
		edit(dir)
		return dir
	}
	write := func(dir, file string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missingFile := setup("missing", func(dir string) { os.Remove(filepath.Join(dir, "data_batch_3.bin")) })
	noTest := setup("notest", func(dir string) { os.Remove(filepath.Join(dir, "test_batch.bin")) })
	truncated := setup("truncated", func(dir string) { write(dir, "data_batch_2.bin", cifarFile(1, 1, 2)[:2*3073-5]) })
	badLabel := setup("badlabel", func(dir string) { write(dir, "test_batch.bin", cifarFile(5, 1, 10, 2)) })
	empty := setup("empty", func(dir string) { write(dir, "data_batch_5.bin", nil) })
	python := filepath.Join(root, "python")
	os.MkdirAll(python, 0o755)
	write(python, "data_batch_1", []byte("\x80\x02}q\x00."))
	file := filepath.Join(root, "cifar-10-binary.tar.gz")
	write(root, "cifar-10-binary.tar.gz", []byte{0x1f, 0x8b})
	nowhere := filepath.Join(root, "nowhere")

	for _, tc := range []struct {
		name, dir string
		want      []string // substrings of the error
	}{
		{"no dir", "", []string{"not shipped", "--data-dir is required", "data_batch_1.bin", "test_batch.bin", "binary version"}},
		{"missing dir", nowhere, []string{`cifar10: directory "` + nowhere + `" not found; --data-dir must hold data_batch_1.bin … data_batch_5.bin and test_batch.bin (the CIFAR-10 binary version`}},
		{"missing file", missingFile, []string{`"` + filepath.Join(missingFile, "data_batch_3.bin") + `" not found`, "--data-dir must hold"}},
		{"missing test file", noTest, []string{`"` + filepath.Join(noTest, "test_batch.bin") + `" not found`}},
		{"truncated", truncated, []string{filepath.Join(truncated, "data_batch_2.bin"), "6141 bytes", "3073-byte records", "1 records and 3068 bytes over"}},
		{"bad label", badLabel, []string{filepath.Join(badLabel, "test_batch.bin"), "label 10 of record 1 is outside 0..9"}},
		{"empty", empty, []string{filepath.Join(empty, "data_batch_5.bin"), "is empty"}},
		{"python version", python, []string{"Python (pickle) version", "binary version"}},
		{"a file", file, []string{"is not a directory", "tar xzf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, test, err := Load("cifar10", tc.dir)
			if err == nil {
				t.Fatalf("no error (train %v, test %v)", train != nil, test != nil)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "data: cifar10: ") {
				t.Errorf("error %q lacks the data: cifar10: prefix", err)
			}
		})
	}
	if _, _, err := Load("cifar10", good); err != nil {
		t.Errorf("the untouched copy: %v", err)
	}
}

// FuzzDecodeCIFAR10 checks that no input makes the decoder panic and that
// what it accepts re-encodes to the same bytes.
func FuzzDecodeCIFAR10(f *testing.F) {
	f.Add(cifarFile(0, 3))
	f.Add(cifarFile(1, 0, 9))
	f.Add(cifarFile(0, 10))
	f.Add(cifarFile(0, 1)[:100])
	f.Add([]byte{})
	f.Add(append(cifarFile(2, 5), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		pixels, labels, err := DecodeCIFAR10("fuzz", b)
		if err != nil {
			if pixels != nil || labels != nil {
				t.Fatal("data returned with an error")
			}
			return
		}
		if len(b)%3073 != 0 || len(labels) != len(b)/3073 || len(pixels) != len(labels)*3072 {
			t.Fatalf("%d bytes gave %d labels, %d pixels", len(b), len(labels), len(pixels))
		}
		var re []byte
		for i, y := range labels {
			if y < 0 || y > 9 {
				t.Fatalf("label %d", y)
			}
			re = append(re, byte(y))
			img := pixels[i*3072 : (i+1)*3072]
			for c := range 3 {
				for p := range 1024 {
					re = append(re, img[3*p+c])
				}
			}
		}
		if !bytes.Equal(re, b) {
			t.Fatal("decoded records do not re-encode to the input")
		}
	})
}
