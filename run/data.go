package run

import (
	"fmt"
	"slices"

	"ebyd/data"
)

// loadData loads both splits of a dataset; mean and std, when given, replace
// the dataset's own normalisation (one value applies to every channel).
func loadData(name, dir string, mean, std []float32) (train, test *data.Dataset, err error) {
	train, test, err = data.Load(name, dir)
	if err != nil {
		return nil, nil, err
	}
	if mean == nil && std == nil {
		return train, test, nil
	}
	m, err := perChannel("mean", mean, train.Mean, train.C)
	if err != nil {
		return nil, nil, err
	}
	s, err := perChannel("std", std, train.Std, train.C)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range []*data.Dataset{train, test} {
		d.Mean, d.Std = slices.Clone(m), slices.Clone(s)
		if err := d.Validate(); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// perChannel expands a normalisation value list to one value per channel:
// nil keeps the default, one value serves every channel.
func perChannel(what string, v, def []float32, channels int) ([]float32, error) {
	switch {
	case v == nil:
		if len(def) == 0 { // a dataset without normalisation
			fill := float32(0)
			if what == "std" {
				fill = 1
			}
			return slices.Repeat([]float32{fill}, channels), nil
		}
		return def, nil
	case len(v) == 1:
		return slices.Repeat(v, channels), nil
	case len(v) == channels:
		return v, nil
	}
	return nil, fmt.Errorf("%d values for --%s, but the images have %d channels (give 1 or %d)", len(v), what, channels, channels)
}

// subset returns the seeded random subset of k images of ds (all of it when
// k is 0 or at least ds.N) and records the choice.
func subset(ds *data.Dataset, k int, seed uint64, what string) (*data.Dataset, Split, error) {
	if k < 0 {
		return nil, Split{}, fmt.Errorf("--%s-subset %d is negative", what, k)
	}
	if k == 0 || k >= ds.N {
		return ds, Split{Total: ds.N, Used: ds.N}, nil
	}
	return ds.Subset(data.RandomSubset(ds.N, k, seed)), Split{Total: ds.N, Used: k, SubsetSeed: &seed}, nil
}

// datasetInfo describes ds for the manifest.
func datasetInfo(ds *data.Dataset, dir string, train, test Split) DatasetInfo {
	return DatasetInfo{
		Name: ds.Name, Dir: dir,
		Channels: ds.C, Height: ds.H, Width: ds.W, Classes: ds.Classes,
		Mean: slices.Clone(ds.Mean), Std: slices.Clone(ds.Std),
		Train: train, Test: test,
	}
}
