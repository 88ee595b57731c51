package checkpoint

import (
	"errors"
	"fmt"
	"strings"

	"ebyd/internal/quote"
)

// The globals a torch.save'd state_dict needs, and what each one means.
// Everything else is refused by name: this list is the whole attack surface
// of loading a .pt file.
const (
	globalOrderedDict     = "collections.OrderedDict"
	globalRebuildTensor   = "torch._utils._rebuild_tensor"
	globalRebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
	globalRebuildParam    = "torch._utils._rebuild_parameter"
	globalRebuildParamSt  = "torch._utils._rebuild_parameter_with_state"
	globalRebuildFromType = "torch._tensor._rebuild_from_type_v2"
	globalTensor          = "torch.Tensor"
	globalParameter       = "torch.nn.parameter.Parameter"
)

// inertGlobals are plain data that training scripts save beside the
// state dict ({'state_dict': sd, 'best_acc': numpy.float64(..), 'args':
// argparse.Namespace(..)}). They resolve to placeholders: calling one
// builds another placeholder from nothing, so the rest of the file loads
// and the state dict can be picked out. None of them can run anything, and
// a placeholder where a tensor belongs is still an error.
var inertGlobals = map[string]bool{
	"numpy.core.multiarray.scalar":        true,
	"numpy.core.multiarray._reconstruct":  true,
	"numpy._core.multiarray.scalar":       true, // numpy 2
	"numpy._core.multiarray._reconstruct": true,
	"numpy.ndarray":                       true,
	"numpy.dtype":                         true,
	"_codecs.encode":                      true, // bytes in protocol 2 pickles
	"argparse.Namespace":                  true,
	"copyreg._reconstructor":              true, // how protocol 2 pickles plain objects
	"builtins.object":                     true,
}

// torchGlobal resolves GLOBAL/STACK_GLOBAL. Storage classes and the two
// tensor classes are only markers: nothing ever instantiates them.
func torchGlobal(module, name string) (any, error) {
	full := module + "." + name
	if inertGlobals[full] {
		return &pyOpaque{global: full}, nil
	}
	switch full {
	case globalOrderedDict, globalRebuildTensor, globalRebuildTensorV2, globalRebuildParam,
		globalRebuildParamSt, globalRebuildFromType, globalTensor, globalParameter:
		return &pyGlobal{module, name}, nil
	}
	// torch < 1.12 named the storages of GPU tensors torch.cuda.XStorage.
	if module == "torch" || module == "torch.cuda" {
		if _, ok := storageDTypes[name]; ok {
			return &pyGlobal{module, name}, nil
		}
	}
	return nil, &refusedGlobalError{global: full}
}

// storageDType returns the dtype named by a pickled storage class.
func storageDType(v any) (DType, error) {
	g, ok := v.(*pyGlobal)
	if ok && (g.module == "torch" || g.module == "torch.cuda") {
		if dt, ok := storageDTypes[g.name]; ok {
			return dt, nil
		}
	}
	return "", fmt.Errorf("storage type is %s, not a torch storage class", pyTypeName(v))
}

// storageRef is a storage named by a persistent id: its bytes live in the
// file (data/<key> in a zip) and are read only if a kept tensor uses them.
type storageRef struct {
	key   string
	dtype DType
	numel int64
}

// ptTensor is a tensor view on a storage, as _rebuild_tensor_v2 describes
// it; it is checked when built and materialised later.
type ptTensor struct {
	storage *storageRef
	offset  int64
	shape   []int
	stride  []int64
}

