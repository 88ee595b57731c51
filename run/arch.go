package run

import (
	"fmt"
	"slices"
	"sort"
	"strings"
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
	"vgg16-tv":       {"features.0.weight", "classifier.6.weight"},
	"vgg16bn-tv":     {"features.0.weight", "classifier.6.weight"},
	"mobilenetv2":    {"conv1.weight", "linear.weight"},
	"mobilenetv2-tv": {"features.0.0.weight", "classifier.1.weight"},
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
			hint = renameHint(arch, sd)
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

// renameHint compares sd's names with those of arch ("" for the closest
// architecture) and says which are missing and which are extra, with the
// --rename mappings that would turn the one into the other when there are
// such prefix rewrites.
func renameHint(arch string, sd *checkpoint.StateDict) string {
	guessArch(sd) // fills archNames
	have := sd.Names()
	best, bestMissing, bestExtra, bestLen := "", []string(nil), []string(nil), 0
	for _, name := range models.Names() {
		if arch != "" && name != arch {
			continue
		}
		for _, names := range archNames[name] {
			missing, extra := setDiff(names, have), setDiff(have, names)
			if best == "" || len(missing)+len(extra) < len(bestMissing)+len(bestExtra) {
				best, bestMissing, bestExtra, bestLen = name, missing, extra, len(names)
			}
		}
	}
	if best == "" || len(bestMissing) == 0 || 2*len(bestMissing) > bestLen {
		return fileNames(sd) + " (--rename OLD=NEW rewrites name prefixes)"
	}
	msg := fmt.Sprintf("; beside a %s's names the file lacks %s and has %s", best, fewNames(bestMissing), fewNames(bestExtra))
	if maps := renamesBetween(bestExtra, bestMissing); len(maps) > 0 {
		return msg + " (try " + strings.Join(maps, " ") + ")"
	}
	return msg + " (--rename OLD=NEW rewrites name prefixes)"
}

// setDiff is the names of a that are not in b, in a's order.
func setDiff(a, b []string) []string {
	in := map[string]bool{}
	for _, n := range b {
		in[n] = true
	}
	var out []string
	for _, n := range a {
		if !in[n] {
			out = append(out, n)
		}
	}
	return out
}

func fewNames(names []string) string {
	if len(names) == 0 {
		return "no others"
	}
	more := ""
	if len(names) > 4 {
		names, more = names[:4], fmt.Sprintf(" and %d more", len(names)-4)
	}
	return quote.Names(names) + more
}

// renamesBetween finds prefix rewrites that turn the names extra into the
// names missing exactly: each name's last component stays, the part before
// it is the prefix. It returns them as --rename flags, or nil.
func renamesBetween(extra, missing []string) []string {
	if len(extra) != len(missing) || len(extra) == 0 {
		return nil
	}
	split := func(n string) (string, string) {
		i := strings.LastIndexByte(n, '.')
		return n[:i+1], n[i+1:]
	}
	// Prefixes of the missing names, by the set of last components they have.
	byLeaves := func(names []string) (map[string][]string, []string) {
		leaves, order := map[string][]string{}, []string(nil)
		for _, n := range names {
			p, l := split(n)
			if _, ok := leaves[p]; !ok {
				order = append(order, p)
			}
			leaves[p] = append(leaves[p], l)
		}
		return leaves, order
	}
	el, eorder := byLeaves(extra)
	ml, morder := byLeaves(missing)
	if len(eorder) != len(morder) || len(eorder) > 4 {
		return nil
	}
	// Pair the groups by their sets of last components, which must be
	// unique on both sides for the pairing to be certain.
	key := func(leaves []string) string {
		l := slices.Clone(leaves)
		sort.Strings(l)
		return strings.Join(l, "\x00")
	}
	target := map[string]string{}
	for _, q := range morder {
		k := key(ml[q])
		if _, dup := target[k]; dup {
			return nil
		}
		target[k] = q
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range eorder {
		k := key(el[p])
		q, ok := target[k]
		if !ok || seen[k] || p == "" {
			return nil
		}
		seen[k] = true
		out = append(out, "--rename "+quote.Name(p+"="+q))
	}
	return out
}
