package models

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/checkpoint"
	"ebyd/nn"
	"ebyd/tensor"
)

// fixture is one PyTorch parity file written by tools/parity/gen.py.
type fixture struct {
	sd   *checkpoint.StateDict
	meta map[string]string
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	sd, meta, err := checkpoint.ReadSafetensors(filepath.Join("testdata", "parity_"+name+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{sd, meta}
}

func (f fixture) get(t *testing.T, key string) *tensor.Tensor {
	t.Helper()
	v, ok := f.sd.Get(key)
	if !ok {
		t.Fatalf("fixture has no %q", key)
	}
	return v
}

func (f fixture) prefixed(prefix string) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, n := range f.sd.Names() {
		if strings.HasPrefix(n, prefix) {
			v, _ := f.sd.Get(n)
			out[strings.TrimPrefix(n, prefix)] = v
		}
	}
	return out
}

func (f fixture) labels(t *testing.T) []int {
	l := f.get(t, "labels")
	out := make([]int, l.Len())
	for i, v := range l.Data {
		out[i] = int(v)
	}
	return out
}

// closeTo compares with a tolerance of tol relative to the largest magnitude
// of the reference tensor (so near-zero elements of a tensor are not held to
// a relative bound float32 cannot meet), and at least floor absolute (for
// tensors that are zero up to rounding, such as the bias of a convolution
// followed by training-mode BatchNorm).
func closeTo(t *testing.T, what string, got, want *tensor.Tensor, tol, floor float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape, want.Shape) && got.Len() != want.Len() {
		t.Fatalf("%s: shape %v, PyTorch %v", what, got.Shape, want.Shape)
	}
	var scale float64
	for _, v := range want.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	bound := math.Max(tol*scale, floor)
	for i := range want.Data {
		if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > bound || math.IsNaN(float64(got.Data[i])) {
			t.Fatalf("%s[%d]: got %g, PyTorch %g (|diff| %.3g > %.3g)", what, i, got.Data[i], want.Data[i], d, bound)
		}
	}
}

var parityModels = []struct {
	name string // the fixture; the architecture is arch, or name when empty
	arch string
	cfg  Config
}{
	{"mnistnet", "", Config{InChannels: 1, NumClasses: 10, InputSize: 28, Width: 4}},
	{"resnet18", "", Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 4}},
	{"preactresnet18", "", Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 4}},
	{"preactresnet18_nofinalbn", "preactresnet18", Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 4, NoFinalBN: true}},
	{"vgg16", "", Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 4}},
	{"mobilenetv2", "", Config{InChannels: 3, NumClasses: 10, InputSize: 16, Width: 4}},
	{"resnet18_tv", "resnet18-tv", Config{InChannels: 3, NumClasses: 10, InputSize: 64, Width: 4}},
}

