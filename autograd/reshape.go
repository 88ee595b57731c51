package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// Reshape returns x with a new shape holding the same number of elements; one
// dimension may be −1 and is then inferred. Like a PyTorch view, the result
// shares x's value data (operations never write into their inputs); its
// gradient is copied back.
func Reshape(x *Var, shape ...int) *Var {
	return reshapeTo("Reshape", x, shape)
}

func reshapeTo(op string, x *Var, shape []int) *Var {
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == -1:
			panic(fmt.Sprintf("autograd: %s: more than one -1 in shape %v", op, shape))
		case d < 0:
			panic(fmt.Sprintf("autograd: %s: negative dimension in shape %v", op, shape))
		default:
			known *= d
		}
	}
	n := len(x.Value.Data)
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("autograd: %s: cannot reshape %v to %v", op, x.Value.Shape, shape))
		}
		s[infer] = n / known
	}
	if tensor.Numel(s) != n {
		panic(fmt.Sprintf("autograd: %s: cannot reshape %v (%d elements) to %v", op, x.Value.Shape, n, shape))
	}
	y := &tensor.Tensor{Shape: s, Data: x.Value.Data}
	return result(y, func(out *Var) {
		x.accumulate(append([]float32(nil), out.Grad.Data...))
	}, x)
}
