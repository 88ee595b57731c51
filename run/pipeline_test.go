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
	if cfg, err = ParsePipeline(nil); err != nil || !reflect.DeepEqual(cfg, def) {
		t.Errorf("empty config: %+v, %v", cfg, err)
	}

	for _, c := range []struct{ yaml, want string }{
		{"trian: {}\n", `unknown field "trian"`},
		{"train: {epochs: many}\n", "epochs"},
		{"- a\n- b\n", "mapping"},
		{"train: [\n", "not valid YAML"},
	} {
		if _, err := ParsePipeline([]byte(c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one mentioning %q", c.yaml, err, c.want)
		}
	}
}
