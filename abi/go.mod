// The ABI as a module of its own, so that plugins (and the SDK) can require it
// without the host's dependencies. Its version follows the ABI it describes:
// v1.<ABI minor>.<patch> (see abi.VersionMajor, abi.VersionMinor).
module github.com/wasmhost/wasmhost/abi

go 1.21
