module github.com/wasmhost/wasmhost/bench/compute

go 1.26.8

require github.com/wasmhost/wasmhost/sdk v1.3.0

require github.com/yuin/goldmark v1.8.7

require github.com/wasmhost/wasmhost/abi v1.3.0 // indirect

replace (
	github.com/wasmhost/wasmhost/abi => ../../abi
	github.com/wasmhost/wasmhost/sdk => ../../sdk
)
