// The Go SDK as a module of its own: a plugin's go.mod requires only this
// (and the ABI module it needs), never the host's dependencies. Standard
// library only, and a go directive TinyGo 0.34 accepts (1.19-1.23). Its
// version follows the ABI it speaks: v1.<ABI minor>.<patch>.
module github.com/wasmhost/wasmhost/sdk

go 1.21

require github.com/wasmhost/wasmhost/abi v1.3.0

// Inside the repository the SDK builds against the ABI next to it; a module
// that requires the SDK ignores this line.
replace github.com/wasmhost/wasmhost/abi => ../abi
