package run

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ebyd/checkpoint"
	"ebyd/data"
	"ebyd/internal/atomicfile"
	"ebyd/internal/userfile"
	"ebyd/nn"
)

// The files of a run folder.
const (
	ManifestFile = "run.json"
	ModelFile    = "model.safetensors"
)

// Folder is a run folder on disk.
type Folder struct {
	Dir      string
	Manifest *Manifest
}

// Open reads the run folder at dir and checks its manifest.
func Open(dir string) (*Folder, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run folder %s does not exist", dir)
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a run folder (not a directory)", dir)
	}
	b, err := userfile.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a run folder: it has no %s", dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: corrupt manifest: %w", filepath.Join(dir, ManifestFile), err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: corrupt manifest: %w", filepath.Join(dir, ManifestFile), err)
	}
	return &Folder{Dir: dir, Manifest: m}, nil
}

// Model rebuilds the run's network, loads model.safetensors into it and
// puts it in evaluation mode.
func (f *Folder) Model() (nn.Module, error) {
	path := filepath.Join(f.Dir, ModelFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run folder %s has no %s", f.Dir, ModelFile)
	}
	sd, meta, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	mi := f.Manifest.Model
	if arch, ok := meta["arch"]; ok && arch != mi.Arch {
		return nil, fmt.Errorf("%s holds a %s but %s says %s", path, arch, ManifestFile, mi.Arch)
	}
	m, err := mi.Build()
	if err != nil {
		return nil, err
	}
	if err := LoadStateDict(m, sd); err != nil {
		return nil, fmt.Errorf("%s does not fit the %s of %s: %w", path, mi.Arch, ManifestFile, err)
	}
	nn.SetTraining(m, false)
	return m, nil
}

// Data loads the run's dataset, both full splits, normalised as the run's
// model expects.
func (f *Folder) Data() (train, test *data.Dataset, err error) { return f.Manifest.Dataset.Load() }

// Load loads the dataset the info describes, both full splits, normalised
// as recorded. Images of another shape, or another number of classes, than
// recorded (a --data-dir whose files changed since) are an error here, not
// deep inside the model.
func (d DatasetInfo) Load() (train, test *data.Dataset, err error) {
	train, test, err = loadData(d.Name, d.Dir, d.Mean, d.Std)
	if err != nil {
		return nil, nil, err
	}
	where := "the " + d.Name + " data"
	if d.Dir != "" {
		where += " in " + d.Dir
	}
	if d.Height > 0 && (train.H != d.Height || train.W != d.Width || train.C != d.Channels) {
		return nil, nil, fmt.Errorf("%s now has %d×%d×%d images but the run was made for %d×%d×%d (height×width×channels, as %s records); did the data change since?",
			where, train.H, train.W, train.C, d.Height, d.Width, d.Channels, ManifestFile)
	}
	if d.Classes > 0 && train.Classes != d.Classes {
		return nil, nil, fmt.Errorf("%s now has %d classes but the run was made for %d (as %s records); did the data change since?",
			where, train.Classes, d.Classes, ManifestFile)
	}
	return train, test, nil
}

// Contents is what a stage writes into its run folder.
type Contents struct {
	Manifest *Manifest
	Model    nn.Module
	// Files are further files by name (poison indices, traces), written as
	// given.
	Files map[string][]byte
}

// CheckOut reports whether a stage may write its run folder at dir, so that
// a stage can fail before doing any work: the parent directory must exist,
// and dir must not exist, be empty, or (with force) be an earlier run
// folder. Force never replaces a directory that is not a run folder, so a
// mistyped --out cannot wipe unrelated files. First it removes what writes
// of dir by processes that died left beside it (see cleanStale).
func CheckOut(dir string, force bool) error {
	if dir == "" {
		return errors.New("no output folder given (--out)")
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fmt.Errorf("cannot write run folder %s: its parent directory %s does not exist (create it first)", dir, parent)
	}
	if err := cleanStale(filepath.Clean(dir)); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("cannot write run folder %s: a file of that name exists", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("cannot write run folder %s: the directory exists, is not empty and is not a run folder", dir)
	}
	if !force {
		return fmt.Errorf("run folder %s already exists; use --force to replace it", dir)
	}
	return nil
}

