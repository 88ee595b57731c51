//go:build unix

package memlimit

import (
	"math"
	"syscall"
)

// addressSpace is the soft RLIMIT_AS (ulimit -v) in bytes, or 0 for none
// (RLIM_INFINITY is all ones).
func addressSpace() int64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &r); err != nil || r.Cur >= math.MaxInt64 {
		return 0
	}
	return int64(r.Cur)
}
