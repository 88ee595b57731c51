package checkpoint

import (
	"encoding/binary"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// runPickle runs data with the torch allow-list and a persistent loader that
// accepts zip-style storage ids.
func runPickle(data []byte) (any, error) {
	refs := map[string]*storageRef{}
	u := &unpickler{
		data: data, global: torchGlobal, call: torchCall,
		persistentLoad: func(pid any) (any, error) { return zipPersistentLoad(pid, refs) },
	}
	return u.run()
}

// pk concatenates opcodes and operands.
func pk(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		case rune: // opcode constants written as characters
			b = append(b, byte(p))
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		}
	}
	return b
}

func binUnicode(s string) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte{opBinUnicode}, uint32(len(s))), s...)
}

func TestPickleScalars(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want any
	}{
		{"none", pk(opProto, 2, opNone, opStop), nil},
		{"true", pk(opNewTrue, opStop), true},
		{"binint", pk(opBinInt, "\xfe\xff\xff\xff", opStop), int64(-2)},
		{"binint1", pk(opBinInt1, 200, opStop), int64(200)},
		{"binint2", pk(opBinInt2, "\x01\x02", opStop), int64(0x0201)},
		{"long1 empty", pk(opLong1, 0, opStop), int64(0)},
		{"long1 -1", pk(opLong1, 1, 0xff, opStop), int64(-1)},
		{"long1 2^40", pk(opLong1, 6, "\x00\x00\x00\x00\x00\x01", opStop), int64(1 << 40)},
		{"long4", pk(opLong4, "\x02\x00\x00\x00", "\x00\x80", opStop), int64(-32768)},
		{"binfloat", pk(opBinFloat, "\x3f\xf8\x00\x00\x00\x00\x00\x00", opStop), 1.5},
		{"short str", pk(opShortBinUni, 2, "hi", opStop), "hi"},
		{"str8", pk(opBinUnicode8, "\x01\x00\x00\x00\x00\x00\x00\x00", "x", opStop), "x"},
		{"bytes", pk(opShortBinBytes, 1, "\x00", opStop), pyBytes("\x00")},
		{"frame", pk(opProto, 4, opFrame, "\x02\x00\x00\x00\x00\x00\x00\x00", opNewFalse, opStop), false},
		{"memo", pk(opBinInt1, 7, opBinPut, 3, opPop, opBinGet, 3, opStop), int64(7)},
		{"memoize", pk(opBinInt1, 7, opMemoize, opPop, opLongBinGet, "\x00\x00\x00\x00", opStop), int64(7)},
		{"text memo", pk(opBinInt1, 5, opPut, "12\n", opPop, opGet, "12\n", opStop), int64(5)},
		{"dup", pk(opBinInt1, 1, opDup, opPop, opStop), int64(1)},
		{"pop mark", pk(opBinInt1, 1, opMark, opBinInt1, 2, opBinInt1, 3, opPopMark, opStop), int64(1)},
	}
	for _, c := range cases {
		got, err := runPickle(c.data)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %#v, want %#v", c.name, got, c.want)
		}
	}
}

