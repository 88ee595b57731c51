package optim

import (
	"fmt"

	ag "ebyd/autograd"
)

// ParamState is an optimizer's state for one parameter: what a checkpoint
// saves so that training continues exactly where it stopped.
type ParamState struct {
	Step int         // Adam: the steps taken on this parameter; SGD: 0
	Bufs [][]float32 // SGD: the momentum buffer; Adam: the first and second moments
}

// Stateful is an optimizer whose state can be saved and restored. SGD and
// Adam are.
type Stateful interface {
	Optimizer
	// State is the state of each parameter, by its index in Params (nil for
	// one that has none yet). The slices are copies.
	State() []*ParamState
	// SetState restores what State returned for the same parameters.
	SetState(s []*ParamState) error
}

var (
	_ Stateful = (*SGD)(nil)
	_ Stateful = (*Adam)(nil)
)

func (o *SGD) State() []*ParamState {
	out := make([]*ParamState, len(o.Params))
	for i, p := range o.Params {
		if b, ok := o.buf[p]; ok {
			out[i] = &ParamState{Bufs: [][]float32{append([]float32(nil), b...)}}
		}
	}
	return out
}

func (o *SGD) SetState(s []*ParamState) error {
	if err := checkState(o.Params, s, 1); err != nil {
		return fmt.Errorf("sgd: %w", err)
	}
	o.buf = map[*ag.Var][]float32{}
	for i, p := range o.Params {
		if s[i] != nil {
			o.buf[p] = append([]float32(nil), s[i].Bufs[0]...)
		}
	}
	return nil
}

func (o *Adam) State() []*ParamState {
	out := make([]*ParamState, len(o.Params))
	for i, p := range o.Params {
		if st := o.state[p]; st != nil {
			out[i] = &ParamState{Step: st.step, Bufs: [][]float32{append([]float32(nil), st.m...), append([]float32(nil), st.v...)}}
		}
	}
	return out
}

func (o *Adam) SetState(s []*ParamState) error {
	if err := checkState(o.Params, s, 2); err != nil {
		return fmt.Errorf("adam: %w", err)
	}
	o.state = map[*ag.Var]*adamState{}
	for i, p := range o.Params {
		if s[i] != nil {
			if s[i].Step < 1 {
				return fmt.Errorf("adam: parameter %d has a state of %d steps", i, s[i].Step)
			}
			o.state[p] = &adamState{step: s[i].Step, m: append([]float32(nil), s[i].Bufs[0]...), v: append([]float32(nil), s[i].Bufs[1]...)}
		}
	}
	return nil
}

// checkState checks that s holds, for each of params, nothing or bufs
// buffers of the parameter's size.
func checkState(params []*ag.Var, s []*ParamState, bufs int) error {
	if len(s) != len(params) {
		return fmt.Errorf("a state of %d parameters for %d", len(s), len(params))
	}
	for i, st := range s {
		if st == nil {
			continue
		}
		if len(st.Bufs) != bufs {
			return fmt.Errorf("parameter %d has %d state buffers, want %d", i, len(st.Bufs), bufs)
		}
		for _, b := range st.Bufs {
			if len(b) != params[i].Value.Len() {
				return fmt.Errorf("parameter %d has a state buffer of %d values for %d", i, len(b), params[i].Value.Len())
			}
		}
	}
	return nil
}
