// Command wazygen writes engine_wazy.go from engine_wazero.go in the
// current folder (go generate in package loader); see package wazygen.
package main

import (
	"fmt"
	"os"

	"github.com/wasmhost/wasmhost/loader/internal/wazygen"
)

func main() {
	if err := run("engine_wazero.go", "engine_wazy.go"); err != nil {
		fmt.Fprintln(os.Stderr, "wazygen:", err)
		os.Exit(1)
	}
}

func run(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := wazygen.Generate(src, b)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o666)
}
