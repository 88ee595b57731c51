package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A run folder is written into a temporary folder beside it, named
// OUT.tmp-pidPID-RANDOM: the writer's process id is in the name so that a
// later write of OUT can tell the leftovers of a writer that died (kill -9,
// a power cut) from the folder of one still at work. replaceDir moves an
// old OUT aside to the same name with "-old" appended.
const tempInfix = ".tmp-pid"

// tempPattern is the os.MkdirTemp pattern of this process's temporary
// folders for dir.
func tempPattern(dir string) string {
	return filepath.Base(dir) + tempInfix + strconv.Itoa(os.Getpid()) + "-"
}

// staleOwner returns the process id in name, a temporary folder of dir's,
// and whether name is one ("-old" says it holds the run folder dir had
// before, moved aside).
func staleOwner(dir, name string) (pid int, old, ok bool) {
	rest, ok := strings.CutPrefix(name, filepath.Base(dir)+tempInfix)
	if !ok {
		return 0, false, false
	}
	digits, rest, ok := strings.Cut(rest, "-")
	if !ok || rest == "" {
		return 0, false, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != digits {
		return 0, false, false
	}
	return pid, strings.HasSuffix(rest, "-old"), true
}

// cleanStale removes the temporary folders that writes of dir by processes
// no longer running left behind. A folder of a live process (or of one
// whose state cannot be told, as on systems without signals) is never
// touched. When a writer died between moving the old dir aside and
// renaming the new one into place, dir is missing: the old folder is
// renamed back, so the last complete run folder stays. Removal is best
// effort; a failed restore is an error.
func cleanStale(dir string) error {
	parent := filepath.Dir(dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil // CheckOut reports a missing parent
	}
	var olds []string
	for _, e := range entries {
		pid, old, ok := staleOwner(dir, e.Name())
		if !ok || !e.IsDir() || processAlive(pid) {
			continue
		}
		if old {
			olds = append(olds, e.Name())
			continue
		}
		os.RemoveAll(filepath.Join(parent, e.Name()))
	}
	if len(olds) == 0 {
		return nil
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if len(olds) > 1 {
			return fmt.Errorf("run folder %s is missing and writes that did not finish left %d earlier versions of it beside it (%s): rename the one to keep to %s",
				dir, len(olds), strings.Join(olds, ", "), filepath.Base(dir))
		}
		path := filepath.Join(parent, olds[0])
		if err := os.Rename(path, dir); err != nil {
			return fmt.Errorf("run folder %s is missing and its earlier version, moved aside by a write that did not finish, is at %s: %w", dir, path, err)
		}
		return nil
	}
	for _, name := range olds { // dir is in place: these were replaced
		os.RemoveAll(filepath.Join(parent, name))
	}
	return nil
}
