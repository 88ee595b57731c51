//go:build cgo && !purego && !nodnnl

package dnnl

/*
#cgo LDFLAGS: -ldnnl -fopenmp
#include "conv.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Available reports whether convolutions run on oneDNN.
const Available = true

var (
	initOnce sync.Once
	initErr  error
	mu       sync.Mutex
	convs    = map[Shape]*C.ebyd_conv{}
)

// Shape identifies one convolution configuration.
type Shape struct {
	N, Cin, H, W, Cout, KH, KW, Stride, Pad, Groups, OH, OW int
	Bias                                                    bool
}

func get(s Shape) (*C.ebyd_conv, error) {
	initOnce.Do(func() {
		if rc := C.ebyd_dnnl_init(); rc != 0 {
			initErr = fmt.Errorf("dnnl: engine init failed (%d)", int(rc))
		}
	})
	if initErr != nil {
		return nil, initErr
	}
	mu.Lock()
	defer mu.Unlock()
	// The same cores as the rest of the engine: GOMAXPROCS at the time of the call.
	C.ebyd_dnnl_threads(C.int(runtime.GOMAXPROCS(0)))
	if c, ok := convs[s]; ok {
		return c, nil
	}
	var c *C.ebyd_conv
	rc := C.ebyd_conv_create(&c, C.int(s.N), C.int(s.Cin), C.int(s.H), C.int(s.W), C.int(s.Cout),
		C.int(s.KH), C.int(s.KW), C.int(s.Stride), C.int(s.Pad), C.int(s.Groups), C.int(s.OH), C.int(s.OW), b2i(s.Bias))
	if rc != 0 {
		return nil, fmt.Errorf("dnnl: cannot create convolution %+v (code %d)", s, int(rc))
	}
	convs[s] = c
	return c, nil
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func ptr(x []float32) *C.float {
	if len(x) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&x[0]))
}

// The calls below hand Go memory to oneDNN for the duration of the call only;
// the cached primitives keep no reference that is used afterwards.

// KeepSize is the number of floats Forward can fill with its input in the
// layout the weight-gradient pass wants, so that Backward need not redo that
// reordering (0 when there is nothing to gain).
func KeepSize(s Shape) int {
	c, err := get(s)
	if err != nil {
		return 0
	}
	return (int(C.ebyd_conv_keep_size(c)) + 3) / 4
}

// Forward computes y = conv(x, w) + b (b may be nil). keep, nil or of
// KeepSize floats, receives the reordered input for Backward.
func Forward(s Shape, x, w, b, y, keep []float32) error {
	c, err := get(s)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if rc := C.ebyd_conv_forward(c, ptr(x), ptr(w), ptr(b), ptr(y), ptr(keep)); rc != 0 {
		return fmt.Errorf("dnnl: forward failed (%d)", int(rc))
	}
	return nil
}

// Backward computes the gradients that are asked for: dx (input), dw
// (weights) and db (bias), each nil when not wanted; db needs dw. kept is
// Forward's keep buffer or nil.
func Backward(s Shape, x, w, dy, dx, dw, db, kept []float32) error {
	c, err := get(s)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if rc := C.ebyd_conv_backward(c, ptr(x), ptr(w), ptr(dy), ptr(dx), ptr(dw), ptr(db), ptr(kept)); rc != 0 {
		return fmt.Errorf("dnnl: backward failed (%d)", int(rc))
	}
	return nil
}
