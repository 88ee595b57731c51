package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// CrossEntropy is the mean softmax cross-entropy of logits [N, K] against
// integer labels, as torch.nn.functional.cross_entropy.
func CrossEntropy(logits *Var, labels []int) *Var {
	per := crossEntropy(logits, labels)
	n := len(labels)
	var s float64
	for _, v := range per.loss {
		s += float64(v)
	}
	y := tensor.Scalar(float32(s / float64(n)))
	return result(y, func(out *Var) {
		per.backward(logits, func(int) float32 { return out.Grad.Data[0] / float32(n) })
	}, logits)
}

// CrossEntropyPerSample is the softmax cross-entropy of each row, shape [N]
// (reduction='none').
func CrossEntropyPerSample(logits *Var, labels []int) *Var {
	per := crossEntropy(logits, labels)
	y := tensor.FromData(per.loss, len(labels))
	return result(y, func(out *Var) {
		per.backward(logits, func(i int) float32 { return out.Grad.Data[i] })
	}, logits)
}

type ceState struct {
	prob   []float32 // softmax of the logits, [N, K]
	loss   []float32
	labels []int
	k      int
}

func crossEntropy(logits *Var, labels []int) *ceState {
	s := logits.Value.Shape
	if len(s) != 2 || s[0] != len(labels) {
		panic(fmt.Sprintf("autograd: CrossEntropy: logits %v for %d labels", s, len(labels)))
	}
	n, k := s[0], s[1]
	st := &ceState{prob: make([]float32, n*k), loss: make([]float32, n), labels: labels, k: k}
	for i := 0; i < n; i++ {
		if labels[i] < 0 || labels[i] >= k {
			panic(fmt.Sprintf("autograd: CrossEntropy: label %d outside [0, %d)", labels[i], k))
		}
		row := logits.Value.Data[i*k : (i+1)*k]
		m := row[0]
		for _, v := range row {
			if v > m {
				m = v
			}
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - m))
		}
		lz := math.Log(z)
		for j, v := range row {
			st.prob[i*k+j] = float32(math.Exp(float64(v-m) - lz))
		}
		st.loss[i] = float32(lz - float64(row[labels[i]]-m))
	}
	return st
}

func (st *ceState) backward(logits *Var, scale func(i int) float32) {
	if !logits.requiresGrad {
		return
	}
	g := make([]float32, len(st.prob))
	for i, y := range st.labels {
		c := scale(i)
		row := g[i*st.k : (i+1)*st.k]
		for j := range row {
			row[j] = st.prob[i*st.k+j] * c
		}
		row[y] -= c
	}
	logits.accumulate(g)
}
