package run

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFolder writes an image folder of w×h gray PNGs, two per class.
func writeFolder(t *testing.T, dir string, w, h int, classes ...string) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train", "test"} {
		for _, c := range classes {
			for _, name := range []string{"a.png", "b.png"} {
				p := filepath.Join(dir, split, c, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestRecordedDataShape: a run's data that changed since (a --data-dir
// refilled with images of another size, or another class set) is refused
// when a later stage loads it, with both shapes named.
func TestRecordedDataShape(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, dir, 8, 8, "cat", "dog")
	info := DatasetInfo{Name: "imagefolder", Dir: dir, Channels: 3, Height: 8, Width: 8, Classes: 2}
	if _, _, err := info.Load(); err != nil {
		t.Fatalf("the recorded data: %v", err)
	}
	os.RemoveAll(dir)
	writeFolder(t, dir, 6, 5, "cat", "dog")
	_, _, err := info.Load()
	want := "the imagefolder data in " + dir + " now has 5×6×3 images but the run was made for 8×8×3 (height×width×channels, as run.json records)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("resized images: error %v\nwant it to contain %q", err, want)
	}
	os.RemoveAll(dir)
	writeFolder(t, dir, 8, 8, "cat", "dog", "eel")
	_, _, err = info.Load()
	want = "the imagefolder data in " + dir + " now has 3 classes but the run was made for 2"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("another class set: error %v\nwant it to contain %q", err, want)
	}
}
