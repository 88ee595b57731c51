package run

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"ebyd/checkpoint"
	"ebyd/internal/quote"
	"ebyd/models"
	"ebyd/nn"
)

// archKeys names, per architecture, the first convolution (weight [width,
// in_channels, k, k]) and the classifier (weight [classes, features]) whose
// shapes give an imported model's configuration.
var archKeys = map[string]struct{ first, last string }{
	"mnistnet":       {"conv1.weight", "fc2.weight"},
	"resnet18":       {"conv1.weight", "linear.weight"},
	"resnet18-tv":    {"conv1.weight", "fc.weight"},
	"preactresnet18": {"conv1.weight", "linear.weight"},
	"vgg16":          {"features.0.weight", "classifier.weight"},
	"mobilenetv2":    {"conv1.weight", "linear.weight"},
}

// inferModel reads in-channels, classes and width for arch from a state
// dict's shapes. The input size is the dataset's; a state dict for another
// size then fails to load with the mis-shaped tensors named.
func inferModel(arch string, sd *checkpoint.StateDict) (ModelInfo, error) {
	keys, ok := archKeys[arch]
	if !ok {
		return ModelInfo{}, fmt.Errorf("import does not know how to read a %s's configuration from its weights", arch)
	}
	first, ok1 := sd.Get(keys.first)
	last, ok2 := sd.Get(keys.last)
	if !ok1 || !ok2 {
		missing := keys.first
		if ok1 {
			missing = keys.last
		}
		hint := archHint(arch, sd)
		if guessArch(sd) == "" {
			hint += fmt.Sprintf(" (if the file names %s otherwise, --rename OLD=NEW rewrites name prefixes)", quote.Name(missing))
		}
		return ModelInfo{}, fmt.Errorf("the weights are not a %s state_dict: they have no %s%s", arch, quote.Name(missing), hint)
	}
	if len(first.Shape) != 4 || len(last.Shape) != 2 {
		return ModelInfo{}, fmt.Errorf("the weights are not a %s state_dict: %s has shape %v and %s %v (want 4-D and 2-D)%s",
			arch, keys.first, first.Shape, keys.last, last.Shape, archHint(arch, sd))
	}
	_, finalBN := sd.Get("bn.weight")
	return ModelInfo{Arch: arch, Width: first.Shape[0], InChannels: first.Shape[1], Classes: last.Shape[0],
		NoFinalBN: arch == "preactresnet18" && !finalBN}, nil
}

// archHint names the architecture whose parameter names the state dict has,
// when it is not the one asked for, or lists a few of its names.
func archHint(asked string, sd *checkpoint.StateDict) string {
	if guess := guessArch(sd); guess != "" && guess != asked {
		return fmt.Sprintf("; they look like a %s (try --arch %s)", guess, guess)
	}
	return fileNames(sd)
}

// fileNames lists a few of the state dict's names.
func fileNames(sd *checkpoint.StateDict) string {
	names, more := sd.Names(), ""
	if len(names) > 6 {
		names, more = names[:6], ", …"
	}
	return fmt.Sprintf("; the file holds %s%s", quote.Names(names), more) // names read from the file
}

var (
	archNamesOnce sync.Once
	archNames     map[string][][]string // sorted state_dict names of each variant of an architecture
)

// guessArch returns the architecture whose state_dict names are exactly
// those of sd, or "". Names do not depend on the width, so a narrow copy of
// each network stands in for it.
func guessArch(sd *checkpoint.StateDict) string {
	archNamesOnce.Do(func() {
		archNames = map[string][][]string{}
		for _, name := range models.Names() {
			for _, noFinalBN := range []bool{false, true} {
				m, err := models.New(name, models.Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 8, NoFinalBN: noFinalBN})
				if err != nil {
					continue
				}
				var names []string
				for _, e := range nn.StateDict(m) {
					names = append(names, e.Name)
				}
				sort.Strings(names)
				archNames[name] = append(archNames[name], names)
			}
		}
	})
	have := sd.Names()
	sort.Strings(have)
	for _, name := range models.Names() {
		for _, names := range archNames[name] {
			if slices.Equal(names, have) {
				return name
			}
		}
	}
	return ""
}
