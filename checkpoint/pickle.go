package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"ebyd/internal/memlimit"
	"ebyd/internal/quote"
)

// This file is a restricted pickle machine: it decodes the pickle opcodes of
// protocols 2 to 5 that torch.save emits into inert Go values, and it never
// imports or calls anything. Globals are resolved through an allow-list
// (see torchglobals.go) and calls (REDUCE, NEWOBJ) are only applied to the
// allowed globals, each implemented here in Go.

// Python values. Composite values are pointers so that every value can be a
// Go map key (dict keys, memo sharing) without panicking.
type (
	pyTuple  struct{ items []any }
	pyList   struct{ items []any }
	pyBytes  string
	pyGlobal struct{ module, name string }
	// pyOpaque is a value built from one of the inert data globals (a numpy
	// scalar or array, an argparse.Namespace): kept as a placeholder, never
	// interpreted, and refused if it is where a tensor must be.
	pyOpaque struct{ global string }
	pyDict   struct {
		keys, vals []any
		index      map[any]int
	}
)

func (g *pyGlobal) String() string { return g.module + "." + g.name }

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

// set inserts or replaces k. Composite keys compare by identity, which is
// wrong for Python tuples but harmless: state dict keys are strings.
func (d *pyDict) set(k, v any) {
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

func (d *pyDict) get(k any) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyTypeName names a value's type in error messages.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case *pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyGlobal:
		return v.String()
	case *pyOpaque:
		return v.global
	case *ptTensor:
		return "tensor"
	case *storageRef:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}

// refusedGlobalError reports a pickle global outside the allow-list: the
// file asks for code that is not needed to describe a state_dict.
type refusedGlobalError struct{ global string }

func (e *refusedGlobalError) Error() string {
	if looksLikeModuleClass(e.global) {
		return fmt.Sprintf("refusing pickle global %s: the file looks like a whole model saved with torch.save(model), "+
			"which only Python can rebuild, by running code the file names; ebyd reads state_dicts only: "+
			"load the model in Python and save `torch.save(model.state_dict(), \"model.pt\")`", quote.Name(e.global))
	}
	return fmt.Sprintf("refusing pickle global %s: only state_dict tensors can be loaded "+
		"(this file may be malicious or hold non-tensor objects)", quote.Name(e.global))
}

// looksLikeModuleClass reports whether a refused global is probably the
// class of a network (torch.nn.modules.conv.Conv2d, __main__.Net,
// torchvision.models.resnet.ResNet, mypackage.models.Net): a class name in a
// script, in torch.nn or a model library, or in a module whose path names
// models or nets.
func looksLikeModuleClass(global string) bool {
	i := strings.LastIndexByte(global, '.')
	if i <= 0 || i == len(global)-1 {
		return false
	}
	module, name := global[:i], global[i+1:]
	if c := name[0]; c < 'A' || c > 'Z' {
		return false
	}
	for _, p := range []string{"__main__", "torch.nn", "torchvision", "timm", "transformers"} {
		if module == p || strings.HasPrefix(module, p+".") {
			return true
		}
	}
	for _, part := range strings.Split(strings.ToLower(module), ".") {
		if strings.Contains(part, "model") || strings.Contains(part, "net") {
			return true
		}
	}
	return false
}

// inPickle prefixes err with where it happened, except for a refused
// global, whose message is meant to be read on its own.
func inPickle(where string, err error) error {
	var refused *refusedGlobalError
	if errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}

// unpickler runs one pickle. The hooks give the pickle its meaning: global
// resolves GLOBAL/STACK_GLOBAL (and must refuse unknown names), call applies
// an allowed global to arguments, and persistentLoad resolves BINPERSID.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[int]any
	// built estimates the bytes of Go memory the opcodes so far have built
	// (every value, container slot, dict entry and memo entry, cumulative);
	// run refuses a pickle whose estimate passes pickleBudget.
	built int64

	global         func(module, name string) (any, error)
	call           func(fn any, args []any) (any, error)
	persistentLoad func(pid any) (any, error)
}

// errPickleEnd marks data that end before STOP.
var errPickleEnd = errors.New("pickle ends before STOP (truncated?)")

