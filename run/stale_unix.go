//go:build unix

package run

import (
	"errors"
	"syscall"
)

// processAlive reports whether process pid may still be running: only a
// process that certainly does not exist (ESRCH) counts as gone.
func processAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