// TestPyTorchParity checks logits, loss, parameter and input gradients, and
// BatchNorm running statistics of every model against PyTorch 1.13, in
// training and evaluation mode.
func TestPyTorchParity(t *testing.T) {
	const tol = 1e-4
	for _, pm := range parityModels {
		for _, mode := range []string{"train", "eval"} {
			t.Run(pm.name+"/"+mode, func(t *testing.T) {
				f := loadFixture(t, pm.name)
				m, err := New(pm.arch, pm.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := nn.LoadStateDict(m, f.prefixed("param.")); err != nil {
					t.Fatal(err)
				}
				nn.SetTraining(m, mode == "train")
				nn.Walk(m, func(_ string, sub nn.Module) {
					if d, ok := sub.(*nn.Dropout); ok {
						d.P = 0 // the fixture's train mode runs without dropout
					}
				})
				// Gradients that are zero up to rounding are held to 1e-5 of the
				// largest gradient of the model.
				var gmax float64
				for _, g := range f.prefixed(mode + ".grad.") {
					for _, v := range g.Data {
						gmax = math.Max(gmax, math.Abs(float64(v)))
					}
				}
				floor := 1e-5 * gmax
				x := ag.NewVar(f.get(t, "input").Clone(), true)
				logits := m.Forward(x)
				closeTo(t, mode+".logits", logits.Value, f.get(t, mode+".logits"), tol, floor)
				loss := ag.CrossEntropy(logits, f.labels(t))
				closeTo(t, mode+".loss", loss.Value, f.get(t, mode+".loss"), tol, floor)
				ag.Backward(loss)
				closeTo(t, mode+".grad.input", x.Grad, f.get(t, mode+".grad.input"), tol, floor)
				for _, p := range nn.Params(m) {
					closeTo(t, mode+".grad."+p.Name, p.Grad, f.get(t, mode+".grad."+p.Name), tol, floor)
				}
				if mode == "train" {
					for name, want := range f.prefixed("train.buffer.") {
						got, ok := stateTensor(m, name)
						if !ok {
							t.Fatalf("model has no buffer %s", name)
						}
						closeTo(t, "buffer "+name, got, want, tol, floor)
					}
				}
			})
		}
	}
}

// TestTorchvisionResNet18PT loads the file torch.save(model.state_dict())
// wrote for torchvision's ResNet-18 class (tools/parity/gen_tv.py) and
// checks the logits against PyTorch's in evaluation mode.
func TestTorchvisionResNet18PT(t *testing.T) {
	sd, err := checkpoint.Load(filepath.Join("testdata", "resnet18_tv_w4.pt"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New("resnet18-tv", Config{InChannels: 3, NumClasses: 10, InputSize: 64, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*tensor.Tensor{}
	for _, e := range sd.Entries {
		in[e.Name] = e.Tensor
	}
	if err := nn.LoadStateDict(m, in); err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(m, false)
	f := loadFixture(t, "resnet18_tv")
	want := f.get(t, "eval.logits")
	got := m.Forward(ag.NewVar(f.get(t, "input").Clone(), false)).Value
	var worst float64
	for i := range want.Data {
		worst = math.Max(worst, math.Abs(float64(got.Data[i]-want.Data[i])))
	}
	t.Logf("max |logit - PyTorch| = %.3g over %v", worst, want.Shape)
	if worst > 1e-4 || math.IsNaN(worst) {
		t.Errorf("max |logit - PyTorch| = %.3g > 1e-4", worst)
	}
}

func stateTensor(m nn.Module, name string) (*tensor.Tensor, bool) {
	for _, e := range nn.StateDict(m) {
		if e.Name == name {
			return e.Tensor, true
		}
	}
	return nil, false
}

// TestStateDictNamesMatchPyTorch checks the full-width models have exactly the
// PyTorch key sets (the fixtures hold the same names at reduced width).
func TestStateDictNamesMatchPyTorch(t *testing.T) {
	for _, pm := range parityModels {
		f := loadFixture(t, pm.name)
		want := f.prefixed("param.")
		cfg := pm.cfg
		cfg.Width = 0
		m, err := New(pm.arch, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := nn.StateDict(m)
		if len(got) != len(want) {
			t.Errorf("%s: %d state entries, PyTorch %d", pm.name, len(got), len(want))
		}
		for _, e := range got {
			if _, ok := want[e.Name]; !ok {
				t.Errorf("%s: entry %s not in PyTorch's state_dict", pm.name, e.Name)
			}
		}
	}
}

func ExampleNew() {
	m, _ := New("resnet18", Config{InChannels: 3, NumClasses: 10, InputSize: 32})
	var n int
	for _, p := range nn.Params(m) {
		n += p.Value.Len()
	}
	fmt.Println(n, len(nn.StateDict(m)))
	// Output: 11173962 122
}

func init() {
	for i := range parityModels {
		if parityModels[i].arch == "" {
			parityModels[i].arch = parityModels[i].name
		}
	}
}

// TestTorchvisionMobileNetV2PT loads torchvision's MobileNetV2 (width_mult
// 0.25: stem width 8) saved in float16 and checks the logits against
// PyTorch's from the same float16 weights, in evaluation and training mode
// (dropout off).
func TestTorchvisionMobileNetV2PT(t *testing.T) {
	sd, err := checkpoint.Load(filepath.Join("testdata", "mobilenetv2_tv_w8_fp16.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := sd.Lookup("classifier.1.weight"); e.DType != checkpoint.F16 {
		t.Fatalf("classifier.1.weight is %s, want F16", e.DType)
	}
	io, _, err := checkpoint.ReadSafetensors(filepath.Join("testdata", "mobilenetv2_tv_logits.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"eval", "train"} {
		m, err := New("mobilenetv2-tv", Config{InChannels: 3, NumClasses: 10, InputSize: 48, Width: 8})
		if err != nil {
			t.Fatal(err)
		}
		in := map[string]*tensor.Tensor{}
		for _, e := range sd.Entries {
			in[e.Name] = e.Tensor
		}
		if err := nn.LoadStateDict(m, in); err != nil {
			t.Fatal(err)
		}
		nn.SetTraining(m, mode == "train")
		nn.Walk(m, func(_ string, sub nn.Module) {
			if d, ok := sub.(*nn.Dropout); ok {
				d.P = 0
			}
		})
		x, _ := io.Get("input")
		want, _ := io.Get(mode + ".logits")
		got := m.Forward(ag.NewVar(x.Clone(), false)).Value
		var worst float64
		for i := range want.Data {
			worst = math.Max(worst, math.Abs(float64(got.Data[i]-want.Data[i])))
		}
		t.Logf("%s: max |logit - PyTorch| = %.3g over %v", mode, worst, want.Shape)
		// Training-mode BatchNorm over the last 2×2 maps of 3 images
		// amplifies rounding: there the bound is relative to the largest
		// logit, as in TestPyTorchParity.
		closeTo(t, mode+".logits", got, want, 1e-4, 0)
	}
}

// TestTorchvisionVGG16 checks vgg16-tv and vgg16bn-tv against torchvision's
// VGG class (channels and hidden units × 1/64) in evaluation and training
// mode (dropout off).
func TestTorchvisionVGG16(t *testing.T) {
	for _, name := range []string{"vgg16_tv", "vgg16bn_tv"} {
		f := loadFixture(t, name)
		for _, mode := range []string{"eval", "train"} {
			m, err := New(strings.ReplaceAll(name, "_", "-"), Config{InChannels: 3, NumClasses: 10, InputSize: 64, Width: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := nn.LoadStateDict(m, f.prefixed("param.")); err != nil {
				t.Fatal(err)
			}
			nn.SetTraining(m, mode == "train")
			nn.Walk(m, func(_ string, sub nn.Module) {
				if d, ok := sub.(*nn.Dropout); ok {
					d.P = 0
				}
			})
			want := f.get(t, mode+".logits")
			got := m.Forward(ag.NewVar(f.get(t, "input").Clone(), false)).Value
			var worst float64
			for i := range want.Data {
				worst = math.Max(worst, math.Abs(float64(got.Data[i]-want.Data[i])))
			}
			t.Logf("%s %s: max |logit - PyTorch| = %.3g", name, mode, worst)
			closeTo(t, name+" "+mode+".logits", got, want, 1e-4, 0)
		}
	}
}