// torchCall applies an allowed global. It never runs anything from the file:
// each case builds inert values.
func torchCall(fn any, args []any) (any, error) {
	if o, ok := fn.(*pyOpaque); ok {
		return &pyOpaque{global: o.global}, nil // arguments are never looked at
	}
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", pyTypeName(fn))
	}
	switch g.String() {
	case globalOrderedDict:
		return newOrderedDict(args)
	case globalRebuildTensorV2, globalRebuildTensor:
		// v2: (storage, offset, size, stride, requires_grad, backward_hooks
		// [, metadata]); v1 lacks the last ones. Gradients and hooks do not
		// matter for weights.
		if len(args) < 4 {
			return nil, fmt.Errorf("%s needs at least 4 arguments, got %d", g, len(args))
		}
		return rebuildTensor(args[0], args[1], args[2], args[3])
	case globalRebuildParam, globalRebuildParamSt:
		// (data, requires_grad, backward_hooks[, state]): a Parameter is its data.
		if len(args) < 1 {
			return nil, fmt.Errorf("%s needs arguments", g)
		}
		t, ok := args[0].(*ptTensor)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, not a tensor", g, pyTypeName(args[0]))
		}
		return t, nil
	case globalRebuildFromType:
		// (func, new_type, args, state): torch 2 pickles tensor subclasses
		// this way. Only plain tensors and Parameters are accepted, and func
		// must itself be a tensor rebuild.
		if len(args) < 3 {
			return nil, fmt.Errorf("%s needs 3 arguments, got %d", g, len(args))
		}
		inner, ok := args[0].(*pyGlobal)
		if !ok || !strings.HasPrefix(inner.String(), "torch._utils._rebuild_") {
			return nil, fmt.Errorf("%s with function %s", g, pyTypeName(args[0]))
		}
		typ, ok := args[1].(*pyGlobal)
		if !ok || (typ.String() != globalTensor && typ.String() != globalParameter) {
			return nil, fmt.Errorf("%s with type %s", g, pyTypeName(args[1]))
		}
		innerArgs, ok := args[2].(*pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s with arguments %s, not a tuple", g, pyTypeName(args[2]))
		}
		return torchCall(inner, innerArgs.items)
	}
	return nil, fmt.Errorf("pickle global %s cannot be called", g)
}

// newOrderedDict is OrderedDict() or OrderedDict(pairs).
func newOrderedDict(args []any) (any, error) {
	d := newDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("OrderedDict with %d arguments", len(args))
	}
	var pairs []any
	switch a := args[0].(type) {
	case *pyList:
		pairs = a.items
	case *pyTuple:
		pairs = a.items
	default:
		return nil, fmt.Errorf("OrderedDict of a %s", pyTypeName(args[0]))
	}
	for _, p := range pairs {
		var kv []any
		switch p := p.(type) {
		case *pyTuple:
			kv = p.items
		case *pyList:
			kv = p.items
		}
		if len(kv) != 2 {
			return nil, errors.New("OrderedDict item is not a pair")
		}
		d.set(kv[0], kv[1])
	}
	return d, nil
}

// rebuildTensor checks a view (offset, sizes, strides in elements) against
// its storage, so that materialising it later cannot read out of bounds.
func rebuildTensor(storage, offset, size, stride any) (*ptTensor, error) {
	st, ok := storage.(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", pyTypeName(storage))
	}
	off, ok := asInt(offset)
	if !ok || off < 0 {
		return nil, fmt.Errorf("bad storage offset %s", quote.Value(offset))
	}
	sizes, err := intTuple(size, "size")
	if err != nil {
		return nil, err
	}
	strides, err := intTuple(stride, "stride")
	if err != nil {
		return nil, err
	}
	if len(sizes) != len(strides) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", sizes, strides)
	}
	shape := make([]int, len(sizes))
	for i, d := range sizes {
		if d < 0 || int64(int(d)) != d {
			return nil, fmt.Errorf("bad size %v", sizes)
		}
		shape[i] = int(d)
	}
	n, ok := numel(shape)
	if !ok {
		return nil, fmt.Errorf("size %v is too large", sizes)
	}
	if n > 0 {
		// The last element read is offset + Σ (size-1)·stride; every term
		// is checked against the storage length before adding, so nothing
		// overflows.
		last := off
		for i, s := range strides {
			if s < 0 {
				return nil, fmt.Errorf("negative stride %v", strides)
			}
			if sizes[i] == 1 || s == 0 {
				continue
			}
			if sizes[i]-1 > st.numel/s {
				last = st.numel
				break
			}
			last += (sizes[i] - 1) * s
			if last >= st.numel {
				break
			}
		}
		if last >= st.numel {
			return nil, fmt.Errorf("tensor view (offset %d, size %v, stride %v) reaches past its storage of %d elements",
				off, sizes, strides, st.numel)
		}
	}
	return &ptTensor{storage: st, offset: off, shape: shape, stride: strides}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(*pyTuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is a %s, not a tuple", what, pyTypeName(v))
	}
	out := make([]int64, len(t.items))
	for i, x := range t.items {
		n, ok := asInt(x)
		if !ok {
			return nil, fmt.Errorf("tensor %s holds a %s", what, pyTypeName(x))
		}
		out[i] = n
	}
	return out, nil
}
