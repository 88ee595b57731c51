package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"ebyd/checkpoint"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// CheckpointSuffix names the folder a training run keeps its checkpoints in
// while it trains: beside its run folder, OUT.ckpt. The run writes one file
// per model it trains (train.safetensors; surrogate.safetensors for attacks
// computed on a clean surrogate model) atomically at the end of every epoch,
// and removes the folder once the run folder is saved.
const CheckpointSuffix = ".ckpt"

// checkpointFormat tags the checkpoint files.
const checkpointFormat = "ebyd-checkpoint/1"

// CheckpointDir is the checkpoint folder of the training run writing out.
func CheckpointDir(out string) string { return filepath.Clean(out) + CheckpointSuffix }

// checkpointer writes (and, resuming, reads) a training run's checkpoints.
type checkpointer struct {
	dir    string
	resume bool
	// cleared: a fresh run removed the checkpoints an earlier, interrupted
	// run left (at its first write, so that a run started without --resume
	// by mistake can still be stopped before it loses them).
	cleared bool
	// stopAfter, when positive, fails the run after the checkpoint of that
	// epoch (1-based) is written, as a kill would: tests.
	stopAfter int
	stopLabel string // "" for any model
}

// errTestStop is what stopAfter fails with.
var errTestStop = errors.New("stopped after the checkpoint (test)")

// ckptState is a checkpoint's metadata besides the tensors.
type ckptState struct {
	Label  string          `json:"label"`
	Config json.RawMessage `json:"config"` // the TrainConfig that trains the model
	Epochs int             `json:"epochs_done"`
	Loss   float64         `json:"loss"` // the last epoch's statistics (reported when no epoch is left)
	Acc    float64         `json:"acc"`
	// Steps holds each parameter's optimizer state: -1 for none, else its
	// step count (Adam; 0 for SGD) and its buffers are the tensors
	// optim.NAME.K.
	Steps []int `json:"optim_steps"`
	// Rng holds the state of each dropout's generator, by module path.
	Rng map[string][]byte `json:"rng,omitempty"`
	// Engine is the process that wrote the checkpoint: another GOMAXPROCS,
	// engine or build continues the run, but not bit-identically.
	Engine Engine `json:"engine"`
}

func (c *checkpointer) path(label string) string { return filepath.Join(c.dir, label+".safetensors") }

// ckptLabels are the models a training run checkpoints: the only files
// (with atomicfile's temporary files) it ever removes from the folder, so
// that a directory of that name holding anything else keeps it.
var ckptLabels = []string{"surrogate", "train"}

// exists reports whether the folder holds a checkpoint.
func (c *checkpointer) exists() bool {
	for _, l := range ckptLabels {
		if _, err := os.Lstat(c.path(l)); err == nil {
			return true
		}
	}
	return false
}

// check reports a checkpoint folder that cannot be used before any
// training: a file, not a directory, of that name.
func (c *checkpointer) check() error {
	st, err := os.Lstat(c.dir)
	if err == nil && !st.IsDir() {
		return fmt.Errorf("cannot keep the training checkpoints in %s: a file of that name exists", c.dir)
	}
	return nil
}

