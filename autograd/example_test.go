package autograd_test

import (
	"fmt"

	"ebyd/autograd"
	"ebyd/tensor"
)

// y = Σ x², so ∂y/∂x = 2x.
func ExampleBackward() {
	x := autograd.Param(tensor.FromData([]float32{1, 2, 3}, 3))
	y := autograd.Sum(autograd.Mul(x, x))
	autograd.Backward(y)
	fmt.Println(y.Item(), x.Grad.Data)
	// Output: 14 [2 4 6]
}
