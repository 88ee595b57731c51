package nn

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	ag "ebyd/autograd"
	"ebyd/internal/quote"
	"ebyd/tensor"
)

// Module is a layer or a network: it maps an input to an output and owns named
// parameters, buffers and children through its embedded Base.
type Module interface {
	Forward(x *ag.Var) *ag.Var
	base() *Base
}

// Hook sees the output of a module and returns the output to use instead
// (returning y unchanged only observes it).
type Hook func(y *ag.Var) *ag.Var

// Base is embedded by every module. The zero value is ready to use.
type Base struct {
	path     string
	params   []named[*ag.Var]
	buffers  []named[*tensor.Tensor]
	children []named[Module]
	training bool
	hooks    map[string]Hook // shared by the whole tree, set by Build
}

type named[T any] struct {
	name string
	v    T
}

func (b *Base) base() *Base { return b }

// Path is the module's dotted name in its tree ("" for the root).
func (b *Base) Path() string { return b.path }

// Training reports whether the module is in training mode.
func (b *Base) Training() bool { return b.training }

// AddParam registers a trainable tensor under name and returns its Var.
func (b *Base) AddParam(name string, t *tensor.Tensor) *ag.Var {
	v := ag.Param(t)
	b.params = append(b.params, named[*ag.Var]{name, v})
	return v
}

// AddBuffer registers a non-trainable tensor (running statistics) under name.
func (b *Base) AddBuffer(name string, t *tensor.Tensor) *tensor.Tensor {
	b.buffers = append(b.buffers, named[*tensor.Tensor]{name, t})
	return t
}

// AddChild registers a sub-module under name and returns it.
func AddChild[M Module](b *Base, name string, m M) M {
	b.children = append(b.children, named[Module]{name, m})
	return m
}

// Out applies the hook registered for this module, if any, to its output.
// Every Forward returns through it.
func (b *Base) Out(y *ag.Var) *ag.Var {
	if h := b.hooks[b.path]; h != nil {
		return h(y)
	}
	return y
}

// Build names every module of the tree rooted at m by its dotted path, gives
// the tree one shared hook table, and puts it in training mode. Call it once
// after constructing a network.
func Build[M Module](m M) M {
	hooks := map[string]Hook{}
	Walk(m, func(path string, sub Module) {
		b := sub.base()
		b.path = path
		b.hooks = hooks
		b.training = true
	})
	return m
}

// Walk calls fn on every module of the tree in definition order, parents
// before children, with its dotted path.
func Walk(m Module, fn func(path string, m Module)) {
	var rec func(prefix string, m Module)
	rec = func(prefix string, m Module) {
		fn(prefix, m)
		for _, c := range m.base().children {
			rec(join(prefix, c.name), c.v)
		}
	}
	rec("", m)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// SetTraining switches the whole tree between training and evaluation mode.
func SetTraining(m Module, on bool) {
	Walk(m, func(_ string, sub Module) { sub.base().training = on })
}

// Find returns the module at a dotted path.
func Find(root Module, path string) (Module, error) {
	var found Module
	Walk(root, func(p string, m Module) {
		if p == path {
			found = m
		}
	})
	if found == nil {
		return nil, fmt.Errorf("nn: no module named %q (known: %v)", path, ModulePaths(root))
	}
	return found, nil
}

// ModulePaths lists the dotted paths of every named module.
func ModulePaths(root Module) []string {
	var out []string
	Walk(root, func(p string, _ Module) {
		if p != "" {
			out = append(out, p)
		}
	})
	return out
}

// SetHook registers fn on the output of the module at path, replacing any
// earlier hook there; a nil fn removes it.
func SetHook(root Module, path string, fn Hook) error {
	m, err := Find(root, path)
	if err != nil {
		return err
	}
	b := m.base()
	if b.hooks == nil {
		return fmt.Errorf("nn: SetHook on a tree that was not built with nn.Build")
	}
	if fn == nil {
		delete(b.hooks, path)
	} else {
		b.hooks[path] = fn
	}
	return nil
}

// ClearHooks removes every hook of the tree.
func ClearHooks(root Module) {
	clear(root.base().hooks)
}

// Param is a trainable tensor with its state_dict name.
type Param struct {
	Name string
	*ag.Var
}

// Params lists every parameter of the tree in state_dict order.
func Params(m Module) []Param {
	var out []Param
	Walk(m, func(path string, sub Module) {
		for _, p := range sub.base().params {
			out = append(out, Param{join(path, p.name), p.v})
		}
	})
	return out
}

// Entry is one tensor of a state dict.
type Entry struct {
	Name   string
	Tensor *tensor.Tensor
	Param  bool // false for buffers
}

// StateDict lists parameters and buffers with their PyTorch names, in
// PyTorch's order (each module's parameters, then its buffers, then its
// children). The tensors are the module's own, not copies.
func StateDict(m Module) []Entry {
	var out []Entry
	Walk(m, func(path string, sub Module) {
		b := sub.base()
		for _, p := range b.params {
			out = append(out, Entry{join(path, p.name), p.v.Value, true})
		}
		for _, t := range b.buffers {
			out = append(out, Entry{join(path, t.name), t.v, false})
		}
	})
	return out
}

// LoadStateDict copies values into the module's parameters and buffers by
// name. Every name of the module must be present with the same shape, and
// nothing else may be; the error lists what is missing, unexpected or
// mis-shaped, so a wrong architecture is reported rather than half-loaded.
// Nothing is changed unless everything matches.
func LoadStateDict(m Module, values map[string]*tensor.Tensor) error {
	entries := StateDict(m)
	var missing, shape []string
	known := map[string]bool{}
	for _, e := range entries {
		known[e.Name] = true
		v, ok := values[e.Name]
		if !ok {
			missing = append(missing, e.Name)
			continue
		}
		if !tensor.SameShape(v.Shape, e.Tensor.Shape) && !(v.Len() == 1 && e.Tensor.Len() == 1) {
			shape = append(shape, fmt.Sprintf("%s: file %v, model %v", quote.Name(e.Name), v.Shape, e.Tensor.Shape))
		}
	}
	var unexpected []string
	for name := range values {
		if !known[name] {
			unexpected = append(unexpected, name)
		}
	}
	sort.Strings(unexpected)
	if len(missing)+len(shape)+len(unexpected) > 0 {
		return fmt.Errorf("nn: state dict does not fit the model: %s", describe(missing, unexpected, shape))
	}
	for _, e := range entries {
		copy(e.Tensor.Data, values[e.Name].Data)
	}
	return nil
}

// quoted quotes each name (see internal/quote).
func quoted(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote.Name(n)
	}
	return q
}

func describe(missing, unexpected, shape []string) string {
	s := ""
	add := func(label string, xs []string) {
		if len(xs) == 0 {
			return
		}
		if s != "" {
			s += "; "
		}
		if len(xs) > 8 {
			s += fmt.Sprintf("%s (%d): [%s] …", label, len(xs), strings.Join(xs[:8], ", "))
		} else {
			s += fmt.Sprintf("%s: [%s]", label, strings.Join(xs, ", "))
		}
	}
	add("missing", quoted(missing))
	add("unexpected", quoted(unexpected)) // names read from a file

	add("wrong shape", shape)
	return s
}

// uniform fills t with U(-bound, bound) from r, as PyTorch's default
// initialisation of weights and biases (kaiming_uniform with a=√5 reduces to
// bound 1/√fan_in).
func uniform(t *tensor.Tensor, bound float64, r *rand.Rand) *tensor.Tensor {
	for i := range t.Data {
		t.Data[i] = float32((r.Float64()*2 - 1) * bound)
	}
	return t
}
