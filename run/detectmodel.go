package run

import (
	"context"
	"ebyd/data"
	"ebyd/detect"
	"ebyd/internal/userfile"
	"ebyd/nn"
	"ebyd/report"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"
)

// runDetector runs a model detector and records its answer. A Focuser
// (nc) examines the given labels or, with an exposed run, the exposure's
// first candidates. It returns the recovered triggers' images for the
// output folder.
func (cfg *DetectConfig) runDetector(ctx context.Context, opts Options, res *DetectResult, model nn.Module, exposed *Folder, def *data.Defense) (map[string][]byte, error) {
	det, err := detect.New(cfg.Method, cfg.Params)
	if err != nil {
		return nil, err
	}
	focus := &NCDetection{LabelFrom: "all"}
	if f, ok := det.(detect.Focuser); ok {
		if focus, err = cfg.focus(ctx, res, model, exposed, def); err != nil {
			return nil, err
		}
		f.Focus(focus.Labels, focus.Ranking != nil)
	}
	start := time.Now()
	prog := opts.progress(cfg.Method, 1)
	r, err := det.Detect(ctx, model, def, func(done, total int, status string) { prog.total = total; prog.Update(done, status) })
	if err != nil {
		return nil, err
	}
	prog.Done("")
	if r.Triggers != nil {
		focus.Seconds = since(start)
		focus.Labels = focus.Labels[:0]
		for _, t := range r.Triggers {
			focus.Labels = append(focus.Labels, t.Label)
		}
		res.NC = focus
	}
	res.record(r)
	return triggerImages(r.Triggers)
}

// focus says which labels a focusing detector examines: those given, the
// exposure's first Candidates (with the ranking they came from), or every
// label.
func (cfg *DetectConfig) focus(ctx context.Context, res *DetectResult, model nn.Module, exposed *Folder, def *data.Defense) (*NCDetection, error) {
	switch {
	case len(cfg.Labels) > 0:
		return &NCDetection{LabelFrom: "given", Labels: slices.Clone(cfg.Labels)}, nil
	case exposed == nil:
		return &NCDetection{LabelFrom: "all"}, nil
	}
	em := model
	if cfg.On != "exposed" {
		var err error
		if em, err = exposed.Model(); err != nil {
			return nil, err
		}
	}
	share, err := detect.ClassShare(ctx, em, def)
	if err != nil {
		return nil, err
	}
	res.ClassShare = share
	ranking, from, err := exposureRanking(exposed, share)
	if err != nil {
		return nil, err
	}
	k := cfg.Candidates
	if k == 0 {
		k = min(DefaultCandidates, len(ranking))
	}
	if k > len(ranking) {
		return nil, fmt.Errorf("--candidates %d: the model has %d classes", k, len(ranking))
	}
	return &NCDetection{LabelFrom: from, Labels: ranking[:k], Ranking: ranking}, nil
}

// triggerImages are the mask, pattern and trigger of every recovered
// trigger as PNG files.
func triggerImages(trs []*detect.Trigger) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, t := range trs {
		for name, pic := range map[string]report.Picture{
			fmt.Sprintf("mask_%d.png", t.Label):    {Pix: t.MaskImage(), H: t.H, W: t.W, C: 1},
			fmt.Sprintf("pattern_%d.png", t.Label): {Pix: t.PatternImage(), H: t.H, W: t.W, C: t.C},
			fmt.Sprintf("trigger_%d.png", t.Label): {Pix: t.TriggerImage(), H: t.H, W: t.W, C: t.C},
		} {
			b, err := encodePNG(pic)
			if err != nil {
				return nil, err
			}
			files[name] = b
		}
	}
	return files, nil
}

// exposureRanking ranks the labels as backdoor targets by the exposure:
// the exposed run's own candidates when it has them, else the class shares
// (largest first, ties by label).
func exposureRanking(exposed *Folder, share []float64) ([]int, string, error) {
	b, err := userfile.ReadFile(filepath.Join(exposed.Dir, CandidatesFile))
	if err == nil {
		var c candidatesFile
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, "", fmt.Errorf("%s: %w", filepath.Join(exposed.Dir, CandidatesFile), err)
		}
		var ranking []int
		seen := map[int]bool{}
		for _, cand := range c.Candidates {
			if cand.Label < 0 || cand.Label >= len(share) || seen[cand.Label] {
				return nil, "", fmt.Errorf("%s: bad candidate label %d", filepath.Join(exposed.Dir, CandidatesFile), cand.Label)
			}
			seen[cand.Label] = true
			ranking = append(ranking, cand.Label)
		}
		if len(ranking) > 0 {
			return ranking, "exposed", nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	ranking := make([]int, len(share))
	for i := range ranking {
		ranking[i] = i
	}
	slices.SortStableFunc(ranking, func(a, b int) int {
		switch {
		case share[a] > share[b]:
			return -1
		case share[a] < share[b]:
			return 1
		}
		return 0
	})
	return ranking, "exposed class share", nil
}