func TestPickleBigLong(t *testing.T) {
	// -(2^72) as 10 little-endian two's-complement bytes.
	got, err := runPickle(pk(opLong1, 10, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff", opStop))
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 72))
	if b, ok := got.(*big.Int); !ok || b.Cmp(want) != 0 {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPickleContainers(t *testing.T) {
	// {'list': [1, 2, 3], 'tuple': (1, 2), 'od': OrderedDict([('a', None)])}
	data := pk(opProto, 2, opEmptyDict, opMark,
		binUnicode("list"), opEmptyList, opMark, opBinInt1, 1, opBinInt1, 2, opAppends, opBinInt1, 3, opAppend,
		binUnicode("tuple"), opBinInt1, 1, opBinInt1, 2, opTuple2,
		binUnicode("od"), opGlobal, "collections\nOrderedDict\n", opMark, opMark, binUnicode("a"), opNone, opTuple, opList, opTuple1, opReduce,
		opSetItems, opStop)
	got, err := runPickle(data)
	if err != nil {
		t.Fatal(err)
	}
	d := got.(*pyDict)
	l, _ := d.get("list")
	if items := l.(*pyList).items; len(items) != 3 || items[2] != int64(3) {
		t.Errorf("list = %v", items)
	}
	tup, _ := d.get("tuple")
	if items := tup.(*pyTuple).items; len(items) != 2 || items[1] != int64(2) {
		t.Errorf("tuple = %v", items)
	}
	od, _ := d.get("od")
	if v, ok := od.(*pyDict).get("a"); !ok || v != nil {
		t.Errorf("od = %v", od)
	}
}

func TestPickleErrors(t *testing.T) {
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "truncated", nil},
		{"no stop", "truncated", pk(opNone)},
		{"cut operand", "truncated", pk(opBinInt, "\x00\x00")},
		{"cut string", "truncated", pk(opBinUnicode, "\x10\x00\x00\x00", "abc")},
		{"huge string", "truncated", pk(opBinUnicode8, "\xff\xff\xff\xff\xff\xff\xff\xff", "abc")},
		{"negative long4", "truncated", pk(opLong4, "\xff\xff\xff\xff", opStop)},
		{"two values at stop", "2 values", pk(opNone, opNone, opStop)},
		{"empty at stop", "0 values", pk(opStop)},
		{"mark at stop", "1 marks", pk(opNone, opMark, opStop)},
		{"underflow", "stack underflow", pk(opPop, opStop)},
		{"tuple2 underflow", "stack underflow", pk(opNone, opTuple2, opStop)},
		{"setitem underflow", "stack underflow", pk(opEmptyDict, opNone, opSetItem, opStop)},
		{"pop across mark", "stack underflow", pk(opNone, opMark, opAppend, opStop)},
		{"tuple without mark", "no MARK", pk(opNone, opTuple, opStop)},
		{"missing memo", "memo key 9", pk(opBinGet, 9, opStop)},
		{"put on empty", "stack underflow", pk(opBinPut, 0, opStop)},
		{"append to dict", "not a list", pk(opEmptyDict, opNone, opAppend, opStop)},
		{"setitem on list", "not a dict", pk(opEmptyList, opNone, opNone, opSetItem, opStop)},
		{"odd setitems", "odd number", pk(opEmptyDict, opMark, opNone, opSetItems, opStop)},
		{"unknown opcode", "unsupported pickle opcode", pk(0xff, opStop)},
		{"text int", "unsupported pickle opcode", pk('I', "1\n", opStop)},
		{"protocol 6", "unsupported pickle protocol", pk(opProto, 6, opStop)},
		{"call a string", "cannot call a str", pk(binUnicode("x"), opEmptyTuple, opReduce, opStop)},
		{"reduce args not tuple", "not a tuple", pk(opGlobal, "collections\nOrderedDict\n", opNone, opReduce, opStop)},
		{"call a storage", "cannot be called", pk(opGlobal, "torch\nFloatStorage\n", opEmptyTuple, opReduce, opStop)},
		{"newobj of a storage", "cannot be called", pk(opGlobal, "torch\nFloatStorage\n", opEmptyTuple, opNewObj, opStop)},
		{"stack global of ints", "two strings", pk(opBinInt1, 1, opBinInt1, 2, opStackGlobal, opStop)},
		{"persistent id not a tuple", "persistent id", pk(opNone, opBinPersID, opStop)},
		{"persistent id of module", "pickled module", pk(binUnicode("module"), opNone, opNone, opTuple3, opBinPersID, opStop)},
		{"rebuild with a str storage", "tensor storage is a str", pk(opGlobal, "torch._utils\n_rebuild_tensor_v2\n",
			opMark, binUnicode("s"), opBinInt1, 0, opEmptyTuple, opEmptyTuple, opNewFalse, opNone, opTuple, opReduce, opStop)},
		{"from_type with a bad class", "with type", pk(opGlobal, "torch._tensor\n_rebuild_from_type_v2\n",
			opMark, opGlobal, "torch._utils\n_rebuild_tensor_v2\n", opGlobal, "collections\nOrderedDict\n", opEmptyTuple, opNone, opTuple, opReduce, opStop)},
	}
	for _, c := range cases {
		_, err := runPickle(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestPickleRefusesGlobals(t *testing.T) {
	cases := []struct {
		global string
		data   []byte
	}{
		{"os.system", pk(opProto, 2, opGlobal, "os\nsystem\n", binUnicode("true"), opTuple1, opReduce, opStop)},
		{"posix.system", pk(opGlobal, "posix\nsystem\n", opStop)},
		{"builtins.exec", pk(opProto, 4, opShortBinUni, 8, "builtins", opShortBinUni, 4, "exec", opStackGlobal, opStop)},
		{"__builtin__.getattr", pk(opGlobal, "__builtin__\ngetattr\n", opStop)},
		{"subprocess.Popen", pk(opMark, opInst, "subprocess\nPopen\n", opStop)},
		{"torch.load", pk(opGlobal, "torch\nload\n", opStop)},
		{"torch.FloatStorage.__new__", pk(opGlobal, "torch.FloatStorage\n__new__\n", opStop)},
		{"numpy.load", pk(opGlobal, "numpy\nload\n", opStop)},
		{"copyreg._reconstructor(os.system)", nil}, // see TestInertGlobalsStayInert
		{"torch._utils._rebuild_device_tensor_from_numpy", pk(opGlobal, "torch._utils\n_rebuild_device_tensor_from_numpy\n", opStop)},
	}
	for _, c := range cases {
		if c.data == nil {
			continue
		}
		_, err := runPickle(c.data)
		want := `refusing pickle global "` + c.global + `"`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want it to start with %s", c.global, err, want)
		}
	}
}

// A refused class of a network says how to save its state_dict instead;
// other refused globals do not.
func TestWholeModelRefusalSaysHowToSaveStateDict(t *testing.T) {
	const howTo = `torch.save(model.state_dict(), "model.pt")`
	for global, module := range map[string]bool{
		"__main__.Net":                               true,
		"torchvision.models.resnet.ResNet":           true,
		"torch.nn.modules.container.Sequential":      true,
		"torch.nn.modules.conv.Conv2d":               true,
		"timm.models.vision_transformer.VisionTr":    true,
		"mypackage.models.ResNet18":                  true,
		"backdoorbench.preact_resnet.PreActResNet18": true,
		"os.system":           false,
		"subprocess.Popen":    false,
		"builtins.eval":       false,
		"__main__.helper":     false,
		"torch.load":          false,
		"collections.Counter": false,
	} {
		i := strings.LastIndexByte(global, '.')
		_, err := runPickle(pk(opGlobal, global[:i]+"\n"+global[i+1:]+"\n", opStop))
		if err == nil {
			t.Fatalf("%s: loaded", global)
		}
		if got := strings.Contains(err.Error(), howTo); got != module {
			t.Errorf("%s: %v; want the state_dict advice: %v", global, err, module)
		}
		if !strings.HasPrefix(err.Error(), `refusing pickle global "`+global+`"`) {
			t.Errorf("%s: %v", global, err)
		}
	}
}

// tensorPickle is the pickle of _rebuild_tensor_v2 on a float storage of n
// elements with the given view.
func tensorPickle(n, offset int64, size, stride []int) []byte {
	return pk(opProto, 2, tensorOps("0", n, offset, size, stride), opStop)
}

func TestCUDAStorageOfOldTorch(t *testing.T) {
	b := tensorPickle(2, 0, []int{2}, []int{1})
	b = []byte(strings.Replace(string(b), "ctorch\nFloatStorage\n", "ctorch.cuda\nHalfStorage\n", 1))
	v, err := runPickle(b)
	if err != nil {
		t.Fatal(err)
	}
	if dt := v.(*ptTensor).storage.dtype; dt != F16 {
		t.Errorf("dtype %s, want F16", dt)
	}
}

func TestRebuildTensorChecksViews(t *testing.T) {
	cases := []struct {
		name         string
		n, off       int64
		size, stride []int
		want         string // "" for success
	}{
		{"contiguous", 6, 0, []int{2, 3}, []int{3, 1}, ""},
		{"transposed", 6, 0, []int{3, 2}, []int{1, 3}, ""},
		{"offset", 6, 4, []int{2}, []int{1}, ""},
		{"expanded", 2, 0, []int{1000, 2}, []int{0, 1}, ""},
		{"empty anywhere", 0, 99, []int{0, 5}, []int{5, 1}, ""},
		{"scalar", 1, 0, []int{}, []int{}, ""},
		{"past the end", 6, 1, []int{2, 3}, []int{3, 1}, "reaches past"},
		{"offset past end", 6, 6, []int{}, []int{}, "reaches past"},
		{"huge stride", 6, 0, []int{2}, []int{1 << 62}, "reaches past"},
		{"huge size", 6, 0, []int{1 << 20, 1 << 20}, []int{0, 0}, ""},
		{"overflowing size", 6, 0, []int{1 << 40, 1 << 40, 1 << 40}, []int{0, 0, 0}, "too large"},
		{"negative stride", 6, 5, []int{2}, []int{-1}, "negative stride"},
		{"negative size", 6, 0, []int{-2}, []int{1}, "bad size"},
		{"negative offset", 6, -1, []int{1}, []int{1}, "bad storage offset"},
		{"rank mismatch", 6, 0, []int{2, 3}, []int{1}, "differ in length"},
	}
	for _, c := range cases {
		v, err := runPickle(tensorPickle(c.n, c.off, c.size, c.stride))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && v.(*ptTensor) == nil:
			t.Errorf("%s: no tensor", c.name)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestGatherMaterialisesViews(t *testing.T) {
	raw, _ := encode(nil, F32, []float32{0, 1, 2, 3, 4, 5})
	st := &storageRef{key: "0", dtype: F32, numel: 6}
	cases := []struct {
		off    int64
		size   []int
		stride []int64
		want   []float32
	}{
		{0, []int{2, 3}, []int64{3, 1}, []float32{0, 1, 2, 3, 4, 5}},
		{0, []int{3, 2}, []int64{1, 3}, []float32{0, 3, 1, 4, 2, 5}},
		{1, []int{2, 2}, []int64{3, 1}, []float32{1, 2, 4, 5}},
		{2, []int{3, 2}, []int64{0, 1}, []float32{2, 3, 2, 3, 2, 3}},
		{5, []int{}, []int64{}, []float32{5}},
		{0, []int{2, 1, 3}, []int64{3, 99, 1}, []float32{0, 1, 2, 3, 4, 5}},
	}
	for i, c := range cases {
		dst := make([]float32, len(c.want))
		gather(&ptTensor{storage: st, offset: c.off, shape: c.size, stride: c.stride}, raw, binary.LittleEndian, dst)
		if !slices.Equal(dst, c.want) {
			t.Errorf("case %d: got %v, want %v", i, dst, c.want)
		}
	}
}

// TestInertGlobalsStayInert: data globals saved beside a state dict (numpy
// scalars, argparse.Namespace through copyreg) become placeholders, and a
// code global passed to one of them is still refused.
func TestInertGlobalsStayInert(t *testing.T) {
	v, err := runPickle(pk(opProto, 2, opGlobal, "numpy.core.multiarray\nscalar\n",
		binUnicode("anything"), opTuple1, opReduce, opStop))
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := v.(*pyOpaque); !ok || o.global != "numpy.core.multiarray.scalar" {
		t.Fatalf("got %#v, want a numpy scalar placeholder", v)
	}
	_, err = runPickle(pk(opProto, 2, opGlobal, "copyreg\n_reconstructor\n",
		opGlobal, "os\nsystem\n", opTuple1, opReduce, opStop))
	if err == nil || !strings.HasPrefix(err.Error(), `refusing pickle global "os.system"`) {
		t.Fatalf("copyreg._reconstructor(os.system): error %v, want os.system refused", err)
	}
	d := newDict()
	d.set("w", &ptTensor{})
	d.set("acc", &pyOpaque{global: "numpy.core.multiarray.scalar"})
	if _, err := findStateDict(d); err == nil || !strings.Contains(err.Error(), "numpy.core.multiarray.scalar") {
		t.Fatalf("state dict with a numpy entry: error %v, want it named", err)
	}
}
