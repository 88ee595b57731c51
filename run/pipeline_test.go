package run

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParsePipeline(t *testing.T) {
	// The shipped example spells out the defaults.
	b, err := os.ReadFile("../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParsePipeline(b)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultPipeline()
	x, _ := json.Marshal(cfg)
	y, _ := json.Marshal(def)
	if string(x) != string(y) {
		t.Errorf("examples/pipeline.yaml differs from the default:\n got %s\nwant %s", x, y)
	}

	// Keys left out keep their defaults; given ones replace them.
	cfg, err = ParsePipeline([]byte("train:\n  attack: {name: blend, target: 3}\nremove:\n  method: ft\n  params: {epochs: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Train.Attack; a.Name != "blend" || a.Target != 3 || cfg.Train.Model != "mnistnet" || cfg.Expose.Name != "cul" ||
		cfg.Remove.Name != "ft" || string(cfg.Remove.Params) != `{"epochs":2}` || cfg.DefenseSize != DefaultDefenseSize {
		t.Errorf("partial config: %+v", cfg)
	}
	// A method's params are its own: their keys are not checked here.
	if cfg, err = ParsePipeline([]byte("expose: {method: cul, params: {LR: 1}}\n")); err != nil || string(cfg.Expose.Params) != `{"LR":1}` {
		t.Errorf("params: %s, %v", cfg.Expose.Params, err)
	}
	// An explicit null attack trains a clean suspect.
	if cfg, err = ParsePipeline([]byte("train: {attack: null}\n")); err != nil || cfg.Train.Attack != nil {
		t.Errorf("attack: null gave %+v, %v", cfg.Train.Attack, err)
	}
	if cfg, err = ParsePipeline(nil); err != nil || !reflect.DeepEqual(cfg, def) {
		t.Errorf("empty config: %+v, %v", cfg, err)
	}

	for _, c := range []struct{ yaml, want string }{
		{"trian: {}\n", `unknown field "trian"`},
		{"train: {epochs: many}\n", "epochs"},
		{"- a\n- b\n", "mapping"},
		{"train: [\n", "not valid YAML"},
		// Found by FuzzParsePipeline: encoding/json matched keys whatever
		// their case, so these were taken for train and attack.
		{"Train: {}\n", `unknown field "Train" (keys are matched exactly`},
		{"train:\n  AttACk:\n", `unknown field "AttACk" in train`},
		{"train: {attack: {Name: blend}}\n", `unknown field "Name" in train.attack`},
	} {
		if _, err := ParsePipeline([]byte(c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one mentioning %q", c.yaml, err, c.want)
		}
	}
}
