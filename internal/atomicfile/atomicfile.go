package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// defaultMode is used for new files. os.CreateTemp makes 0600 files, which
// would surprise users who share run folders.
const defaultMode fs.FileMode = 0o644

// Write creates or replaces path with what fill writes. fill's writer is
// buffered; the data reach path only if fill returns nil and every file system
// step succeeds. On any error (or a panic in fill) the temporary file is
// removed and path is left untouched.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := defaultMode
	if st, statErr := os.Stat(path); statErr == nil {
		if !st.Mode().IsRegular() {
			return &fs.PathError{Op: "write", Path: path, Err: errors.New("not a regular file")}
		}
		mode = st.Mode().Perm()
	}
	// Same directory as path so that the rename cannot cross file systems.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	// Sync before rename: otherwise a crash can leave path naming an empty
	// or partial file on file systems that reorder metadata and data.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		done = true
		return err
	}
	done = true
	syncDir(dir)
	return nil
}

// WriteFile is Write for data already in memory.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir makes the rename durable. It is best effort: some platforms
// (Windows) cannot open or sync a directory, and the rename has already
// happened, so there is nothing useful to report.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
