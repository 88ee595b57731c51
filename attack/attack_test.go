package attack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"ebyd/data"
)

// ramp is a fixed test image whose every byte differs from its neighbours.
func ramp(s Shape) []uint8 {
	img := make([]uint8, s.Size())
	for i := range img {
		img[i] = uint8(i*37 + 11)
	}
	return img
}

func mustNew(t *testing.T, name string, s Shape, params string) Trigger {
	t.Helper()
	tr, err := New(name, s, json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestBadNetsPixels(t *testing.T) {
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		img := ramp(s)
		want := slices.Clone(img)
		grid := [][]uint8{{0, 0, 255}, {0, 255, 0}, {255, 0, 255}}
		for i := range 3 {
			for j := range 3 {
				for c := range s.C {
					want[((s.H-3+i)*s.W+s.W-3+j)*s.C+c] = grid[i][j]
				}
			}
		}
		mustNew(t, "badnets", s, "").Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: badnets bytes differ from the hand-built patch", s)
		}
	}
	// The 32×32 patch sits on rows and columns 29–31 exactly.
	s := Shape{32, 32, 1}
	img := make([]uint8, s.Size())
	mustNew(t, "badnets", s, "").Apply(img)
	if img[29*32+31] != 255 || img[30*32+30] != 255 || img[31*32+29] != 255 || img[31*32+31] != 255 || img[29*32+29] != 0 {
		t.Error("badnets patch not at rows/cols 29–31")
	}
}

func TestNewErrors(t *testing.T) {
	s := Shape{28, 28, 1}
	for _, tc := range []struct{ name, params, want string }{
		{"nosuch", "", `unknown attack "nosuch"`},
		{"badnets", `{"margn": 1}`, `unknown field "margn"`},
		{"badnets", `{"margin": 30}`, "does not fit"},
	} {
		_, err := New(tc.name, s, json.RawMessage(tc.params))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %s): error %v, want %q", tc.name, tc.params, err, tc.want)
		}
	}
}

func TestParamsRoundTrip(t *testing.T) {
	s := Shape{32, 32, 3}
	for _, name := range Names() {
		tr, err := New(name, s, nil)
		if err != nil {
			continue // attacks that need user images or a fitted model
		}
		again, err := New(name, s, Params(tr))
		if err != nil {
			t.Fatalf("%s: rebuilding from its parameters: %v", name, err)
		}
		a, b := ramp(s), ramp(s)
		tr.Apply(a)
		again.Apply(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: the trigger rebuilt from %s differs", name, Params(tr))
		}
	}
}

// tiny is a 20-image, 4-class dataset of 6×6 gray images.
func tiny() *data.Dataset {
	ds := &data.Dataset{Name: "tiny", N: 20, H: 6, W: 6, C: 1, Classes: 4}
	ds.Images = make([]uint8, ds.N*36)
	for i := range ds.Images {
		ds.Images[i] = uint8(i % 200)
	}
	for i := range ds.N {
		ds.Labels = append(ds.Labels, i%4)
	}
	return ds
}

func TestPoison(t *testing.T) {
	ds := tiny()
	orig := ds.Clone()
	tr := mustNew(t, "badnets", Shape{6, 6, 1}, "")
	for _, mode := range Modes {
		p := Poisoning{Mode: mode, Target: 2, Rate: 0.2, Seed: 7}
		got, err := Poison(ds, tr, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Indices) != 4 {
			t.Fatalf("%s: %d poisoned, want 4", mode, len(got.Indices))
		}
		again, _ := Poison(ds, tr, p)
		if !slices.Equal(got.Indices, again.Indices) {
			t.Errorf("%s: the poisoned set changes with the same seed", mode)
		}
		in := map[int]bool{}
		for _, i := range got.Indices {
			in[i] = true
			if mode == CleanLabel && orig.Labels[i] != 2 {
				t.Errorf("clean-label poisoned image %d of class %d", i, orig.Labels[i])
			}
		}
		for i := range ds.N {
			stamped := slices.Clone(orig.Image(i))
			tr.Apply(stamped)
			wantImg, wantY := orig.Image(i), orig.Labels[i]
			if in[i] {
				wantImg, wantY = stamped, p.Label(orig.Labels[i], 4)
			}
			if !slices.Equal(got.Data.Image(i), wantImg) || got.Data.Labels[i] != wantY {
				t.Errorf("%s: image %d (poisoned %v) wrong", mode, i, in[i])
			}
		}
	}
	if !slices.Equal(ds.Images, orig.Images) || !slices.Equal(ds.Labels, orig.Labels) {
		t.Error("Poison changed its input")
	}
}

func TestPoisonErrors(t *testing.T) {
	ds := tiny()
	tr := mustNew(t, "badnets", Shape{6, 6, 1}, "")
	for _, tc := range []struct {
		p    Poisoning
		want string
	}{
		{Poisoning{Mode: All2One, Rate: 0}, "must be in (0, 1]"},
		{Poisoning{Mode: All2One, Rate: 1.5}, "must be in (0, 1]"},
		{Poisoning{Mode: All2One, Rate: 0.1, Target: 4}, "labels are 0..3"},
		{Poisoning{Mode: All2One, Rate: 0.1, Target: -1}, "labels are 0..3"},
		{Poisoning{Mode: "one2one", Rate: 0.1}, "unknown poisoning mode"},
		{Poisoning{Mode: CleanLabel, Rate: 0.5, Target: 1}, "at most 0.2500"},
		{Poisoning{Mode: All2One, Rate: 0.01}, "poisons none"},
	} {
		if _, err := Poison(ds, tr, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestTestSet(t *testing.T) {
	ds := tiny()
	tr := mustNew(t, "badnets", Shape{6, 6, 1}, "")
	bd, err := TestSet(ds, tr, Poisoning{Mode: All2One, Target: 1, Rate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if bd.N != 15 {
		t.Fatalf("all2one test set has %d images, want the 15 not of class 1", bd.N)
	}
	for i := range bd.N {
		if bd.Labels[i] != 1 {
			t.Fatalf("label %d, want the target", bd.Labels[i])
		}
	}
	all, _ := TestSet(ds, tr, Poisoning{Mode: All2All, Rate: 0.1})
	if all.N != 20 || all.Labels[3] != 0 || all.Labels[0] != 1 {
		t.Errorf("all2all test set: %d images, labels %v", all.N, all.Labels[:4])
	}
	img := slices.Clone(ds.Image(0))
	tr.Apply(img)
	if !slices.Equal(bd.Image(0), img) {
		t.Error("test image 0 is not the triggered image 0")
	}
}