// Save writes a run folder at dir: everything goes into a temporary
// directory beside dir, which is renamed into place at the end, so readers
// see the old folder or the complete new one and a failure leaves nothing.
func Save(dir string, force bool, c Contents) (err error) {
	if err := CheckOut(dir, force); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	tmp, err := os.MkdirTemp(filepath.Dir(dir), tempPattern(dir))
	if err != nil {
		return fmt.Errorf("writing run folder %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		return err
	}
	if c.Model != nil {
		meta := weightsMetadata(c.Manifest.Model)
		if err := checkpoint.WriteSafetensors(filepath.Join(tmp, ModelFile), StateDict(c.Model), meta); err != nil {
			return err
		}
	}
	for name, b := range c.Files {
		if filepath.Base(name) != name || name == ManifestFile || name == ModelFile {
			return fmt.Errorf("run: bad extra file name %q", name)
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, name), b); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(c.Manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("run: encoding the manifest: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), append(b, '\n')); err != nil {
		return err
	}
	return replaceDir(tmp, dir)
}

// replaceDir renames the finished folder tmp to dir, moving an existing dir
// aside first and deleting it only once tmp is in place. (Renaming onto an
// existing empty directory is not portable across file systems, so an
// empty dir is removed first.)
func replaceDir(tmp, dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("writing run folder %s: %w", dir, err)
		}
	default:
		old := tmp + "-old" // tmp's name is unique, so this one is free
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replacing run folder %s: %w", dir, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir)
			return fmt.Errorf("replacing run folder %s: %w", dir, err)
		}
		return os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("writing run folder %s: %w", dir, err)
	}
	return nil
}

// modelDigest is the SHA-256 of the folder's model file, hex.
func (f *Folder) modelDigest() (string, error) {
	b, err := userfile.ReadFile(filepath.Join(f.Dir, ModelFile))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// setParent records parent as the run m is derived from.
func (m *Manifest) setParent(parent *Folder) error {
	d, err := parent.modelDigest()
	if err != nil {
		return err
	}
	m.Parent, m.ParentModel = parent.Dir, d
	return nil
}

// derivedFrom reports whether run f was derived from parent: its recorded
// parent is that folder (a relative path read from the working directory,
// or else from f's folder), or, wherever the folders are now, the model
// file it was derived from is parent's.
func derivedFrom(f, parent *Folder) bool {
	p := f.Manifest.Parent
	if p == "" {
		return false
	}
	if sameDir(p, parent.Dir) || !filepath.IsAbs(p) && sameDir(filepath.Join(f.Dir, p), parent.Dir) {
		return true
	}
	if f.Manifest.ParentModel == "" {
		return false
	}
	d, err := parent.modelDigest()
	return err == nil && d == f.Manifest.ParentModel
}

// openExposed opens the exposed run folder and checks that it was derived
// from the suspect run.
func openExposed(dir string, suspect *Folder) (*Folder, error) {
	f, err := Open(dir)
	if err != nil {
		return nil, fmt.Errorf("--exposed: %w", err)
	}
	parent := f.Manifest.Parent
	if parent == "" {
		return nil, fmt.Errorf("--exposed %s was not derived from a run (its %s names no parent); give the folder ebyd expose wrote for %s", dir, ManifestFile, suspect.Dir)
	}
	if !derivedFrom(f, suspect) {
		return nil, fmt.Errorf("--exposed %s was derived from %s, not from the suspect run %s", dir, parent, suspect.Dir)
	}
	if f.Manifest.Model.Arch != suspect.Manifest.Model.Arch || f.Manifest.Model.Classes != suspect.Manifest.Model.Classes {
		return nil, fmt.Errorf("--exposed %s holds a %s with %d classes, the suspect run a %s with %d", dir,
			f.Manifest.Model.Arch, f.Manifest.Model.Classes, suspect.Manifest.Model.Arch, suspect.Manifest.Model.Classes)
	}
	return f, nil
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
