//go:build !cgo || purego || nodnnl

package dnnl

import "errors"

// Available reports whether convolutions run on oneDNN.
const Available = false

// Shape identifies one convolution configuration.
type Shape struct {
	N, Cin, H, W, Cout, KH, KW, Stride, Pad, Groups, OH, OW int
	Bias                                                    bool
}

var errOff = errors.New("dnnl: not built in (cgo off or -tags nodnnl)")

func KeepSize(s Shape) int                                         { return 0 }
func Forward(s Shape, x, w, b, y, keep []float32) error            { return errOff }
func Backward(s Shape, x, w, dy, dx, dw, db, kept []float32) error { return errOff }
