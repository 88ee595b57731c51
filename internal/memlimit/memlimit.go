// Package memlimit is the one memory limit of ebyd: before it allocates in
// proportion to a number that a user or a file states (a model's width, a
// file's tensor shapes, what a pickle builds), ebyd estimates the bytes and
// refuses, with an error naming both numbers, when they pass the limit.
//
// The limit is EBYD_MAX_MEMORY when set (bytes, or a size such as 64GiB,
// 512MiB, 8G), otherwise half of the machine's physical memory
// (/proc/meminfo's MemTotal), lowered to half of the address-space limit
// (ulimit -v) when one is set; 16 GiB where neither can be read.
package memlimit

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Env is the environment variable that sets the limit.
const Env = "EBYD_MAX_MEMORY"

// Fallback is the limit where the physical memory cannot be read.
const Fallback = 16 << 30

// Help names the limit in --help texts.
const Help = "the memory limit (" + Env + ", e.g. " + Env + "=64GiB; default half the physical memory)"

var (
	defaultOnce sync.Once
	defaultVal  int64
)

// Default is the limit without EBYD_MAX_MEMORY.
func Default() int64 {
	defaultOnce.Do(func() {
		defaultVal = Fallback
		if total := physical(); total > 0 {
			defaultVal = total / 2
		}
		if as := addressSpace(); as > 0 && as/2 < defaultVal {
			defaultVal = as / 2
		}
	})
	return defaultVal
}

// Limit is the limit in bytes: EBYD_MAX_MEMORY, or Default.
func Limit() (int64, error) {
	s := strings.TrimSpace(os.Getenv(Env))
	if s == "" {
		return Default(), nil
	}
	n, err := Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", Env, s, err)
	}
	return n, nil
}

// Parse reads a size: a number of bytes (1e9 too), or a number with a unit
// K, M, G, T (powers of 1024, with or without "iB"/"B").
func Parse(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(v > 0) || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("not a positive size such as 64GiB, 512MiB or 1000000000")
	}
	return int64(v * mult), nil
}

// Error is a refused estimate.
type Error struct {
	What  string  // "model mnistnet at width 100000"
	Of    string  // what the bytes are: "of parameters", "to hold its tensors"
	Need  float64 // bytes, estimated (a float: the estimate may pass int64)
	Limit int64
	Env   bool // the limit came from EBYD_MAX_MEMORY
}

func (e *Error) Error() string {
	how := fmt.Sprintf("set %s, e.g. %s=64GiB, to raise it", Env, Env)
	if e.Env {
		how = "set by " + Env
	}
	return fmt.Sprintf("%s needs %s %s; the limit is %s (%s)", e.What, Bytes(e.Need), e.Of, Bytes(float64(e.Limit)), how)
}

// Check refuses need bytes over the limit; what and of describe them for
// the error ("model mnistnet at width 100000", "of parameters").
func Check(what, of string, need float64) error {
	limit, err := Limit()
	if err != nil {
		return err
	}
	if need > float64(limit) || math.IsNaN(need) {
		return &Error{What: what, Of: of, Need: need, Limit: limit, Env: os.Getenv(Env) != ""}
	}
	return nil
}

// Bytes formats a byte count with a binary unit: "312 GiB", "1.5 MiB".
func Bytes(n float64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%.0f bytes", n)
	case n >= 1e6:
		return fmt.Sprintf("%.3g %s", n, units[i])
	case n >= 100 || n == math.Trunc(n):
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.3g %s", n, units[i])
}

// physical is MemTotal in bytes, or 0.
func physical() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb > 0 {
					return kb << 10
				}
			}
		}
	}
	return 0
}
