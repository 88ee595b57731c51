package metrics

import (
	"fmt"
	"slices"
	"testing"
)

func TestAccuracy(t *testing.T) {
	pred := []int{0, 1, 2, 2, 1}
	labels := []int{0, 1, 1, 2, 0}
	if got := Correct(pred, labels); got != 3 {
		t.Fatalf("Correct = %d, want 3", got)
	}
	if got := Accuracy(pred, labels); got != 0.6 {
		t.Fatalf("Accuracy = %v, want 0.6", got)
	}
	if got := Accuracy(nil, nil); got != 0 {
		t.Fatalf("Accuracy of nothing = %v, want 0", got)
	}
	if got, want := PerClassAccuracy(pred, labels, 4), []float64{0.5, 0.5, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("PerClassAccuracy = %v, want %v", got, want)
	}
	if got, want := ClassShare(pred, 3), []float64{0.2, 0.4, 0.4}; !slices.Equal(got, want) {
		t.Fatalf("ClassShare = %v, want %v", got, want)
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for mismatched lengths")
		}
	}()
	Accuracy([]int{1}, []int{1, 2})
}

func ExampleAccuracy() {
	pred := []int{3, 1, 4, 1}
	labels := []int{3, 1, 4, 2}
	fmt.Println(Accuracy(pred, labels))
	// Output: 0.75
}