// clear removes the checkpoints, and the folder when nothing else is in it.
func (c *checkpointer) clear() error {
	for _, l := range ckptLabels {
		if err := os.Remove(c.path(l)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		tmps, _ := filepath.Glob(filepath.Join(c.dir, "."+l+".safetensors.tmp-*"))
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	if entries, err := os.ReadDir(c.dir); err == nil && len(entries) == 0 {
		return os.Remove(c.dir)
	}
	return nil
}

// save writes the checkpoint of model (trained by cfg under label) after
// epochs epochs.
func (c *checkpointer) save(label string, cfg []byte, model nn.Module, opt optim.Optimizer, epochs int, st fitStats) error {
	so, ok := opt.(optim.Stateful)
	if !ok {
		return fmt.Errorf("checkpoint: the optimizer %T cannot save its state", opt)
	}
	if !slices.Contains(ckptLabels, label) {
		return fmt.Errorf("checkpoint: unknown model label %q", label)
	}
	if !c.resume && !c.cleared {
		if err := c.clear(); err != nil {
			return err
		}
		c.cleared = true
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	meta := ckptState{Label: label, Config: cfg, Epochs: epochs, Loss: st.loss, Acc: st.acc, Rng: map[string][]byte{}, Engine: CurrentEngine()}
	sd := &checkpoint.StateDict{}
	for _, e := range StateDict(model).Entries {
		e.Name = "model." + e.Name
		sd.Entries = append(sd.Entries, e)
	}
	params := nn.Params(model)
	states := so.State()
	if len(states) != len(params) {
		return fmt.Errorf("checkpoint: the optimizer holds %d parameters, the model %d", len(states), len(params))
	}
	for i, s := range states {
		if s == nil {
			meta.Steps = append(meta.Steps, -1)
			continue
		}
		meta.Steps = append(meta.Steps, s.Step)
		for k, b := range s.Bufs {
			sd.Entries = append(sd.Entries, checkpoint.Entry{Name: fmt.Sprintf("optim.%s.%d", params[i].Name, k), DType: checkpoint.F32, Tensor: tensor.FromData(b, len(b))})
		}
	}
	var err error
	nn.Walk(model, func(path string, m nn.Module) {
		d, ok := m.(*nn.Dropout)
		if !ok || d.Rng == nil || err != nil {
			return
		}
		if d.Src == nil {
			err = fmt.Errorf("checkpoint: dropout %s has a generator whose state cannot be saved (no Src)", path)
			return
		}
		meta.Rng[path], err = d.Src.MarshalBinary()
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return checkpoint.WriteSafetensors(c.path(label), sd, map[string]string{"format": checkpointFormat, "checkpoint": string(b)})
}

// load restores model and opt from the checkpoint of label, if there is
// one, after checking that it was made with the same config. It returns the
// epochs done and the last epoch's statistics.
func (c *checkpointer) load(label string, cfg []byte, model nn.Module, opt optim.Optimizer, notes io.Writer) (epochs int, st fitStats, found bool, err error) {
	path := c.path(label)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, st, false, nil
	}
	fail := func(format string, a ...any) (int, fitStats, bool, error) {
		return 0, st, false, fmt.Errorf("--resume: checkpoint %s: %s", path, fmt.Sprintf(format, a...))
	}
	sd, md, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		return 0, st, false, fmt.Errorf("--resume: %w", err)
	}
	if md["format"] != checkpointFormat {
		return fail("not an ebyd checkpoint (format %q, want %q)", md["format"], checkpointFormat)
	}
	var meta ckptState
	if err := json.Unmarshal([]byte(md["checkpoint"]), &meta); err != nil {
		return fail("corrupt metadata: %v", err)
	}
	if meta.Label != label {
		return fail("holds the %q model, not %q", meta.Label, label)
	}
	if d, err := configDiff(meta.Config, cfg); err != nil {
		return fail("corrupt config: %v", err)
	} else if d != "" {
		return fail("it was made by a different command (%s); run that command with --resume, or this one without", d)
	}
	if e := CurrentEngine(); e != meta.Engine && notes != nil {
		fmt.Fprintf(notes, "note: %s was written by %s; this process is %s: the run continues, but its weights will not be bit-identical to an uninterrupted run's\n",
			path, meta.Engine.describe(), e.describe())
	}
	values := map[string]*tensor.Tensor{}
	bufs := map[string]*tensor.Tensor{}
	for _, e := range sd.Entries {
		if name, ok := strings.CutPrefix(e.Name, "model."); ok {
			values[name] = e.Tensor
		} else if name, ok := strings.CutPrefix(e.Name, "optim."); ok {
			bufs[name] = e.Tensor
		} else {
			return fail("unexpected tensor %q", e.Name)
		}
	}
	if err := nn.LoadStateDict(model, values); err != nil {
		return fail("%v", err)
	}
	params := nn.Params(model)
	if len(meta.Steps) != len(params) {
		return fail("optimizer state of %d parameters, the model has %d", len(meta.Steps), len(params))
	}
	states := make([]*optim.ParamState, len(params))
	for i, n := range meta.Steps {
		if n < 0 {
			continue
		}
		s := &optim.ParamState{Step: n}
		for k := 0; ; k++ {
			t, ok := bufs[fmt.Sprintf("%s.%d", params[i].Name, k)]
			if !ok {
				break
			}
			s.Bufs = append(s.Bufs, t.Data)
		}
		states[i] = s
	}
	so, ok := opt.(optim.Stateful)
	if !ok {
		return fail("the optimizer %T cannot restore its state", opt)
	}
	if err := so.SetState(states); err != nil {
		return fail("%v", err)
	}
	nn.Walk(model, func(mp string, m nn.Module) {
		d, ok := m.(*nn.Dropout)
		if !ok || d.Rng == nil || err != nil {
			return
		}
		b, ok := meta.Rng[mp]
		if !ok || d.Src == nil {
			err = fmt.Errorf("--resume: checkpoint %s: no generator state for dropout %s", path, mp)
			return
		}
		err = d.Src.UnmarshalBinary(b)
	})
	if err != nil {
		return 0, st, false, err
	}
	return meta.Epochs, fitStats{loss: meta.Loss, acc: meta.Acc}, true, nil
}

// describe is the engine in a few words.
func (e Engine) describe() string {
	s := fmt.Sprintf("%s BLAS, %s convolutions, GOMAXPROCS %d, %s %s/%s", e.BLAS, e.Conv, e.GOMAXPROCS, e.GoVersion, e.OS, e.Arch)
	if e.Revision != "" {
		s += ", revision " + e.Revision
	}
	return s
}

// configDiff names the first field (in TrainConfig's order, dotted into
// nested settings) whose value differs between the two configs, "" when
// none does.
func configDiff(old, cur []byte) (string, error) {
	var a, b TrainConfig
	if err := json.Unmarshal(old, &a); err != nil {
		return "", err
	}
	if err := json.Unmarshal(cur, &b); err != nil {
		return "", err
	}
	return structDiff("", reflect.ValueOf(a), reflect.ValueOf(b)), nil
}

func structDiff(prefix string, a, b reflect.Value) string {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		fa, fb := a.Field(i), b.Field(i)
		ja, _ := json.Marshal(fa.Interface())
		jb, _ := json.Marshal(fb.Interface())
		if bytes.Equal(ja, jb) {
			continue
		}
		if fa.Kind() == reflect.Pointer && !fa.IsNil() && !fb.IsNil() {
			fa, fb = fa.Elem(), fb.Elem()
		}
		if fa.Kind() == reflect.Struct {
			if d := structDiff(name, fa, fb); d != "" {
				return d
			}
		}
		return fmt.Sprintf("%s is %s there, %s here", name, ja, jb)
	}
	return ""
}
