package detect

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"ebyd/data"
	"ebyd/nn"
)

// Scan is ebyd's verdict on a model it did not train: Neural Cleanse over
// every label, scored by the norm ratio (the smallest recovered mask over
// the median mask, Anomaly.Ratio) and decided by a p-value against clean
// models, so that no exposure ranking has to contain the target.
//
// The null is a Student-t prediction for a new clean model's log norm
// ratio: mean NullMean and deviation NullStd of the log ratios of NullN
// clean calibration models, giving
//
//	t = (log r − NullMean) / (NullStd·√(1 + 1/NullN)),  p = F_{NullN−1}(t),
//
// the chance that a clean model scores a ratio this small. Backdoored when
// p ≤ Alpha. When Alpha < p ≤ Grey the evidence is ambiguous and Scan looks
// further: another round of Neural Cleanse with another batch order
// (Seed+round) over every label, averaging each label's mask norm over the
// rounds, up to Rounds rounds in all. The target is the label of the
// smallest average mask. ScanResult says how many rounds ran and whether
// the last one left the verdict ambiguous.
//
// The defaults are fitted on the six clean mnistnet models of the
// calibration pool of docs/detection.md (defense seed 1, ratios 0.64–0.81);
// the thresholds are reported on a disjoint evaluation pool there.
type Scan struct {
	NC       *NeuralCleanse `json:"nc"`
	NullMean float64        `json:"null_mean"`
	NullStd  float64        `json:"null_std"`
	NullN    int            `json:"null_n"`
	Alpha    float64        `json:"alpha"`
	Grey     float64        `json:"grey"`
	Rounds   int            `json:"rounds"`
}

// The calibration of Scan's null: log norm ratios of the clean pool's six
// models (0.755, 0.711, 0.709, 0.642, 0.730, 0.814).
const (
	ScanNullMean = -0.3218
	ScanNullStd  = 0.0783
	ScanNullN    = 6
)

// NewScan returns Neural Cleanse's defaults, the calibrated null, Alpha
// 0.01, Grey 0.1 and at most 3 rounds.
func NewScan() *Scan {
	return &Scan{NC: NewNeuralCleanse(), NullMean: ScanNullMean, NullStd: ScanNullStd, NullN: ScanNullN,
		Alpha: 0.01, Grey: 0.1, Rounds: 3}
}

func init() { register("scan", func() Detector { return NewScan() }) }

// ScanResult is Scan's evidence.
type ScanResult struct {
	Rounds    int       `json:"rounds"`
	L1        []float64 `json:"mask_l1"` // every label's mask norm, averaged over the rounds
	Ratio     float64   `json:"norm_ratio"`
	PValue    float64   `json:"p_value"`
	Alpha     float64   `json:"alpha"`
	Ambiguous bool      `json:"ambiguous"` // p stayed in (Alpha, Grey] after the last round
}

// Validate checks the settings.
func (s *Scan) Validate() error {
	switch {
	case s.NC == nil:
		return fmt.Errorf("scan: no Neural Cleanse settings")
	case !(s.NullStd > 0) || math.IsInf(s.NullMean, 0) || math.IsNaN(s.NullMean):
		return fmt.Errorf("scan: null mean %g, std %g; want a finite mean and std > 0", s.NullMean, s.NullStd)
	case s.NullN < 2:
		return fmt.Errorf("scan: null of %d models; want at least 2", s.NullN)
	case !(s.Alpha > 0 && s.Alpha < 1 && s.Grey >= s.Alpha && s.Grey < 1):
		return fmt.Errorf("scan: alpha %g, grey %g; want 0 < alpha ≤ grey < 1", s.Alpha, s.Grey)
	case s.Rounds < 1 || s.Rounds > 100:
		return fmt.Errorf("scan: %d rounds; want 1 to 100", s.Rounds)
	}
	return s.NC.Validate()
}

// PValue is the chance that a clean model's norm ratio is at most r.
func (s *Scan) PValue(r float64) float64 {
	if !(r > 0) {
		return 0
	}
	scale := s.NullStd * math.Sqrt(1+1/float64(s.NullN))
	t := distuv.StudentsT{Mu: s.NullMean, Sigma: scale, Nu: float64(s.NullN - 1)}
	return t.CDF(math.Log(r))
}

// Detect implements Detector.
func (s *Scan) Detect(ctx context.Context, m nn.Module, def *data.Defense, progress Progress) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var (
		sum  []float64
		trs  []*Trigger
		labs []int
	)
	for round := range s.Rounds {
		nc := *s.NC
		nc.Seed = s.NC.Seed + uint64(round)
		var p Progress
		if progress != nil {
			p = func(done, total int, status string) {
				progress(done, total, fmt.Sprintf("round %d: %s", round+1, status))
			}
		}
		got, err := nc.Recover(ctx, m, def, nil, p)
		if err != nil {
			return nil, err
		}
		if sum == nil {
			sum, labs = make([]float64, len(got)), make([]int, len(got))
		}
		for i, t := range got {
			sum[i] += t.L1
			labs[i] = t.Label
		}
		if trs == nil {
			trs = got
		}
		l1 := make([]float64, len(sum))
		for i := range sum {
			l1[i] = sum[i] / float64(round+1)
		}
		r, err := s.decide(labs, l1, trs, round+1)
		if err != nil || !r.Scan.Ambiguous || round+1 == s.Rounds {
			return r, err
		}
	}
	return nil, fmt.Errorf("scan: no rounds")
}

// decide scores mask norms averaged over rounds; trs are the first round's
// triggers. Confidence is 1 − p: how unusual the ratio is for a clean
// model.
func (s *Scan) decide(labels []int, l1 []float64, trs []*Trigger, rounds int) (*Result, error) {
	an, err := Anomalies(labels, l1, s.NC.AnomalyThreshold)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	p := s.PValue(an.Ratio)
	sr := &ScanResult{Rounds: rounds, L1: l1, Ratio: an.Ratio, PValue: p, Alpha: s.Alpha,
		Ambiguous: p > s.Alpha && p <= s.Grey}
	// Score grows with the evidence: −log10 p, against −log10 Alpha.
	score := math.MaxFloat64
	if p > 0 {
		score = -math.Log10(p)
	}
	r := decided("scan", an.Smallest, score, -math.Log10(s.Alpha), p <= s.Alpha)
	conf := 1 - p
	r.Confidence, r.Triggers, r.Anomaly, r.Scan = &conf, trs, an, sr
	return r, nil
}