// maxPickleStack bounds the stack and mark depth; real state dict pickles
// stay in the tens.
const maxPickleStack = 1 << 20

// maxPickleBuilt caps what one pickle may build (unpickler.built), whatever
// its length: a state_dict's pickle builds about 20 bytes per byte of
// pickle (testdata), a few tens of kilobytes per tensor.
const maxPickleBuilt = 512 << 20

// pickleBudget is what a pickle of n bytes may build: 64 MiB plus 64 bytes
// per pickle byte, at most maxPickleBuilt and a quarter of the memory limit
// (internal/memlimit). A hostile pickle that appends an empty dict to a
// list every two bytes builds about 50 per byte, so it is the fixed caps
// that stop a large one.
func pickleBudget(n int) (int64, error) {
	limit, err := memlimit.Limit()
	if err != nil {
		return 0, err
	}
	return min(64<<20+64*int64(n), maxPickleBuilt, limit/4), nil
}

// pickleTooBigError reports a pickle that builds more than its budget.
type pickleTooBigError struct {
	size          int
	built, budget int64
}

func (e *pickleTooBigError) Error() string {
	return fmt.Sprintf("the pickle builds more than %s of objects, over its limit of %s "+
		"(for a %d-byte pickle: 64 MiB + 64 bytes a byte, at most %s and a quarter of the memory limit, %s); "+
		"a state_dict's pickle builds far less: the file is corrupt or hostile",
		memlimit.Bytes(float64(e.built)), memlimit.Bytes(float64(e.budget)), e.size, memlimit.Bytes(maxPickleBuilt), memlimit.Env)
}

// run executes opcodes until STOP and returns the value left on the stack.
// u.pos is left just after STOP, so that consecutive pickles in one stream
// (the legacy torch.save format) can be read one after another.
func (u *unpickler) run() (result any, err error) {
	if u.memo == nil {
		u.memo = map[int]any{}
	}
	budget, err := pickleBudget(len(u.data))
	if err != nil {
		return nil, err
	}
	for {
		if u.pos >= len(u.data) {
			return nil, errPickleEnd
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, inPickle(fmt.Sprintf("pickle opcode 0x%02x at byte %d", op, at), err)
		}
		if len(u.stack) > maxPickleStack || len(u.marks) > maxPickleStack {
			return nil, fmt.Errorf("pickle stack deeper than %d", maxPickleStack)
		}
		if u.built > budget {
			return nil, &pickleTooBigError{size: len(u.data), built: u.built, budget: budget}
		}
		if done {
			if len(u.stack) != 1 || len(u.marks) != 0 {
				return nil, fmt.Errorf("pickle STOP at byte %d with %d values and %d marks on the stack, want 1 and 0", at, len(u.stack), len(u.marks))
			}
			return u.stack[0], nil
		}
	}
}

// Pickle opcodes (Lib/pickle.py).
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opProto          = 0x80
	opNewObj         = 0x81
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
)

