package registry

import (
	"errors"
	"strings"
	"testing"
)

type method struct {
	Rate  float64 `json:"rate"`
	Steps int     `json:"steps"`
}

func TestRegistry(t *testing.T) {
	r := New[*method]("test method", func(m *method) error {
		if m.Steps < 0 {
			return errors.New("steps must not be negative")
		}
		return nil
	})
	r.Add("b", func() *method { return &method{Rate: 0.1, Steps: 3} })
	r.Add("a", func() *method { return &method{} })
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Errorf("names %s", got)
	}
	m, err := r.Make("B", []byte(`{"steps": 7}`))
	if err != nil || m.Rate != 0.1 || m.Steps != 7 {
		t.Errorf("make: %+v, %v", m, err)
	}
	if string(r.Params(m)) != `{"rate":0.1,"steps":7}` {
		t.Errorf("params %s", r.Params(m))
	}
	for _, c := range []struct{ name, params, want string }{
		{"c", "", `unknown test method "c" (known: a, b)`},
		{"b", `{"stpes": 1}`, `test method b: parameters: json: unknown field "stpes"`},
		{"b", `[1]`, "test method b: parameters"},
		{"b", `{"steps": -1}`, "test method b: steps must not be negative"},
	} {
		if _, err := r.Make(c.name, []byte(c.params)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Make(%s, %s): %v, want %q", c.name, c.params, err, c.want)
		}
	}
	if m, err := r.Make("b", []byte(" null ")); err != nil || m.Steps != 3 {
		t.Errorf("null params: %+v, %v", m, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a name registered twice did not panic")
		}
	}()
	r.Add("a", func() *method { return &method{} })
}
