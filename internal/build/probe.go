package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/internal/stacktrace"
)

// ErrNoHandler is what Build reports for a package whose init never
// registers a handler: it would compile, load, and answer every request
// with a 500.
var ErrNoHandler = errors.New("the package never registers a handler: call sdk.Handle, sdk.HandleGateway or sdk.HandleMiddleware from an init function")

// ErrInitFails is what Build reports for a module whose initialisers trap
// or exit: no server could load it.
var ErrInitFails = errors.New("the module's initialisation fails, so no server can load it")

// noHandlerLog is what the SDK logs when a request finds nothing registered.
const noHandlerLog = "no handler registered"

// probeTimeout bounds the probe: a handler that blocks has registered.
const probeTimeout = 10 * time.Second

// checkRegistered runs the module's initialisers and one GET / against
// stand-in host functions, and reports ErrNoHandler when the SDK answers
// that nothing was registered.
//
// Why a probe rather than a marker: a plugin can register in several ways
// (sdk.Handle, HandleGateway, HandleMiddleware, and whatever later SDKs add)
// and the linker drops or inlines the registration functions, so neither the
// source nor the symbol table says reliably whether one was called; running
// init and asking does. The stand-ins give the handler no outside world:
// every host function it calls beyond the request itself fails, and the
// module has no files, network or environment. Any other failure (a trap, an
// unknown import) is left for loading to report, with its own message,
// except a failing initialiser (initError).
func checkRegistered(ctx context.Context, wasmPath string) error {
	code, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// The interpreter: the probe runs little code once, and compiling a
	// Go module to machine code would cost more than interpreting it.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	defer rt.Close(context.Background())
	cm, err := rt.CompileModule(ctx, code)
	if err != nil {
		return nil
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil
	}
	p := &probeHost{environ: probeEnviron()}
	if err := p.instantiateHost(ctx, rt, cm); err != nil {
		return nil
	}
	var stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStartFunctions().WithName("").WithStderr(&stderr).WithStdout(&stderr)
	mod, err := rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil
	}
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(ctx); err != nil {
			if p.denied {
				// It asked for a service the probe does not offer,
				// which a server may well grant.
				return nil
			}
			return initError(ctx, err, stderr.Bytes())
		}
	}
	handle := mod.ExportedFunction(abi.ExportHandle)
	if handle == nil {
		return nil
	}
	if _, err := handle.Call(ctx, uint64(len(p.environ)), 0); err != nil {
		return nil
	}
	if bytes.Contains(p.logs, []byte(noHandlerLog)) {
		return ErrNoHandler
	}
	return nil
}

// maxInitOutput bounds how much of the guest's output an init failure
// shows: its end, where a Go panic's message and stack are.
const maxInitOutput = 4 << 10

// initError is the refusal of a module whose initialisers fail: with the
// probe's stand-ins the host functions they may call all answer, so an
// initialiser that traps (a TinyGo stack overflow, a nil dereference) or
// exits (a standard-Go panic) does the same when the server loads it, and
// every load of the plugin would fail. A probe that ran out of time says
// nothing: the initialiser may be waiting for a service the probe lacks.
func initError(ctx context.Context, err error, output []byte) error {
	if ctx.Err() != nil {
		return nil
	}
	msg := stacktrace.Collapse(err.Error())
	if out := bytes.TrimSpace(output); len(out) > 0 {
		if len(out) > maxInitOutput {
			out = append([]byte("…"), out[len(out)-maxInitOutput:]...)
		}
		msg += "\nits output:\n" + string(out)
	}
	return fmt.Errorf("%w: %s", ErrInitFails, msg)
}

// probeHost stands in for the host during the probe.
type probeHost struct {
	environ []byte
	logs    []byte
	denied  bool // a service was asked for and refused
}

func probeEnviron() []byte {
	var env []byte
	for _, kv := range [][2]string{
		{abi.KeyRequestMethod, "GET"}, {abi.KeyScriptName, ""}, {abi.KeyPathInfo, "/"},
		{abi.KeyQueryString, ""}, {abi.KeyRequestURI, "/"}, {abi.KeyServerName, "localhost"},
		{abi.KeyServerPort, "80"}, {abi.KeyServerProtocol, "HTTP/1.1"},
		{abi.KeyRemoteAddr, "127.0.0.1"}, {abi.KeyRemotePort, "1"},
		{"wasmhost.url_scheme", "http"}, {"wasmhost.plugin", "build-probe"},
	} {
		env = abi.AppendPair(env, kv[0], kv[1])
	}
	return env
}

// instantiateHost defines every function the module imports from the
// wasmhost module: the request's own calls answer as a host would, any
// other (a service the probe does not offer) fails with ErrState.
func (p *probeHost) instantiateHost(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != abi.ImportModule {
			continue
		}
		results := f.ResultTypes()
		fn := p.function(name)
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
			rc := fn(m.Memory(), stack)
			if len(results) > 0 {
				stack[0] = api.EncodeI32(rc)
			}
		}), f.ParamTypes(), results).Export(name)
	}
	_, err := b.Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("probe host: %w", err)
	}
	return nil
}

func (p *probeHost) function(name string) func(mem api.Memory, stack []uint64) int32 {
	arg := func(stack []uint64, i int) uint32 {
		if i < len(stack) {
			return api.DecodeU32(stack[i])
		}
		return 0
	}
	switch name {
	case abi.ImportEnvironGet:
		return func(mem api.Memory, stack []uint64) int32 {
			if int(arg(stack, 1)) >= len(p.environ) {
				mem.Write(arg(stack, 0), p.environ)
			}
			return int32(len(p.environ))
		}
	case abi.ImportLog:
		return func(mem api.Memory, stack []uint64) int32 {
			if msg, ok := mem.Read(arg(stack, 1), min(arg(stack, 2), abi.MaxLogBytes)); ok {
				p.logs = append(append(p.logs, msg...), '\n')
			}
			return 0
		}
	case abi.ImportBodyRead, abi.ImportStartResponse, abi.ImportBodyWrite, abi.ImportBodyFlush:
		return func(api.Memory, []uint64) int32 { return 0 }
	}
	return func(api.Memory, []uint64) int32 { p.denied = true; return abi.ErrState }
}
