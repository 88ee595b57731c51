package run

import (
	"context"
	"ebyd/attack"
	"ebyd/data"
	"ebyd/detect"
	"ebyd/metrics"
	"ebyd/nn"
	"fmt"
	"math"
	"time"
)

// SampleDetection is a sample detector's part of a result: the scores of
// clean and triggered test images and how well they separate.
type SampleDetection struct {
	Clean     int       `json:"clean_images"`
	Triggered int       `json:"triggered_images"`
	AUROC     float64   `json:"auroc"`
	CleanMean float64   `json:"clean_mean_score"`
	TrigMean  float64   `json:"triggered_mean_score"`
	Scores    []float64 `json:"-"` // clean first, then triggered
	Seconds   float64   `json:"seconds"`
}

// runSamples scores a seeded subset of clean test images and the same
// images triggered; only the unlabelled pixels reach the detector.
func (cfg *DetectConfig) runSamples(ctx context.Context, opts Options, model nn.Module, def *data.Defense,
	test *data.Dataset, own *AttackConfig, trig attack.Trigger) (*SampleDetection, error) {
	clean, _, err := subset(test, cfg.Samples, cfg.SampleSeed, "test")
	if err != nil {
		return nil, err
	}
	mode := own.Mode
	if mode == "" {
		mode = attack.All2One
	}
	bd, err := attack.TestSet(clean, trig, attack.Poisoning{Mode: mode, Target: own.Target, Rate: 1})
	if err != nil {
		return nil, err
	}
	if bd.N == 0 {
		return nil, fmt.Errorf("none of the %d test images scored can carry the trigger (all are of the target class); raise --samples", clean.N)
	}
	inputs := detect.ImagesOf(clean)
	inputs.Pix = append(inputs.Pix, bd.Images...)
	inputs.N += bd.N
	sd, err := detect.NewSampler(cfg.Method, cfg.Params)
	if err != nil {
		return nil, err
	}
	prog := opts.progress(cfg.Method, inputs.N)
	start := time.Now()
	scores, err := sd.ScoreSamples(ctx, model, def, inputs, func(done, _ int, status string) { prog.Update(done, status) })
	if err != nil {
		return nil, err
	}
	prog.Done("")
	positive := make([]bool, inputs.N)
	var cm, tm float64
	for i, s := range scores {
		if i >= clean.N {
			positive[i] = true
			tm += s
		} else {
			cm += s
		}
	}
	return &SampleDetection{
		Clean: clean.N, Triggered: bd.N, AUROC: metrics.AUROC(scores, positive),
		CleanMean: cm / float64(clean.N), TrigMean: tm / math.Max(1, float64(bd.N)),
		Scores: scores, Seconds: since(start),
	}, nil
}
