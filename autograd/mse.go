package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// MSE returns the mean squared error mean((a − b)²) over all elements, as
// torch.nn.functional.mse_loss(a, b) with reduction='mean'. a and b have the
// same shape (no broadcasting); the sum is accumulated in float64. NaN for
// empty inputs, as PyTorch.
func MSE(a, b *Var) *Var {
	if !tensor.SameShape(a.Value.Shape, b.Value.Shape) {
		panic(fmt.Sprintf("autograd: MSE: shapes %v and %v differ", a.Value.Shape, b.Value.Shape))
	}
	ad, bd := a.Value.Data, b.Value.Data
	n := len(ad)
	var s float64
	for i, v := range ad {
		d := float64(v) - float64(bd[i])
		s += d * d
	}
	m := math.NaN()
	if n > 0 {
		m = s / float64(n)
	}
	return result(tensor.Scalar(float32(m)), func(out *Var) {
		c := 2 * out.Grad.Data[0] / float32(n)
		if a.requiresGrad {
			ga := make([]float32, n)
			for i, v := range ad {
				ga[i] = c * (v - bd[i])
			}
			a.accumulate(ga)
		}
		if b.requiresGrad {
			gb := make([]float32, n)
			for i, v := range ad {
				gb[i] = -c * (v - bd[i])
			}
			b.accumulate(gb)
		}
	}, a, b)
}