// step executes one opcode; it reports true on STOP.
func (u *unpickler) step(op byte) (bool, error) {
	switch op {
	case opStop:
		return true, nil
	case opProto:
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		if b[0] > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", b[0])
		}
	case opFrame:
		// Frames only help buffered readers; the opcodes inside are read as
		// if unframed.
		if _, err := u.read(8); err != nil {
			return false, err
		}
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack) {
			// As in Python: with nothing above the last mark, POP drops it.
			if _, err := u.popMark(); err != nil {
				return false, err
			}
			break
		}
		if _, err := u.pop(); err != nil {
			return false, err
		}
	case opPopMark:
		if _, err := u.popMark(); err != nil {
			return false, err
		}
	case opDup:
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.pushRef(v)

	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		u.push(int64(b[0]))
	case opBinInt2:
		b, err := u.read(2)
		if err != nil {
			return false, err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1, opLong4:
		var n uint64
		if op == opLong1 {
			b, err := u.read(1)
			if err != nil {
				return false, err
			}
			n = uint64(b[0])
		} else {
			b, err := u.read(4)
			if err != nil {
				return false, err
			}
			n = uint64(int32(binary.LittleEndian.Uint32(b)))
		}
		b, err := u.readN(n)
		if err != nil {
			return false, err
		}
		u.built += int64(len(b))
		u.push(decodeLong(b))
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case opBinUnicode, opShortBinUni, opBinUnicode8, opBinString, opShortBinString:
		b, err := u.readSized(op)
		if err != nil {
			return false, err
		}
		u.built += int64(len(b))
		u.push(string(b))
	case opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		b, err := u.readSized(op)
		if err != nil {
			return false, err
		}
		u.built += int64(len(b))
		u.push(pyBytes(b))

	case opEmptyTuple:
		u.push(&pyTuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyTuple{items: items})
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n {
			return false, errors.New("stack underflow")
		}
		items := append([]any(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		u.push(&pyTuple{items: items})
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		l, err := u.topList()
		if err != nil {
			return false, err
		}
		u.built += 16
		l.items = append(l.items, v)
	case opAppends, opAddItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, err := u.topList()
		if err != nil {
			return false, err
		}
		u.built += 16 * int64(len(items))
		l.items = append(l.items, items...)
	case opEmptySet:
		u.push(&pyList{}) // sets are kept as lists: nothing here needs hashing
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case opEmptyDict:
		u.push(newDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, err
		}
		u.push(d)
	case opSetItem:
		if len(u.stack) < 3 {
			return false, errors.New("stack underflow")
		}
		k, v := u.stack[len(u.stack)-2], u.stack[len(u.stack)-1]
		u.stack = u.stack[:len(u.stack)-2]
		d, err := u.topDict()
		if err != nil {
			return false, err
		}
		u.built += 64
		d.set(k, v)
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d, err := u.topDict()
		if err != nil {
			return false, err
		}
		u.built += 32 * int64(len(items))
		if err := setItems(d, items); err != nil {
			return false, err
		}

	case opBinPut, opLongBinPut, opPut:
		idx, err := u.memoIndex(op)
		if err != nil {
			return false, err
		}
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.built += 48
		u.memo[idx] = v
	case opMemoize:
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.built += 48
		u.memo[len(u.memo)] = v
	case opBinGet, opLongBinGet, opGet:
		idx, err := u.memoIndex(op)
		if err != nil {
			return false, err
		}
		v, ok := u.memo[idx]
		if !ok {
			return false, fmt.Errorf("memo key %d not found", idx)
		}
		u.pushRef(v)

	case opGlobal, opInst:
		module, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		g, err := u.global(module, name)
		if err != nil {
			return false, err
		}
		if op == opInst {
			return false, fmt.Errorf("INST of %s is not supported", pyTypeName(g))
		}
		u.push(g)
	case opStackGlobal:
		if len(u.stack) < 2 {
			return false, errors.New("stack underflow")
		}
		module, ok1 := u.stack[len(u.stack)-2].(string)
		name, ok2 := u.stack[len(u.stack)-1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		u.stack = u.stack[:len(u.stack)-2]
		g, err := u.global(module, name)
		if err != nil {
			return false, err
		}
		u.push(g)
	case opReduce:
		if len(u.stack) < 2 {
			return false, errors.New("stack underflow")
		}
		fn, argv := u.stack[len(u.stack)-2], u.stack[len(u.stack)-1]
		u.stack = u.stack[:len(u.stack)-2]
		args, ok := argv.(*pyTuple)
		if !ok {
			return false, fmt.Errorf("REDUCE arguments are a %s, not a tuple", pyTypeName(argv))
		}
		v, err := u.call(fn, args.items)
		if err != nil {
			return false, err
		}
		u.push(v)
	case opNewObj, opNewObjEx:
		n := 2
		if op == opNewObjEx {
			n = 3 // the kwargs dict is dropped: no allowed class takes any
		}
		if len(u.stack) < n {
			return false, errors.New("stack underflow")
		}
		cls, argv := u.stack[len(u.stack)-n], u.stack[len(u.stack)-n+1]
		u.stack = u.stack[:len(u.stack)-n]
		args, ok := argv.(*pyTuple)
		if !ok {
			return false, fmt.Errorf("NEWOBJ arguments are a %s, not a tuple", pyTypeName(argv))
		}
		v, err := u.call(cls, args.items)
		if err != nil {
			return false, err
		}
		u.push(v)
	case opObj:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		if len(items) == 0 {
			return false, errors.New("OBJ without a class")
		}
		v, err := u.call(items[0], items[1:])
		if err != nil {
			return false, err
		}
		u.push(v)
	case opBuild:
		// BUILD sets attributes (__setstate__). The allowed objects carry
		// none that matter (OrderedDict's _metadata holds module versions),
		// so the state is dropped; nothing is ever called.
		if _, err := u.pop(); err != nil {
			return false, err
		}
		if _, err := u.top(); err != nil {
			return false, err
		}
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, errors.New("persistent id in a pickle that should have none")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		u.push(v)
	default:
		return false, fmt.Errorf("unsupported pickle opcode (torch.save does not emit it)")
	}
	return false, nil
}

// push charges every value 16 bytes (its slot), composites 64 more (dicts
// 128) and the items they hold 16 each (64 per dict entry: key, value and
// index);
// strings, integers' bytes, appends and memo entries are charged where they
// are read or made.
func (u *unpickler) push(v any) {
	u.built += 16
	switch v := v.(type) {
	case *pyTuple:
		u.built += 64 + 16*int64(len(v.items))
	case *pyList:
		u.built += 64 + 16*int64(len(v.items))
	case *pyDict:
		u.built += 128 + 64*int64(len(v.keys)) // the struct and its map's header
	case *pyGlobal, *pyOpaque, *ptTensor, *storageRef:
		u.built += 64
	}
	u.stack = append(u.stack, v)
}

// pushRef pushes a value already built (DUP, GET): only its slot is new.
func (u *unpickler) pushRef(v any) {
	u.built += 16
	u.stack = append(u.stack, v)
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack)) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack)) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last MARK and the mark itself.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	if m > len(u.stack) {
		return nil, errors.New("MARK above the stack top")
	}
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) topList() (*pyList, error) {
	v, err := u.top()
	if err != nil {
		return nil, err
	}
	l, ok := v.(*pyList)
	if !ok {
		return nil, fmt.Errorf("append to a %s, not a list", pyTypeName(v))
	}
	return l, nil
}

