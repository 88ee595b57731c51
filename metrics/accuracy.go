package metrics

import "fmt"

// Correct counts the positions where pred equals labels. It panics when the
// lengths differ: that is a caller's bug, not bad input.
func Correct(pred, labels []int) int {
	mustMatch(pred, labels)
	n := 0
	for i, p := range pred {
		if p == labels[i] {
			n++
		}
	}
	return n
}

// Accuracy is the fraction of predictions equal to their labels, in [0, 1];
// 0 for no predictions.
func Accuracy(pred, labels []int) float64 {
	if len(pred) == 0 {
		mustMatch(pred, labels)
		return 0
	}
	return float64(Correct(pred, labels)) / float64(len(pred))
}

// PerClassAccuracy is the accuracy on the images of each true class, in class
// order; a class without images gets 0.
func PerClassAccuracy(pred, labels []int, classes int) []float64 {
	mustMatch(pred, labels)
	right := make([]int, classes)
	total := make([]int, classes)
	for i, y := range labels {
		total[y]++
		if pred[i] == y {
			right[y]++
		}
	}
	out := make([]float64, classes)
	for c := range out {
		if total[c] > 0 {
			out[c] = float64(right[c]) / float64(total[c])
		}
	}
	return out
}

// ClassShare is the fraction of predictions that fall in each class: a
// backdoored model pushed towards its target shows up as one dominant share.
func ClassShare(pred []int, classes int) []float64 {
	out := make([]float64, classes)
	if len(pred) == 0 {
		return out
	}
	for _, p := range pred {
		out[p]++
	}
	for c := range out {
		out[c] /= float64(len(pred))
	}
	return out
}

func mustMatch(pred, labels []int) {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("metrics: %d predictions for %d labels", len(pred), len(labels)))
	}
}
