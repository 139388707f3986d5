# wasmhost: `make run` serves the example site, `make test` runs every test.
GO       ?= go
BIN      := bin/wasmhost
EXAMPLES := hello hellogw environ echo stream site cookie errorpage auth
SITE     ?= plugins/examples/site.hcl

.PHONY: all build install plugins run run-gin check deps test test-modules fuzz vet fmt-check bench clean

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

# -p 1: one test package at a time. The heavy packages (host, cmd) run real
# servers under load and assert latency bounds from the issues (a swap
# visible within 1 s, a stopped guest within 1 s); on a 2-core machine two of
# them at once would measure each other.
#
# Then the loader and host again under the race detector. -short skips the
# load tests and those that compile a module afresh (an instrumented
# compiler takes minutes per module); the others load from the shared test
# compilation cache the first pass filled.
# The host tests that drive its concurrent parts (swaps against reloads and
# shutdown, the instance pool, the goroutines of a middleware chain, the
# deadline, services) run under the race detector; the rest of host runs
# once, above, to keep make test under 15 minutes on two cores. (The
# scheduler's own tests run under it with the loader's, and the lazy
# connection deadlines with the other prefork tests.)
RACE_HOST_TESTS := SwapReloadShutdownRace|ConcurrentRequestsReuseInstances|ChainEchoesTenMiB|ChainTrapsAndDeadline|ChainMiddlewareSwapUnderLoad|EchoStreamsTenMiB|ClientDisconnect|KVFromPlugin|OutboundHTTP|ServeAfterShutdown|StreamOutlasts|BodyPastLimitWhileAnswering|SlowBodyIsCut|ChainHandOffUnderCancellation|ClientsLeaveMidStream|SlowStoreOpen
test: deps fmt-check vet test-modules
	$(GO) test -p 1 -count=1 -timeout 20m ./...
	$(GO) test -race -short -p 1 -count=1 -timeout 20m ./loader ./internal/reqctx ./internal/prefork
	$(GO) test -race -short -p 1 -count=1 -timeout 20m -run '$(RACE_HOST_TESTS)' ./host

test-modules:
	@for m in $(MODULES); do (cd $$m && $(GO) test -count=1 ./...) || exit 1; done

# A few seconds of each fuzz target beyond its seed corpus (which make test
# runs). FUZZTIME=1m make fuzz for longer.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzResolve$$' -fuzztime $(FUZZTIME) ./internal/xheaders
	$(GO) test -run '^$$' -fuzz '^FuzzHostFunctions$$' -fuzztime $(FUZZTIME) ./loader
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./static

bench: plugins
	bench/hello.sh
	bench/compute.sh

clean:
	rm -rf bin
	find plugins -name '*.wasm' -delete
