package memlimit

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for s, want := range map[string]int64{
		"1000": 1000, "1e9": 1e9, "64GiB": 64 << 30, "64G": 64 << 30, "512MiB": 512 << 20,
		"512mb": 512 << 20, "1.5K": 1536, "2T": 2 << 40,
	} {
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1", "lots", "1e30", "NaN", "GiB"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Setenv(Env, "1GiB")
	if err := Check("x", "of y", 1<<30); err != nil {
		t.Fatal(err)
	}
	err := Check("model mnistnet at width 100000", "of parameters", 312<<30)
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("got %v", err)
	}
	const want = "model mnistnet at width 100000 needs 312 GiB of parameters; the limit is 1 GiB (set by EBYD_MAX_MEMORY)"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	t.Setenv(Env, "")
	if err := Check("x", "of y", 1e30); err == nil || !strings.Contains(err.Error(), "set EBYD_MAX_MEMORY") {
		t.Errorf("got %v", err)
	}
	t.Setenv(Env, "huge")
	if err := Check("x", "of y", 1); err == nil || !strings.Contains(err.Error(), "EBYD_MAX_MEMORY=\"huge\"") {
		t.Errorf("got %v", err)
	}
}

func TestDefault(t *testing.T) {
	if d := Default(); d < 1<<20 {
		t.Errorf("default limit %d", d)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[float64]string{
		10: "10 bytes", 1536: "1.5 KiB", 312 << 30: "312 GiB", 41.6e9: "38.7 GiB", 1 << 30: "1 GiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%g) = %q, want %q", n, got, want)
		}
	}
}
