// Package docs checks that the documentation in docs/ says what the code
// does, where a test can tell: for now, that docs/ARCHITECTURE.md's package
// table lists every package of the three modules, and each package's
// imports, as `go list` sees them.
//
// When the layout changes, regenerate the table with
//
//	go test ./internal/docs -run ArchitectureTable -update
//
// which rewrites it in place, keeping each listed package's job and
// marking new packages' jobs TODO; the test's failure message prints the
// same rows.
package docs

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/ARCHITECTURE.md's package table from go list")

const module = "github.com/wasmhost/wasmhost"

// Folders of the root module that are not wasmhost's own packages: the
// example and test plugins (guests, each documented in its README) and the
// benchmarks' helper programs.
var outsideTable = []string{"plugins/", "bench/"}

// pkg is one package as go list sees it.
type pkg struct {
	path       string   // relative to the repository: "host", "internal/kv", "abi"
	testOnly   bool     // no Go files but tests (internal/e2e)
	internal   []string // the module's own packages it imports, relative paths
	thirdParty []string // short names of the other modules it imports
}

// row is one row of the table as written.
type row struct {
	name, job, imports string
}

func TestArchitectureTable(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := listPackages(t, root)
	docPath := filepath.Join(root, "docs", "ARCHITECTURE.md")
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	start, end, rows := parseTable(t, doc)

	var problems []string
	listed := map[string]row{}
	for _, r := range rows {
		listed[key(r.name)] = r
	}
	for _, p := range pkgs {
		r, ok := listed[p.path]
		if !ok {
			if !p.testOnly {
				problems = append(problems, fmt.Sprintf("package %s is not in the table", p.path))
			}
			continue
		}
		if strings.Contains(r.job, "TODO") {
			problems = append(problems, fmt.Sprintf("%s's job is not written: %q", p.path, r.job))
		}
		internal, third := parseImports(r.imports)
		if d := diff(p.internal, internal); d != "" {
			problems = append(problems, fmt.Sprintf("%s's imports of the module's own packages: %s", p.path, d))
		}
		if d := diff(p.thirdParty, third); d != "" {
			problems = append(problems, fmt.Sprintf("%s's imports of other modules: %s", p.path, d))
		}
	}
	known := map[string]bool{}
	for _, p := range pkgs {
		known[p.path] = true
	}
	for _, r := range rows {
		if !known[key(r.name)] {
			problems = append(problems, fmt.Sprintf("the table lists %s, which is no package", r.name))
		}
	}
	if len(problems) == 0 {
		return
	}
	table := formatTable(pkgs, rows)
	if *update {
		out := append(append(append([]byte(nil), doc[:start]...), table...), doc[end:]...)
		if err := os.WriteFile(docPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the table in %s:\n%s", docPath, strings.Join(problems, "\n"))
		return
	}
	t.Errorf("docs/ARCHITECTURE.md's package table disagrees with go list:\n  %s\n\n"+
		"The table as go list sees it (jobs kept; go test ./internal/docs -run ArchitectureTable -update writes it):\n\n%s",
		strings.Join(problems, "\n  "), table)
}

// listPackages runs go list in the root module and in the abi and sdk
// modules.
func listPackages(t *testing.T, root string) []pkg {
	var pkgs []pkg
	for _, dir := range []string{".", "abi", "sdk"} {
		cmd := exec.Command("go", "list", "-f",
			`{{.ImportPath}}|{{len .GoFiles}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
		cmd.Dir = filepath.Join(root, dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.Bytes())
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "|")
			rel := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
			if rel == "" || slices.ContainsFunc(outsideTable, func(p string) bool { return strings.HasPrefix(rel, p) }) {
				continue
			}
			p := pkg{path: rel, testOnly: f[1] == "0"}
			imports := f[2]
			if p.testOnly {
				imports = f[3]
			}
			p.internal, p.thirdParty = classify(t, cmd.Dir, strings.Fields(imports), rel)
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// classify splits imports into the module's own packages (relative paths)
// and the short names of other modules' (wazero, hclog); the standard
// library is left out.
func classify(t *testing.T, dir string, imports []string, self string) (internal, third []string) {
	var others []string
	for _, imp := range imports {
		switch {
		case imp == module || strings.HasPrefix(imp, module+"/"):
			rel := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if rel != self && !slices.Contains(internal, rel) {
				internal = append(internal, rel)
			}
		case strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
			others = append(others, imp)
		}
	}
	if len(others) > 0 {
		args := append([]string{"list", "-f", "{{with .Module}}{{.Path}}{{end}}"}, others...)
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", others, err)
		}
		for _, m := range strings.Fields(string(out)) {
			if name := shortName(m); !slices.Contains(third, name) {
				third = append(third, name)
			}
		}
	}
	slices.Sort(internal)
	slices.Sort(third)
	return internal, third
}

var majorSuffix = regexp.MustCompile(`/v[0-9]+$`)

// shortName is how the table names another module: its last path element
// without a major-version suffix or a "go-" prefix (hclog, hcl, redis,
// wazero), and x/sys for golang.org/x/sys.
func shortName(module string) string {
	module = majorSuffix.ReplaceAllString(module, "")
	if rest, ok := strings.CutPrefix(module, "golang.org/"); ok {
		return rest
	}
	return strings.TrimPrefix(module[strings.LastIndex(module, "/")+1:], "go-")
}

// parseTable finds the table whose header is "| package | job | imports |"
// and returns the byte range of its lines and its rows.
func parseTable(t *testing.T, doc []byte) (start, end int, rows []row) {
	header := []byte("| package | job | imports |\n")
	start = bytes.Index(doc, header)
	if start < 0 {
		t.Fatalf("no %q table in docs/ARCHITECTURE.md", bytes.TrimSpace(header))
	}
	end = start
	for i, line := range strings.SplitAfter(string(doc[start:]), "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		end += len(line)
		if i < 2 {
			continue // the header and its rule
		}
		cells := splitRow(strings.TrimSpace(line))
		if len(cells) != 3 {
			t.Fatalf("table row %q: %d cells, want 3", line, len(cells))
		}
		rows = append(rows, row{cells[0], cells[1], cells[2]})
	}
	return start, end, rows
}

// splitRow splits a markdown table row into its cells; a | inside
// backticks is no separator.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	code := false
	for _, r := range line {
		switch {
		case r == '`':
			code = !code
		case r == '|' && !code:
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
			continue
		}
		cell.WriteRune(r)
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// key is a package cell's path: "`host/`" is host.
func key(cell string) string { return strings.TrimSuffix(strings.Trim(cell, "`"), "/") }

var remark = regexp.MustCompile(`\s*\([^)]*\)`)

// parseImports reads an imports cell: comma-separated names, the module's
// own packages in backticks and other modules bare, each with an optional
// remark in parentheses; "nothing" for none.
func parseImports(cell string) (internal, third []string) {
	cell = strings.TrimSpace(remark.ReplaceAllString(cell, ""))
	if cell == "nothing" || cell == "" {
		return nil, nil
	}
	for _, item := range strings.Split(cell, ",") {
		item = strings.TrimSpace(item)
		if strings.HasPrefix(item, "`") {
			internal = append(internal, key(item))
		} else {
			third = append(third, item)
		}
	}
	slices.Sort(internal)
	slices.Sort(third)
	return internal, third
}

// diff says what is missing from and extra in doc compared with want.
func diff(want, doc []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(doc, w) {
			missing = append(missing, w)
		}
	}
	for _, d := range doc {
		if !slices.Contains(want, d) {
			extra = append(extra, d)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "not imported "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}

// formatTable writes the table for pkgs: the rows already there in their
// order (a package gone is dropped), then the new packages, whose job is
// TODO. A row's imports are rewritten only when they disagree with go
// list, so hand-written remarks survive while they are true.
func formatTable(pkgs []pkg, rows []row) string {
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.path] = p
	}
	var b strings.Builder
	b.WriteString("| package | job | imports |\n|---|---|---|\n")
	done := map[string]bool{}
	for _, r := range rows {
		p, ok := byPath[key(r.name)]
		if !ok {
			continue
		}
		done[p.path] = true
		imports := r.imports
		if internal, third := parseImports(r.imports); diff(p.internal, internal) != "" || diff(p.thirdParty, third) != "" {
			imports = formatImports(p)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.name, r.job, imports)
	}
	for _, p := range pkgs {
		if done[p.path] || p.testOnly {
			continue
		}
		fmt.Fprintf(&b, "| `%s` | TODO: its job | %s |\n", p.path, formatImports(p))
	}
	return b.String()
}

func formatImports(p pkg) string {
	var items []string
	for _, i := range p.internal {
		items = append(items, "`"+i+"`")
	}
	items = append(items, p.thirdParty...)
	if len(items) == 0 {
		return "nothing"
	}
	return strings.Join(items, ", ")
}

// sourcePath is a repository path to a Go file as the docs name one.
var sourcePath = regexp.MustCompile("`((?:[a-z0-9_]+/)+[a-z0-9_]+\\.go)`")

// TestDocsNameFilesThatExist: every Go file the docs name by its path
// (`host/internal/front/dispatch.go`) exists, so that a move of code cannot
// leave the docs pointing at a file that is gone.
func TestDocsNameFilesThatExist(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sourcePath.FindAllSubmatch(text, -1) {
			if _, err := os.Stat(filepath.Join(root, string(m[1]))); err != nil {
				t.Errorf("%s names %s, which does not exist", filepath.Base(doc), m[1])
			}
		}
	}
}
