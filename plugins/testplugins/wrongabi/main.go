// Command wrongabi is a module that claims a future major ABI version, to
// test that the host refuses it with a clear message. It does not use the
// SDK on purpose.
package main

//go:wasmexport wasmhost_abi_version
func abiVersion() int32 { return 2 << 16 }

//go:wasmexport wasmhost_handle
func handle(environSize, flags int32) int32 { return 0 }

func main() {}
