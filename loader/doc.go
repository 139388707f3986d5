// Package loader turns a plugin's .wasm file into something that can serve
// requests: it compiles the module once, checks that it speaks the wasmhost
// ABI, and keeps a bounded pool of warm instances that serve one request at a
// time each.
//
// The model, and why:
//
//   - Compile once, instantiate few, call many. Compiling a standard-Go guest
//     costs about a second and instantiating one (which runs the Go runtime's
//     initializer) about 5 ms and 6 MiB of garbage, while a call costs tens of
//     nanoseconds. So compilation happens once per plugin per process (and an
//     on-disk compilation cache makes a restart cheap), instantiation happens
//     only when the pool needs another instance, and a request is a call.
//
//   - One request per instance at a time. A wasm instance is not safe for
//     concurrent calls, so concurrency comes from the number of instances, not
//     from sharing one. A plugin's pool holds at most `instances` live
//     instances; a request that finds none idle and the cap reached waits,
//     bounded by its context, rather than failing at once.
//
//   - Any error discards the instance. A trap does not close a wazero module
//     and the guest's state after it is unknown, so an instance that trapped,
//     panicked, timed out or was cancelled is closed and never reused. An
//     instance whose linear memory has grown far past its start is retired too,
//     since linear memory never shrinks.
//
//   - One wazero runtime per plugin. The memory limit is a runtime setting in
//     wazero, and plugins have their own limits; closing a plugin's runtime
//     also frees everything the plugin ever instantiated. Runtimes share one
//     compilation cache, so this costs nothing at compile time.
//
//   - Interruption is on. Without it a looping guest freezes the whole Go
//     process; with it a request's deadline or cancellation stops the guest.
//
// The HTTP side is not here, and calls go one way, from the loader to the
// host, through interfaces this package defines in its own types: the host
// implements Exchange (per request: the request as the guest sees it) and
// Services (per plugin: its key-value stores and outbound HTTP), and the
// host functions here move bytes between guest memory and those, checking
// every pointer. What a guest hands over is read here before the host sees
// it: a log message arrives as a parsed Record, a failed service call gets
// its errno from the error (Services). The host needs nothing back from
// this package during a request; what it decides after the guest returned
// (a timeout it cut off, say) it counts on its side.
package loader
