package run

import (
	"fmt"
	"strconv"
	"strings"

	"ebyd/checkpoint"
	"ebyd/internal/quote"
	"ebyd/nn"
	"ebyd/tensor"
)

// WeightsFormat tags model.safetensors files written by ebyd.
const WeightsFormat = "ebyd-weights/1"

// StateDict returns m's parameters and buffers as a checkpoint state dict
// with PyTorch's names and dtypes: float32, except BatchNorm's
// num_batches_tracked, which PyTorch keeps as int64. The tensors are m's own.
func StateDict(m nn.Module) *checkpoint.StateDict {
	sd := &checkpoint.StateDict{}
	for _, e := range nn.StateDict(m) {
		dt := checkpoint.F32
		if strings.HasSuffix(e.Name, "num_batches_tracked") {
			dt = checkpoint.I64
		}
		sd.Entries = append(sd.Entries, checkpoint.Entry{Name: e.Name, DType: dt, Tensor: e.Tensor})
	}
	return sd
}

// LoadStateDict copies sd into m; see nn.LoadStateDict for what must match.
func LoadStateDict(m nn.Module, sd *checkpoint.StateDict) error {
	values := make(map[string]*tensor.Tensor, sd.Len())
	for _, e := range sd.Entries {
		values[e.Name] = e.Tensor
	}
	return nn.LoadStateDict(m, values)
}

// weightsMetadata is the safetensors __metadata__ of a run's weights: enough
// to rebuild the network without run.json, and for people and other tools
// inspecting the file.
func weightsMetadata(mi ModelInfo) map[string]string {
	return map[string]string{
		"format":      WeightsFormat,
		"tool":        "ebyd " + Version,
		"arch":        mi.Arch,
		"in_channels": strconv.Itoa(mi.InChannels),
		"classes":     strconv.Itoa(mi.Classes),
		"input_size":  strconv.Itoa(mi.InputSize),
		"width":       strconv.Itoa(mi.Width),
	}
}

// checkFinite reports the first tensor of sd holding NaN or ±Inf.
func checkFinite(sd *checkpoint.StateDict) error {
	for _, e := range sd.Entries {
		if e.Tensor.HasNaN() {
			return fmt.Errorf("tensor %s holds NaN or infinite values", quote.Name(e.Name))
		}
	}
	return nil
}

// countParams is the number of trainable scalars of m.
func countParams(m nn.Module) int {
	n := 0
	for _, p := range nn.Params(m) {
		n += p.Value.Len()
	}
	return n
}
