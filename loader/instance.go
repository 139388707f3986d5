package loader

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/abi"
)

// instance is one initialized module serving one request at a time.
type instance struct {
	plugin *Plugin
	mod    guestModule
	handle guestFunction
	mem    guestMemory
	ex     Exchange        // the request being served, nil between requests
	ctx    context.Context // that request's context
	stack  [2]uint64

	stdout, stderr guestOutput
	svc            serviceState // handles of the services calls (services.go)
}

// newInstance instantiates the plugin's module, which runs the guest's
// initializer (the Go runtime and package init functions) under a deadline:
// a guest that loops in init must not hang the host.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	// Instantiation runs the guest's initializer: CPU time like a request's,
	// so it waits its turn like one. A plugin whose guests keep timing out
	// makes a new instance for every request.
	if err := p.tenant.enter(ctx); err != nil {
		return nil, err
	}
	defer p.tenant.leave()
	inst := &instance{plugin: p}
	inst.stdout = guestOutput{inst: inst, level: abi.LogInfo}
	inst.stderr = guestOutput{inst: inst, level: abi.LogWarn}
	initCtx, cancel := context.WithTimeout(ctx, p.cfg.InitTimeout)
	defer cancel()
	// The initializer runs under initCtx: a guest sleeping in init must
	// wake when it ends, as during a request.
	inst.ctx = initCtx
	inst.stderr.keep = true
	mod, err := p.compiled.instantiate(&callContext{Context: initCtx, inst: inst}, instanceOptions{
		stdout: &inst.stdout, stderr: &inst.stderr, nanosleep: inst.sleep,
		mappedMemory: p.cfg.MemoryLimit > 0,
	})
	inst.ctx = nil
	inst.stderr.flush()
	initOutput := inst.stderr.kept
	inst.stderr.keep, inst.stderr.kept = false, nil
	if err != nil {
		if ctx.Err() != nil {
			// The request this instance was made for ended first.
			return nil, ctxError(ctx.Err())
		}
		if initCtx.Err() != nil {
			return nil, fmt.Errorf("initialization did not finish within %s", p.cfg.InitTimeout)
		}
		return nil, &GuestError{Kind: "init", Message: initFailure(initOutput, err)}
	}
	inst.mod = mod
	inst.handle = mod.function(abi.ExportHandle)
	inst.mem = mod.memory()
	return inst, nil
}

// initFailure is the message of a failed initialization: what the guest
// wrote to stderr first (a Go panic's "panic: template: page:5: ..." and
// its goroutine trace, a log.Fatal's line), then the runtime's error. The
// runtime's alone ("wasm error: unreachable" and a wasm stack) does not
// say what went wrong; the guest's words used to reach only the log, not
// the error page or /status.
func initFailure(stderr []byte, err error) string {
	out := strings.TrimSpace(string(stderr))
	if out == "" {
		return err.Error()
	}
	return out + "\n\n" + err.Error()
}

// sleep is the guest's clock sleep (time.Sleep reaches it through WASI
// poll_oneoff). wazero's interruption works at loop back-edges and calls in
// guest code, not inside a host function, so a sleep must end by itself
// when the request's context does, or a sleeping guest would outlive its
// deadline. It runs on the goroutine of the guest call (or of the
// instantiation, which sets inst.ctx to the init deadline), so reading
// inst.ctx needs no lock.
func (inst *instance) sleep(ns int64) {
	ctx := inst.ctx
	if ctx == nil {
		time.Sleep(time.Duration(ns))
		return
	}
	inst.pause()
	defer inst.resume()
	t := time.NewTimer(time.Duration(ns))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
}

// pause gives the guest's place in the scheduler back for a host call that
// waits (on the client, a timer): waiting is not running. resume takes it
// again afterwards. Outside a request (initialization) they do nothing.
func (inst *instance) pause() {
	if inst.ctx != nil {
		inst.plugin.tenant.leave()
	}
}

func (inst *instance) resume() {
	if inst.ctx != nil {
		inst.plugin.tenant.resume(inst.ctx)
	}
}

func (inst *instance) close() {
	inst.mod.close(context.Background())
}

// log routes one guest message to the request being served, or to the
// plugin's log between requests.
func (inst *instance) log(level int32, msg []byte) {
	rec := guestRecord(level, msg)
	if ex := inst.ex; ex != nil {
		ex.Log(rec)
		return
	}
	inst.plugin.log.Log(rec.Level, rec.Message, rec.Fields...)
}

// hclogLevel maps an abi.Log* level (flags aside) to hclog's; unknown
// levels are Info.
func hclogLevel(level int32) hclog.Level {
	switch level &^ abi.LogStructured {
	case abi.LogDebug:
		return hclog.Debug
	case abi.LogWarn:
		return hclog.Warn
	case abi.LogError:
		return hclog.Error
	}
	return hclog.Info
}

func storeMax(v *atomic.Uint64, n uint64) {
	for m := v.Load(); n > m && !v.CompareAndSwap(m, n); m = v.Load() {
	}
}
