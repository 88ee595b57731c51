package run

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzParsePipeline feeds hostile YAML to the parser of ebyd pipeline
// --config: no panic, no hang, an error with a message, and an accepted
// config that survives a round trip through its JSON form.
func FuzzParsePipeline(f *testing.F) {
	b, err := os.ReadFile("../examples/pipeline.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range []string{
		"",
		"train:\n  attack: {name: blend, target: 3}\nremove:\n  method: ft\n  params: {epochs: 2}\n",
		"trian: {}\n",
		"train: {epochs: many}\n",
		"- a\n- b\n",
		"train: [\n",
		`{"suspect": "runs/x", "candidates": 5, "expose": {"method": "cul", "params": {"lr": 1e-4}}}`,
		"a: &x [1, 2]\nb: *x\n",
		"expose: {method: cul, params: {1: 2}}\n",
		"defense_size: .inf\n",
		"defense_seed: 18446744073709551615\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParsePipeline(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("an accepted config does not marshal: %v", err)
		}
		again, err := ParsePipeline(js)
		if err != nil {
			t.Fatalf("an accepted config's JSON %s does not parse: %v", js, err)
		}
		// The JSON form leaves a nil attack (attack: null, a clean
		// suspect) out, which reads back as the default attack.
		if cfg.Train.Attack == nil {
			again.Train.Attack = nil
		}
		if js2, _ := json.Marshal(again); string(js2) != string(js) {
			t.Fatalf("round trip changed the config:\n%s\n%s", js, js2)
		}
	})
}
