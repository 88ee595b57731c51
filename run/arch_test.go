package run

import (
	"strings"
	"testing"

	"ebyd/models"
)

// Every architecture's configuration can be read back from its weights, and
// its state_dict names identify it when it is imported as another one.
func TestInferModelEveryArch(t *testing.T) {
	for _, arch := range models.Names() {
		want := ModelInfo{Arch: arch, InChannels: 3, Classes: 7, InputSize: 32, Width: 8}
		m, err := want.Build()
		if err != nil {
			t.Fatal(err)
		}
		sd := StateDict(m)
		got, err := inferModel(arch, sd)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if got.InChannels != 3 || got.Classes != 7 || got.Width != 8 {
			t.Errorf("%s: inferred %+v from its weights, want in 3, classes 7, width 8", arch, got)
		}
		if g := guessArch(sd); g != arch {
			t.Errorf("guessArch of a %s = %q", arch, g)
		}
		for _, other := range models.Names() {
			if other == arch {
				continue
			}
			mi, err := inferModel(other, sd)
			if err != nil {
				if !strings.Contains(err.Error(), "look like a "+arch) {
					t.Errorf("%s weights as %s: %v, want a hint naming %s", arch, other, err, arch)
				}
				continue
			}
			// The key tensors exist in both (resnet18 and preactresnet18):
			// loading must fail and the hint name the right one.
			mi.InputSize = 32
			om, err := mi.Build()
			if err != nil {
				t.Fatal(err)
			}
			if err := LoadStateDict(om, sd); err == nil {
				t.Errorf("%s weights load as a %s", arch, other)
			}
			if hint := guessSuffix(other, sd); !strings.Contains(hint, "--arch "+arch) {
				t.Errorf("%s weights as %s: hint %q does not name %s", arch, other, hint, arch)
			}
		}
	}
}

func TestArchKeysCoverTheZoo(t *testing.T) {
	for _, arch := range models.Names() {
		if _, ok := archKeys[arch]; !ok {
			t.Errorf("import cannot infer the configuration of %s: add it to archKeys", arch)
		}
	}
}

// TestInferPreActFinalBN: BackdoorBench's PreActResNet-18 has no final "bn";
// import must recognise both definitions and rebuild the one it was given.
func TestInferPreActFinalBN(t *testing.T) {
	for _, noBN := range []bool{false, true} {
		m, err := models.New("preactresnet18", models.Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 4, NoFinalBN: noBN})
		if err != nil {
			t.Fatal(err)
		}
		sd := StateDict(m)
		mi, err := inferModel("preactresnet18", sd)
		if err != nil {
			t.Fatal(err)
		}
		if mi.NoFinalBN != noBN {
			t.Fatalf("NoFinalBN=%v inferred as %v", noBN, mi.NoFinalBN)
		}
		if g := guessArch(sd); g != "preactresnet18" {
			t.Fatalf("NoFinalBN=%v guessed as %q", noBN, g)
		}
		mi.InputSize = 32
		rebuilt, err := mi.Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := LoadStateDict(rebuilt, sd); err != nil {
			t.Fatalf("NoFinalBN=%v: rebuilt model does not take its own weights: %v", noBN, err)
		}
	}
}

func TestRenamesBetween(t *testing.T) {
	for _, c := range []struct {
		extra, missing []string
		want           string
	}{
		{[]string{"classifier.weight", "classifier.bias"}, []string{"fc.bias", "fc.weight"}, `--rename "classifier.=fc."`},
		{[]string{"head.0.weight", "head.0.bias", "stem.weight"}, []string{"fc2.weight", "fc2.bias", "conv1.weight"}, `--rename "head.0.=fc2." --rename "stem.=conv1."`},
		{[]string{"classifier.weight"}, []string{"fc.bias"}, ""},
		{[]string{"weight", "bias"}, []string{"fc.weight", "fc.bias"}, ""},
		{[]string{"a.weight"}, []string{"fc.weight", "fc.bias"}, ""},
		{[]string{"x.weight", "x.bias", "y.weight", "y.bias"}, []string{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}, ""}, // ambiguous
	} {
		if got := strings.Join(renamesBetween(c.extra, c.missing), " "); got != c.want {
			t.Errorf("renamesBetween(%q, %q) = %q, want %q", c.extra, c.missing, got, c.want)
		}
	}
}
