// Package registry keeps the named methods of one kind (attacks, exposure
// methods, removal methods): a constructor of each method's defaults by
// name, and the decoding of a user's JSON parameters over those defaults.
// A method's parameters are its exported fields with their JSON names, so
// that run.json records every one and reads them back.
package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Registry maps lower-case names to constructors of methods of type T with
// their default parameters.
type Registry[T any] struct {
	kind  string // names the methods in errors: "attack", "exposure method", ...
	m     map[string]func() T
	check func(T) error
}

// New returns an empty registry of methods of the kind named. check, when
// not nil, validates a method's parameters after Make decoded them.
func New[T any](kind string, check func(T) error) *Registry[T] {
	return &Registry[T]{kind: kind, m: map[string]func() T{}, check: check}
}

// Add registers a method; a name registered twice is a programming error.
func (r *Registry[T]) Add(name string, defaults func() T) {
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("registry: %s %s registered twice", r.kind, name))
	}
	r.m[name] = defaults
}

// Names lists the registered names, sorted.
func (r *Registry[T]) Names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Make returns the named method (any case) with its defaults, overridden by
// params: a JSON object of some of its parameters; an unknown key is an
// error, so a typo is never silently ignored. Empty or null params keep
// every default. The result has passed the registry's check.
func (r *Registry[T]) Make(name string, params json.RawMessage) (T, error) {
	f, ok := r.m[strings.ToLower(name)]
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s %q (known: %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	v := f()
	if p := bytes.TrimSpace(params); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			var zero T
			return zero, fmt.Errorf("%s %s: parameters: %w", r.kind, name, err)
		}
	}
	if r.check != nil {
		if err := r.check(v); err != nil {
			var zero T
			return zero, fmt.Errorf("%s %s: %w", r.kind, name, err)
		}
	}
	return v, nil
}

// Params returns a method's parameters as JSON, the form Make reads back.
func (r *Registry[T]) Params(v T) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("registry: parameters of %s %T do not encode: %v", r.kind, v, err))
	}
	return b
}
