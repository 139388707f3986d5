# Makes engine_wazy.go from engine_wazero.go (go generate ./loader): wazy
# has wazero's shape of API under its own names, with the experimental
# package's allocator and compilation-workers hooks in its api package.
1i\
// Code generated from engine_wazero.go by go generate (wazy.sed); DO NOT EDIT.\

/^\/\/ This file is the adapter/,/^\/\/go:generate/d
/"github.com\/tetratelabs\/wazero\/experimental"/d
s|github.com/tetratelabs/wazero|github.com/samyfodil/wazy|g
s/experimental\./api./g
s/wazero/wazy/g
s/Wazero/Wazy/g
