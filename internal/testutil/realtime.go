package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PythonWebsockets returns a python3 that can import websockets (Debian's
// python3-websockets, which installs for /usr/bin/python3 and may not be
// the python3 first on PATH); otherwise it skips, or fails under CI=true.
func PythonWebsockets(t testing.TB) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		tried = append(tried, p)
		if exec.Command(p, "-c", "import websockets").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("python3 websockets is not installed (tried %v; .ci/deps installs python3-websockets)", tried)
	}
	t.Skip("python3 websockets is not installed (apt-get install python3-websockets)")
	return ""
}

// NodeWSHome is where .ci/deps installs Node's ws package from npm.
func NodeWSHome() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "wasmhost-node")
}

// NodeWS returns node and the NODE_PATH under which require("ws") finds
// the ws package; otherwise it skips, or fails under CI=true.
func NodeWS(t testing.TB) (node, nodePath string) {
	t.Helper()
	node = Need(t, "node")
	nodePath = filepath.Join(NodeWSHome(), "node_modules")
	if _, err := os.Stat(filepath.Join(nodePath, "ws", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node ws is not installed in %s (.ci/deps installs it)", nodePath)
		}
		t.Skipf("node ws is not installed (npm install --prefix %s ws)", NodeWSHome())
	}
	return node, nodePath
}
