module github.com/wasmhost/wasmhost/bench/compute

go 1.26.8

require github.com/wasmhost/wasmhost v0.0.0

require github.com/yuin/goldmark v1.8.7

replace github.com/wasmhost/wasmhost => ../..