func (u *unpickler) topDict() (*pyDict, error) {
	v, err := u.top()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("set item on a %s, not a dict", pyTypeName(v))
	}
	return d, nil
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		d.set(items[i], items[i+1])
	}
	return nil
}

// read returns the next n bytes (n is small and fixed).
func (u *unpickler) read(n int) ([]byte, error) {
	return u.readN(uint64(n))
}

// readN returns the next n bytes, checking n against what is left before
// slicing, since n comes from the file.
func (u *unpickler) readN(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, errPickleEnd
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

// readSized reads a length-prefixed string or bytes operand.
func (u *unpickler) readSized(op byte) ([]byte, error) {
	var n uint64
	switch op {
	case opShortBinUni, opShortBinString, opShortBinBytes:
		b, err := u.read(1)
		if err != nil {
			return nil, err
		}
		n = uint64(b[0])
	case opBinUnicode, opBinString, opBinBytes:
		b, err := u.read(4)
		if err != nil {
			return nil, err
		}
		n = uint64(binary.LittleEndian.Uint32(b))
		if op == opBinString && int32(n) < 0 {
			return nil, errors.New("negative string length")
		}
	default:
		b, err := u.read(8)
		if err != nil {
			return nil, err
		}
		n = binary.LittleEndian.Uint64(b)
	}
	return u.readN(n)
}

// readLine reads a newline-terminated text operand.
func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errPickleEnd
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) memoIndex(op byte) (int, error) {
	switch op {
	case opBinPut, opBinGet:
		b, err := u.read(1)
		if err != nil {
			return 0, err
		}
		return int(b[0]), nil
	case opLongBinPut, opLongBinGet:
		b, err := u.read(4)
		if err != nil {
			return 0, err
		}
		return int(binary.LittleEndian.Uint32(b)), nil
	}
	line, err := u.readLine()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(line, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("bad memo index %s", quote.Name(line))
	}
	return int(n), nil
}

// decodeLong decodes a little-endian two's-complement integer (LONG1/LONG4):
// an int64 when it fits, a *big.Int otherwise.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// asInt converts a pickled integer to int64.
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case bool: // Python bools are ints
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
