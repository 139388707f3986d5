# wasmhost: `make run` serves the example site, `make test` runs every test.
GO       ?= go
BIN      := bin/wasmhost
EXAMPLES := hello hellogw environ echo stream site cookie errorpage auth chat
SITE     ?= plugins/examples/site.hcl

.PHONY: all build install plugins run run-gin check deps test test-plain test-race test-modules quick fuzz vet fmt-check bench clean

all: build plugins

build:
	$(GO) build -o $(BIN) ./cmd/wasmhost

# Puts wasmhost in $(go env GOPATH)/bin (add that folder to PATH).
install:
	$(GO) install ./cmd/wasmhost

# Example plugins are built, never committed.
plugins: build
	@for p in $(EXAMPLES); do $(BIN) build plugins/examples/$$p >/dev/null || exit 1; done

run: plugins
	$(BIN) run $(SITE)

# The gin example is a module of its own with a site of its own (its first
# build fetches gin and takes about a minute): plugins/examples/gin.
run-gin: build
	$(BIN) build plugins/examples/gin >/dev/null
	$(BIN) run plugins/examples/gin/site.hcl

check: plugins
	$(BIN) check $(SITE)

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists unformatted files:"; echo "$$out"; exit 1; fi

# The SDK and the ABI are modules of their own: ./... from the root does not
# reach them, so they are vetted and tested in their folders.
MODULES := sdk abi

vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./plugins/...
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...) || exit 1; done

# Tests build the plugins they need themselves (internal/testutil); the
# Debian packages they drive (nginx, chromium, curl) come from .ci/deps.
deps:
	@.ci/deps

# Two lanes run side by side (make -j2), each one test package at a time
# (-p 1): the heavy packages (host, cmd) run real servers under load, and
# two of them in one lane at once would slow each other past their tests'
# waits; one lane beside another leaves each about a core, which is what a
# lane used alone (a -p 1 run kept the 2-core machine about half idle:
# 20m23s of CPU in 20m35s).
#
# Whole packages, never lists of test names (a test added or renamed is run
# like the others):
# - test-plain: every package but RACE_PKGS (PLAIN_PKGS, so none is left
#   out), without the race detector: host first, which fills the shared
#   test compilation cache the race lane's host pass loads from, then cmd
#   (which drives the wasmhost binary as separate processes), the example
#   plugins, the benchmark helper.
# - test-race: RACE_PKGS (the loader, everything under internal/, static),
#   all of their tests, then host again with -short, which skips six host
#   tests: three compile a module afresh (TestHotSwapUnderLoad,
#   TestSwapServesInterpretedUntilCompiled,
#   TestShutdownAbandonsABackgroundCompile), and an instrumented compiler
#   takes about a minute per module (65 s for an 8.3 MB one on a loaded
#   2-core machine); TestChaos and TestLoopingGuestIsStopped saturate the
#   CPUs with looping guests under deadlines of 200 ms to 1 s, which is
#   what they test (TestChaos alone is a third of the plain host pass);
#   TestOutboundStreams moves 200 MiB. Every other host test, the load
#   tests of chains, swaps, reloads and disconnects included, runs under it.
RACE_PKGS  := ./loader/... ./internal/... ./static/...
PLAIN_PKGS  = $(shell $(GO) list ./... | grep -v -E '^github.com/wasmhost/wasmhost/(loader|internal|static)(/|$$)' | awk '/wasmhost\/host(\/|$$)/ {print; next} {rest = rest " " $$0} END {print rest}')
test: deps fmt-check vet test-modules
	$(MAKE) --no-print-directory -j2 test-plain test-race

test-plain:
	$(GO) test -p 1 -count=1 -timeout 25m $(PLAIN_PKGS)

test-race:
	$(GO) test -race -p 1 -count=1 -timeout 25m $(RACE_PKGS)
	$(GO) test -race -short -p 1 -count=1 -timeout 25m ./host/...

# The SDK and the ABI natively, under the race detector too (the SDK's
# native build serves net/http handlers with goroutines of its own).
test-modules:
	@for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# The inner loop: formatting, vet, and the tests -short keeps (it skips the
# load tests and those that compile a module afresh or drive nginx and
# browsers), without the race detector.
quick: fmt-check vet
	$(GO) test -short -count=1 ./...
	@for m in $(MODULES); do (cd $$m && $(GO) test -short -count=1 ./...) || exit 1; done

# A few seconds of each fuzz target beyond its seed corpus (which make test
# runs). FUZZTIME=1m make fuzz for longer.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzResolve$$' -fuzztime $(FUZZTIME) ./internal/xheaders
	$(GO) test -run '^$$' -fuzz '^FuzzHostFunctions$$' -fuzztime $(FUZZTIME) ./loader
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./static
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/config
	cd abi && $(GO) test -run '^$$' -fuzz '^FuzzPairs$$' -fuzztime $(FUZZTIME) .

bench: plugins
	bench/hello.sh
	bench/compute.sh

clean:
	rm -rf bin
	find plugins -name '*.wasm' -delete
