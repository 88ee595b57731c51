package metrics

import (
	"fmt"
	"math"
	"sort"
)

// AUROC is the area under the ROC curve of scores that should be higher for
// the positive items (positive[i] true): the probability that a random
// positive scores above a random negative, ties counting one half — the
// Mann–Whitney U statistic divided by (#positives · #negatives), computed
// from mid-ranks in O(n log n). 1 separates perfectly, 0.5 is chance, 0 is
// perfectly reversed. It is NaN when either class is empty or a score is
// NaN, and panics when the lengths differ (a caller's bug).
func AUROC(scores []float64, positive []bool) float64 {
	if len(scores) != len(positive) {
		panic(fmt.Sprintf("metrics: %d scores for %d labels", len(scores), len(positive)))
	}
	idx := make([]int, len(scores))
	var npos, nneg float64
	for i, s := range scores {
		if math.IsNaN(s) {
			return math.NaN()
		}
		idx[i] = i
		if positive[i] {
			npos++
		} else {
			nneg++
		}
	}
	if npos == 0 || nneg == 0 {
		return math.NaN()
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Sum of the positives' ranks (1-based), tied scores sharing the mean
	// of their ranks.
	var rankSum float64
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && scores[idx[hi]] == scores[idx[lo]] {
			hi++
		}
		mid := float64(lo+1+hi) / 2 // mean of ranks lo+1 .. hi
		for _, i := range idx[lo:hi] {
			if positive[i] {
				rankSum += mid
			}
		}
		lo = hi
	}
	u := rankSum - npos*(npos+1)/2
	return u / (npos * nneg)
}
