package devbuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Sources are the files a plugin's build depends on, as far as an edit is
// concerned: the package's Go files (tests excluded), the module's go.mod
// and go.sum, and the files the package embeds. Dependencies in other
// packages are not watched: a plugin is one package, and a dependency that
// changes comes with an edit to go.mod or go.sum.
type Sources struct {
	PkgDir string   // absolute
	ModDir string   // folder of the module's go.mod; "" if none was found
	Embeds []string // absolute paths of embedded files
}

// FindSources lists a package's sources. The Go files are found by name
// (a file created later counts too); the embedded files come from `go
// list`, when the package is in a state go list can read.
func FindSources(ctx context.Context, pkgDir string) (*Sources, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", pkgDir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source %s: not a folder", pkgDir)
	}
	src := &Sources{PkgDir: abs, ModDir: findModDir(abs)}
	src.Embeds = listEmbeds(ctx, abs)
	return src, nil
}

func findModDir(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// listEmbeds asks go list for the package's embedded files; nil when it
// cannot say (a syntax error, say: then the build reports the problem).
func listEmbeds(ctx context.Context, dir string) []string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-json=Dir,EmbedFiles", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var pkg struct {
		Dir        string
		EmbedFiles []string
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&pkg); err != nil {
		return nil
	}
	var files []string
	for _, f := range pkg.EmbedFiles {
		files = append(files, filepath.Join(pkg.Dir, f))
	}
	return files
}

// Relevant reports whether a change to path can change the build.
func (s *Sources) Relevant(path string) bool {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if dir == s.PkgDir && strings.HasSuffix(base, ".go") && !strings.HasSuffix(base, "_test.go") {
		return true
	}
	if dir == s.ModDir && (base == "go.mod" || base == "go.sum") {
		return true
	}
	for _, e := range s.Embeds {
		if path == e {
			return true
		}
	}
	return false
}

// Dirs are the folders to watch.
func (s *Sources) Dirs() []string {
	seen := map[string]bool{}
	var dirs []string
	for _, d := range append([]string{s.PkgDir, s.ModDir}, embedDirs(s.Embeds)...) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func embedDirs(files []string) []string {
	var dirs []string
	for _, f := range files {
		dirs = append(dirs, filepath.Dir(f))
	}
	return dirs
}

// Newest is the modification time of the newest source file.
func (s *Sources) Newest() (time.Time, error) {
	var newest time.Time
	consider := func(path string) error {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	}
	entries, err := os.ReadDir(s.PkgDir)
	if err != nil {
		return newest, err
	}
	for _, e := range entries {
		if !e.IsDir() && s.Relevant(filepath.Join(s.PkgDir, e.Name())) {
			if err := consider(filepath.Join(s.PkgDir, e.Name())); err != nil {
				return newest, err
			}
		}
	}
	if s.ModDir != "" {
		for _, f := range []string{"go.mod", "go.sum"} {
			if err := consider(filepath.Join(s.ModDir, f)); err != nil {
				return newest, err
			}
		}
	}
	for _, f := range s.Embeds {
		if err := consider(f); err != nil {
			return newest, err
		}
	}
	return newest, nil
}

// Stale reports whether wasm is missing or older than the newest source.
func Stale(src *Sources, wasm string) (bool, error) {
	fi, err := os.Stat(wasm)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	newest, err := src.Newest()
	if err != nil {
		return false, err
	}
	return newest.After(fi.ModTime()), nil
}
