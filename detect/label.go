package detect

import (
	"context"
	"fmt"
	"math"

	"ebyd/data"
	"ebyd/nn"
)

// Label is EBYD's backdoor label detection (dossier §4.1): the target is the
// class an exposed model predicts most often on clean defense data, and its
// share of the predictions is the confidence. Every class's share is its
// score. Run on an exposed model; on an unexposed one it only finds the
// class a model favours.
type Label struct{}

func init() { register("label", func() Detector { return &Label{} }) }

// Detect implements Detector; it names a target and decides nothing.
func (Label) Detect(ctx context.Context, m nn.Module, def *data.Defense, _ Progress) (*Result, error) {
	share, err := ClassShare(ctx, m, def)
	if err != nil {
		return nil, err
	}
	t := argmax(share)
	return &Result{Method: "label", Target: t, Confidence: &share[t], ClassShare: share}, nil
}

// DefaultVarianceThreshold is the seed's decision threshold on the variance
// of the class shares (detections/Unlearning.py): with one class at share s
// and the rest even, the variance (s − 1/K)²/(K−1) for K = 10 passes 0.01
// when s > 0.4.
const DefaultVarianceThreshold = 0.01

// Variance is the seed's model detection on an exposed model (dossier
// §4.2 a): the population variance of the class shares of its predictions
// on clean defense data, backdoored when above Threshold. The variance is
// the score (0 for an even spread, (K−1)/K² when every prediction falls in
// one class); the most predicted class is the target it points at.
//
// The seed counts predictions on the clean test set after its own 21 epochs
// of unlearning; here the exposure is a stage of its own and the shares are
// taken on the defender's data, since test images belong to the evaluator.
type Variance struct {
	Threshold float64 `json:"threshold"`
}

// NewVariance returns the test with the seed's threshold.
func NewVariance() *Variance { return &Variance{Threshold: DefaultVarianceThreshold} }

func init() { register("model", func() Detector { return NewVariance() }) }

// Validate checks the settings.
func (v *Variance) Validate() error {
	if !(v.Threshold >= 0 && v.Threshold < 1) {
		return fmt.Errorf("model: variance threshold %g; want it in [0, 1)", v.Threshold)
	}
	return nil
}

// ShareVariance is the population variance of the shares.
func ShareVariance(share []float64) float64 {
	if len(share) == 0 {
		return math.NaN()
	}
	var mean float64
	for _, s := range share {
		mean += s
	}
	mean /= float64(len(share))
	var v float64
	for _, s := range share {
		v += (s - mean) * (s - mean)
	}
	return v / float64(len(share))
}

// Detect implements Detector.
func (v *Variance) Detect(ctx context.Context, m nn.Module, def *data.Defense, _ Progress) (*Result, error) {
	share, err := ClassShare(ctx, m, def)
	if err != nil {
		return nil, err
	}
	return v.Decide(share), nil
}

// Decide applies the test to class shares measured elsewhere.
func (v *Variance) Decide(share []float64) *Result {
	s := ShareVariance(share)
	r := decided("model", argmax(share), s, v.Threshold, s > v.Threshold)
	r.ClassShare = share
	return r
}

func nan() float64 { return math.NaN() }
