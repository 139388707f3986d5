//go:build !wasip1

package sdk

import (
	"log"

	"github.com/wasmhost/wasmhost/abi"
)

var levelNames = map[int32]string{
	abi.LogDebug: "DEBUG ", abi.LogInfo: "INFO ", abi.LogWarn: "WARN ", abi.LogError: "ERROR ",
}

// logMessage stands in for the host's log when running natively.
func logMessage(level int32, msg string) { log.Print(levelNames[level], msg) }

// staticURL has no host to ask natively: StaticURL falls back to the
// unversioned URL.
func staticURL(path string) (string, bool) { return "", false }
