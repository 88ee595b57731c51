package autograd

import "fmt"

// Flatten reshapes [N, d1, d2, ...] to [N, d1·d2·...] (torch.flatten(x, 1),
// nn.Flatten). x must have at least 2 dimensions. The result shares x's data.
func Flatten(x *Var) *Var {
	s := x.Value.Shape
	if len(s) < 2 {
		panic(fmt.Sprintf("autograd: Flatten: need at least 2 dims, got shape %v", s))
	}
	rest := 1
	for _, d := range s[1:] {
		rest *= d
	}
	return reshapeTo("Flatten", x, []int{s[0], rest})
}
