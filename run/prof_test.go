package run

import (
	"context"
	"os"
	"testing"
)

func TestProfBench(t *testing.T) {
	if os.Getenv("PROF_MODEL") == "" {
		t.Skip()
	}
	cfg := DefaultBenchConfig()
	cfg.Model = os.Getenv("PROF_MODEL")
	cfg.Batch = 32
	if cfg.Model == "mnistnet" {
		cfg.Batch = 128
	}
	cfg.Steps = 10
	r, err := Bench(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
}
