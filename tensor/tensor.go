package tensor

import (
	"fmt"
	"math"
)

// Tensor is a dense float32 array in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) in a tensor of the given shape; it panics
// when the sizes disagree.
func FromData(data []float32, shape ...int) *Tensor {
	if n := Numel(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: %d values do not fill shape %v (%d)", len(data), shape, n))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{Shape: []int{}, Data: []float32{v}} }

// Full returns a tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Numel is the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dim is the number of dimensions.
func (t *Tensor) Dim() int { return len(t.Shape) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape. One dimension
// may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		if d == -1 {
			if infer >= 0 {
				panic("tensor: more than one -1 in reshape")
			}
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 {
		if known == 0 || len(t.Data)%known != 0 {
			panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.Shape, shape))
		}
		s[infer] = len(t.Data) / known
	}
	if Numel(s) != len(t.Data) {
		panic(fmt.Sprintf("tensor: cannot reshape %v (%d elements) to %v", t.Shape, len(t.Data), shape))
	}
	return &Tensor{Shape: s, Data: t.Data}
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Zero sets every element to 0.
func (t *Tensor) Zero() {
	clear(t.Data)
}

// CopyFrom copies src's values into t; the shapes must match.
func (t *Tensor) CopyFrom(src *Tensor) {
	if !SameShape(t.Shape, src.Shape) {
		panic(fmt.Sprintf("tensor: copy of shape %v into %v", src.Shape, t.Shape))
	}
	copy(t.Data, src.Data)
}

// HasNaN reports whether any element is NaN or infinite.
func (t *Tensor) HasNaN() bool {
	for _, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

// String prints the shape and the first few values.
func (t *Tensor) String() string {
	n := len(t.Data)
	if n > 6 {
		return fmt.Sprintf("Tensor%v%v…", t.Shape, t.Data[:6])
	}
	return fmt.Sprintf("Tensor%v%v", t.Shape, t.Data)
}

// ArgMaxRows returns, for a [n, k] tensor, the index of the largest value of
// each row (the first one on ties, as torch.argmax does on CPU).
func (t *Tensor) ArgMaxRows() []int {
	if t.Dim() != 2 {
		panic(fmt.Sprintf("tensor: ArgMaxRows needs a 2-D tensor, got %v", t.Shape))
	}
	n, k := t.Shape[0], t.Shape[1]
	out := make([]int, n)
	for i := 0; i < n; i++ {
		row := t.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}
