package build

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The oldest TinyGo that builds plugins: 0.34 brought -buildmode=c-shared
// and //go:wasmexport for wasip1.
const minTinyGoMajor, minTinyGoMinor = 0, 34

const tinygoInstall = "install TinyGo 0.34 or later (https://tinygo.org/getting-started/install/) " +
	"and put it in PATH, or build with standard Go (omit --tinygo)"

var tinygoVersionRE = regexp.MustCompile(`tinygo version (\d+)\.(\d+)`)

// findTinyGo returns the tinygo command, or an error that says what to do
// when it is missing or too old to build plugins.
func findTinyGo(ctx context.Context) (string, error) {
	path, err := exec.LookPath("tinygo")
	if err != nil {
		return "", fmt.Errorf("tinygo not found in PATH: %s", tinygoInstall)
	}
	out, err := exec.CommandContext(ctx, path, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s version failed (%v): %s", path, err, strings.TrimSpace(string(out)))
	}
	major, minor, ok := parseTinyGoVersion(string(out))
	if !ok {
		return "", fmt.Errorf("cannot read the version of %s from %q", path, strings.TrimSpace(string(out)))
	}
	if major < minTinyGoMajor || major == minTinyGoMajor && minor < minTinyGoMinor {
		return "", fmt.Errorf("%s is TinyGo %d.%d, too old to build plugins: %s", path, major, minor, tinygoInstall)
	}
	return path, nil
}

// parseTinyGoVersion reads "tinygo version 0.34.0-dev-6e6507bf linux/amd64 ...".
func parseTinyGoVersion(s string) (major, minor int, ok bool) {
	m := tinygoVersionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	return major, minor, err1 == nil && err2 == nil
}

// TinyGoStackSize is the stack TinyGo plugins get, in bytes. TinyGo's
// wasip1 target links a 64 KiB stack (its -stack-size flag sizes goroutine
// stacks only, which -scheduler=none has none of), and a module that
// compiles regular expressions at init (goldmark's) overflows it: the
// overflow runs below address 0 and traps with "out of bounds memory
// access". goldmark needs more than 256 KiB and less than 512 KiB; 1 MiB
// leaves it twice that, for 16 pages of linear memory per instance.
const TinyGoStackSize = 1 << 20

// tinygoTargetPath is the target file tinygoTarget writes in dir, beside
// the module being built (one per process, as the module's own temporary).
func tinygoTargetPath(dir string) string {
	return filepath.Join(dir, fmt.Sprintf(".wasmhost-tinygo-target-%d.json", os.Getpid()))
}

// tinygoTarget writes a TinyGo target that is wasip1 with a stack of
// TinyGoStackSize, and returns its path: the wasm linker's stack size is a
// target setting, and a target file is how TinyGo takes one.
func tinygoTarget(dir string) (string, error) {
	path := tinygoTargetPath(dir)
	target := fmt.Sprintf("{\n\t\"inherits\": [\"wasip1\"],\n\t\"ldflags\": [\"-zstack-size=%d\"]\n}\n", TinyGoStackSize)
	if err := os.WriteFile(path, []byte(target), 0o644); err != nil {
		return "", fmt.Errorf("writing the TinyGo target: %w", err)
	}
	return path, nil
}
