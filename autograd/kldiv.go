package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// KLDiv returns the Kullback–Leibler divergence KL(q ‖ p) given log p and q,
// as torch.nn.functional.kl_div(logP, q, reduction='batchmean') with
// log_target=False: Σ q·(log q − logP) over every element, divided by the
// batch size logP.size(0) (1 for a scalar) — the mathematical KL divergence
// averaged over the batch, not over elements (reduction='mean' would divide
// by the element count). logP and q have the same shape; q holds
// probabilities (≥ 0). Elements with q = 0 contribute 0 and pass no gradient,
// the limit of q·log q (even where logP = −Inf). Gradients:
// ∂/∂logP = −q/N, ∂/∂q = (log q + 1 − logP)/N; both inputs may require them.
func KLDiv(logP, q *Var) *Var {
	lp, qd := logP.Value.Data, q.Value.Data
	if !tensor.SameShape(logP.Value.Shape, q.Value.Shape) {
		panic(fmt.Sprintf("autograd: KLDiv: logP has shape %v, q has %v", logP.Value.Shape, q.Value.Shape))
	}
	n := 1
	if s := logP.Value.Shape; len(s) > 0 {
		n = s[0]
	}
	var s float64
	for i, t := range qd {
		if t != 0 {
			s += float64(t) * (math.Log(float64(t)) - float64(lp[i]))
		}
	}
	y := tensor.Scalar(float32(s / float64(n)))
	return result(y, func(out *Var) {
		g := float64(out.Grad.Data[0]) / float64(n)
		if logP.requiresGrad {
			gp := make([]float32, len(lp))
			for i, t := range qd {
				gp[i] = float32(-g * float64(t))
			}
			logP.accumulate(gp)
		}
		if q.requiresGrad {
			gq := make([]float32, len(qd))
			for i, t := range qd {
				if t != 0 {
					gq[i] = float32(g * (math.Log(float64(t)) + 1 - float64(lp[i])))
				}
			}
			q.accumulate(gq)
		}
	}, logP, q)
}
