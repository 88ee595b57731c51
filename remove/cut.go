package remove

import (
	"fmt"
	"math"
	"slices"

	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
)

// Cut is how a pruning method chose how many channels to prune, from the
// defense images alone: the longest prefix of the pruning order (channels
// by ascending score, only those scoring below MaxScore) whose pruned
// suspect model keeps its defense accuracy within Budget of the unpruned
// model's.
type Cut struct {
	Rule string `json:"rule"`
	// MaxScore bounds the candidates (RNP's and ANP's mask threshold);
	// nil: every channel in the order is a candidate.
	MaxScore *float64 `json:"max_score,omitempty"`
	Budget   float64  `json:"budget"`
	// Candidates is the number of channels scoring below MaxScore, Pruned
	// the length of the prefix pruned.
	Candidates int `json:"candidates"`
	Pruned     int `json:"pruned"`
	// Threshold is the score of the last pruned channel (the operating
	// threshold the rule found); 0 when nothing was pruned.
	Threshold float64 `json:"threshold"`
	// BaseAcc and Acc are the suspect model's defense accuracy unpruned and
	// with the chosen prefix pruned, before any fine-tuning.
	BaseAcc float64 `json:"base_defense_acc"`
	Acc     float64 `json:"pruned_defense_acc"`
	// Tried lists the prefixes evaluated, in the order they were.
	Tried []Point `json:"tried"`
}

// Point is the defense accuracy with the first Pruned channels pruned.
type Point struct {
	Pruned int     `json:"pruned"`
	Acc    float64 `json:"defense_acc"`
}

// cutRule chooses the cut; see Cut.
type cutRule struct {
	maxScore *float64
	budget   float64
	// scan is the number of evenly spaced prefixes tried before the search
	// narrows down between the last good one and the first bad one.
	scan int
}

// sortChannels orders channels by ascending score; ties keep their order
// (layers in definition order, channels by index).
func sortChannels(cs []Channel) {
	slices.SortStableFunc(cs, func(a, b Channel) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
}

// apply finds the cut on m, whose gates must be gates (every other mask at
// 1), and leaves the chosen prefix of order pruned: its gates' masks at 0.
// It evaluates only on ds, the defense images.
func (r cutRule) apply(m nn.Module, gates *nn.Gates, order []Channel, ds *data.Dataset) (*Cut, []Channel, error) {
	byPath := map[string]*nn.Gate{}
	for _, g := range gates.List {
		byPath[g.Path] = g
	}
	var cands []Channel
	for _, c := range order {
		g := byPath[c.Layer]
		if g == nil || c.Index < 0 || c.Index >= g.Channels {
			return nil, nil, fmt.Errorf("remove: channel %s[%d] is not a gated channel of the model", c.Layer, c.Index)
		}
		if r.maxScore == nil || c.Value < *r.maxScore {
			cands = append(cands, c)
		}
	}
	cut := &Cut{MaxScore: r.maxScore, Budget: r.budget, Candidates: len(cands)}
	cut.Rule = fmt.Sprintf("longest prefix of the %d channels by ascending score", len(cands))
	if r.maxScore != nil {
		cut.Rule += fmt.Sprintf(" (those below %g)", *r.maxScore)
	}
	cut.Rule += fmt.Sprintf(" whose pruning keeps the defense accuracy within %.3g of the unpruned model's", r.budget)
	set := func(k int) {
		for i, c := range cands {
			v := float32(1)
			if i < k {
				v = 0
			}
			byPath[c.Layer].Mask.Value.Data[c.Index] = v
		}
	}
	tried := map[int]float64{}
	acc := func(k int) (float64, error) {
		if a, ok := tried[k]; ok {
			return a, nil
		}
		set(k)
		a, err := fit.Accuracy(m, ds, fit.EvalBatch)
		if err != nil {
			return 0, err
		}
		tried[k] = a
		cut.Tried = append(cut.Tried, Point{k, a})
		return a, nil
	}
	base, err := acc(0)
	if err != nil {
		return nil, nil, err
	}
	cut.BaseAcc = base
	ok := func(a float64) bool { return a >= base-r.budget-1e-9 }
	// Scan evenly spaced prefixes up to the first that breaks the budget,
	// then bisect between it and the last good one. Accuracy is not
	// monotone in the prefix, so a later prefix could pass again; the rule
	// stops at the first failure, the cautious reading.
	step := max(1, int(math.Ceil(float64(len(cands))/float64(max(1, r.scan)))))
	good, bad := 0, -1
	for k := step; ; k += step {
		k = min(k, len(cands))
		if k == 0 {
			break
		}
		a, err := acc(k)
		if err != nil {
			return nil, nil, err
		}
		if !ok(a) {
			bad = k
			break
		}
		good = k
		if k == len(cands) {
			break
		}
	}
	for bad > good+1 {
		mid := (good + bad) / 2
		a, err := acc(mid)
		if err != nil {
			return nil, nil, err
		}
		if ok(a) {
			good = mid
		} else {
			bad = mid
		}
	}
	set(good)
	cut.Pruned, cut.Acc = good, tried[good]
	if good > 0 {
		cut.Threshold = cands[good-1].Value
	}
	return cut, slices.Clone(cands[:good]), nil
}
