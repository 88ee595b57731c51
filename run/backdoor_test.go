package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/attack"
)

func smallAttackConfig(a *AttackConfig) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 8, 2000, 500
	cfg.Attack = a
	return cfg
}

// A backdoored run records the trigger with every parameter, the poisoned
// indices and ASR; Eval rebuilds the trigger from run.json and measures the
// same numbers.
func TestTrainBackdoor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bd")
	cfg := smallAttackConfig(&AttackConfig{Name: "badnets", Target: 3, Rate: 0.2})
	res, err := Train(context.Background(), cfg, Options{Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	asr, ok := m.Metrics["asr"]
	if !ok || asr < 0 || asr > 1 {
		t.Fatalf("asr %v (present %v)", asr, ok)
	}
	if m.Metrics["poisoned"] != 400 {
		t.Errorf("%v images poisoned, want 20%% of 2000", m.Metrics["poisoned"])
	}
	var got TrainConfig
	if err := json.Unmarshal(m.Config, &got); err != nil {
		t.Fatal(err)
	}
	if got.Attack == nil || got.Attack.Mode != attack.All2One || !strings.Contains(string(got.Attack.Params), `"margin":0`) {
		t.Errorf("manifest attack %+v, want the mode and every trigger parameter filled in", got.Attack)
	}
	b, err := os.ReadFile(filepath.Join(dir, PoisonFile))
	if err != nil {
		t.Fatal(err)
	}
	var pi poisonIndices
	if err := json.Unmarshal(b, &pi); err != nil || len(pi.Indices) != 400 {
		t.Fatalf("%s: %d indices, err %v", PoisonFile, len(pi.Indices), err)
	}

	ev, err := Eval(context.Background(), EvalConfig{Run: dir})
	if err != nil {
		t.Fatal(err)
	}
	if ev.CleanAcc != m.Metrics["clean_acc"] || ev.ASR == nil || *ev.ASR != asr || ev.Target != 3 {
		t.Errorf("eval CA %v ASR %v target %d, the run measured CA %v ASR %v", ev.CleanAcc, ev.ASR, ev.Target, m.Metrics["clean_acc"], asr)
	}
	// Another trigger on the same model.
	ev, err = Eval(context.Background(), EvalConfig{Run: dir, Attack: &AttackConfig{Name: "badnets", Mode: attack.All2All}})
	if err != nil || ev.Backdoor != ev.Clean {
		t.Errorf("all2all eval: %v, %d of %d images", err, ev.Backdoor, ev.Clean)
	}
}

// Every bad attack setting fails before training, names its cause and
// leaves nothing behind.
func TestTrainBackdoorErrors(t *testing.T) {
	for _, tc := range []struct {
		a    AttackConfig
		want string
	}{
		{AttackConfig{Name: "nosuch"}, `unknown attack "nosuch"`},
		{AttackConfig{Name: "badnets", Rate: 1.5}, "poison rate 1.5: must be in (0, 1]"},
		{AttackConfig{Name: "badnets", Rate: -0.1}, "must be in (0, 1]"},
		{AttackConfig{Name: "badnets", Target: 10}, "target 10: the dataset's labels are 0..9"},
		{AttackConfig{Name: "badnets", Target: -1}, "target -1"},
		{AttackConfig{Name: "badnets", Mode: "some2some"}, `unknown poisoning mode "some2some"`},
		{AttackConfig{Name: "badnets", Params: json.RawMessage(`{"size": 3}`)}, `unknown field "size"`},
		{AttackConfig{Name: "badnets", Mode: attack.CleanLabel, Rate: 0.5}, "clean-label poison rate 0.5 needs"},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := Train(context.Background(), smallAttackConfig(&tc.a), Options{Out: dir})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.a, err, tc.want)
		}
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
			t.Errorf("%+v: %s was written", tc.a, dir)
		}
	}
}
