package models

import (
	"errors"
	"strings"
	"testing"

	"ebyd/internal/memlimit"
	"ebyd/nn"
)

// TestParamCount pins size.go's arithmetic to the builders: every
// architecture, odd and even widths, both channel counts and class counts.
func TestParamCount(t *testing.T) {
	for _, name := range Names() {
		for _, c := range []Config{
			{InChannels: 1, NumClasses: 10, InputSize: 28, Width: 4},
			{InChannels: 3, NumClasses: 7, InputSize: 32, Width: 5},
			{InChannels: 3, NumClasses: 43, InputSize: 64, Width: 8, NoFinalBN: true},
		} {
			if strings.HasPrefix(name, "vgg16") && c.InputSize%32 != 0 {
				c.InputSize = 32
			}
			m, err := New(name, c)
			if err != nil {
				t.Fatal(err)
			}
			built := 0
			for _, p := range nn.Params(m) {
				built += p.Value.Len()
			}
			got, err := ParamCount(name, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != float64(built) {
				t.Errorf("%s %+v: ParamCount %.0f, built %d", name, c, got, built)
			}
		}
	}
}

// TestHugeWidthRefused: widths whose parameters pass the memory limit are
// refused before anything is allocated, naming the size and the limit.
func TestHugeWidthRefused(t *testing.T) {
	t.Setenv(memlimit.Env, "16GiB")
	for _, w := range []int{100000, 100000000, 1 << 39} {
		_, err := New("mnistnet", Config{InChannels: 1, NumClasses: 10, InputSize: 28, Width: w})
		var me *memlimit.Error
		if !errors.As(err, &me) {
			t.Fatalf("width %d: got %v, want a memlimit.Error", w, err)
		}
		if !strings.Contains(err.Error(), "model mnistnet at width") || !strings.Contains(err.Error(), "the limit is 16 GiB") {
			t.Errorf("width %d: %v", w, err)
		}
	}
	_, err := New("resnet18", Config{InChannels: 3, NumClasses: 10, InputSize: 32, Width: 1 << 41})
	if err == nil || !strings.Contains(err.Error(), "over the largest size") {
		t.Errorf("width 2^41: %v", err)
	}
	// A normal model passes under a modest limit.
	t.Setenv(memlimit.Env, "64MiB")
	if _, err := New("mnistnet", Config{InChannels: 1, NumClasses: 10, InputSize: 28}); err != nil {
		t.Error(err)
	}
}
