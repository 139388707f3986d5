// Package prefork runs wasmhost as one master process and N worker
// processes that all accept connections on the same listening sockets:
// server.processes = N in site.hcl (0: one per CPU; 1 means no master at
// all, and this package is not used beyond its socket helpers).
//
// # The model
//
// The master parses site.hcl, binds every listening socket once (or takes
// them from systemd's socket activation, or from the master it replaces),
// and starts each worker by executing its own binary again, with
// WASMHOST_WORKER=<id> in the environment, a control socket as fd 3 and
// the listening sockets as fds 4 and up (internal/control). A worker is
// an ordinary wasmhost server with its own Go runtime, scheduler, plugins
// and warm instances; it serves on the inherited sockets (internal/worker
// is its side). The master never accepts a connection and never runs a
// plugin: it supervises, reloads, upgrades and reports. This package
// knows a worker only as a process and the other end of a channel.
//
// Why processes at all, when Go has threads: for isolation and for
// operations more than for throughput. A worker that a guest
// bug or the host crashes, or that the OOM killer picks, takes its own
// requests with it and is replaced in milliseconds while the others serve
// on; reloading a site means starting new processes with it, which
// swaps everything (plugins, TLS settings, HTTP timeouts) with no locking
// on the request path; and each process's garbage collector works on one
// worker's heap.
//
// Why re-executing instead of fork(2): a Go program cannot fork without
// exec (its runtime is multithreaded), and a fresh process is what we
// want anyway. Tornado's first limit, each child needing its own event
// loop created after the fork, does not arise: nothing is shared but the
// sockets.
//
// # One accept queue, many workers
//
// All workers accept on the same sockets, so there is one accept queue
// per address, filled by the kernel and drained by whichever worker is
// free. This is the design's keystone:
//
//   - a worker that dies, or is retired, leaves queued connections to the
//     others: nothing queued is lost;
//   - the old and the new generation of a reload, and the old and the new
//     master of an upgrade, serve from the same queue while one replaces
//     the other, so no connection is refused and no socket is rebound;
//   - a busy worker does not take connections it cannot serve soon.
//
// SO_REUSEPORT between workers was rejected for the same reasons: each
// socket of a reuseport group has its own queue, which is dropped when
// that socket closes (unless net.ipv4.tcp_migrate_req, Linux 5.14+, is
// on), and the kernel spreads connections by hash, not by who is free.
// reuse_port = true serves another purpose: independent copies of
// wasmhost (a supervisord process group, a blue/green pair) binding the
// same port. The cost of sharing is that several idle workers may wake
// for one connection and all but one find nothing; with N near the number
// of CPUs that is negligible.
//
// # Readiness, and failing at boot
//
// The master sends each worker a hello on the control channel: its id,
// its generation and the bytes of site.hcl that the master validated, so
// a worker never reads a file edited since. A worker loads every plugin,
// starts serving, and answers "ready". Worker 0 of a generation boots
// first and the others after it: worker 0 fills the shared compilation
// cache, so the rest load each plugin in milliseconds instead of all
// compiling the same modules at once (about a second each for a
// standard-Go guest), and a site that cannot boot fails in one worker,
// with one error message. A worker that cannot boot sends its error and
// exits with status 2 for a bad config or plugin. For the first
// generation the master prints that error and exits with the same
// status: retrying would fail the same way and hide the message. For a
// reload the new generation is dropped and the running one keeps serving.
//
// # Supervision
//
// A worker that dies after it was ready is replaced at once with the same
// id. If the replacement dies too within 10s of starting, the next one
// waits 250ms, then twice as long each time, up to 30s (per id; the delay
// resets once a worker has run for 10s), so a crash loop costs little and
// does not flood the log while the other workers serve. The master never
// gives up (Tornado's fork_processes gives up after 100 restarts): the
// cause may be fixed while it waits, and /status shows each id's restarts.
//
// No orphans: each worker gets SIGTERM from the kernel when its master
// dies (Linux's parent-death signal), and also stops when its control
// channel reaches end of file, which covers a master that is gone for any
// other reason. SIGTERM rather than SIGKILL, so that the requests in
// flight finish. The parent-death signal is sent when the thread that
// forked the child exits, not the process, and the Go runtime may end
// threads (go.dev/issue/27505), so workers are started from one OS thread
// locked for the master's lifetime. Tornado's parent ignores SIGTERM and
// orphans its children (tornado#1912); here the children cannot outlive it.
//
// # Signals to the master
//
//   - TERM, INT: workers stop accepting, finish their requests within
//     shutdown_timeout and exit; the master closes its own descriptors for
//     the sockets (so that the kernel then refuses connections rather than
//     queueing them for nobody), kills whatever is left one second after
//     shutdown_timeout, and exits 0. A second TERM or INT kills at once.
//   - HUP: site.hcl is reread. With errors, the diagnostics are logged and
//     nothing changes. Otherwise a new generation of workers boots with
//     it beside the serving one; once all of them are ready the old ones
//     are retired gracefully. Both accept on the same sockets meanwhile.
//     The reload is logged and reported done only once every old worker
//     has closed its listeners (it says so on its control channel) or
//     exited, so no connection made after the line reaches the old site;
//     one that does not say so within 5s is killed.
//   - USR2: a new master is started from the executable now on disk (so
//     replace the file, then signal), inheriting the sockets and a pipe;
//     it boots its own workers and writes "ready" on the pipe, and only
//     then does the old master retire its workers and exit. If the new
//     one fails, the old one goes on as if nothing happened. Workers, in
//     contrast, always run their master's own executable (/proc/self/exe),
//     so a restarted worker never picks up a new binary by accident.
//   - TTIN, TTOU: one worker more, or one less (never fewer than one).
//
// # Retiring without dropping a connection
//
// http.Server.Shutdown does not answer a request that it reads at the
// moment it starts, which is harmless when the socket closes with the
// server but drops the first request of a new connection when other
// processes keep accepting. So a retiring worker first stops accepting,
// waits until the connections it did accept have had their first request
// dispatched, and only then shuts down (internal/serving, the serving path
// a worker shares with a single process).
//
// # Monitoring workers that share a port
//
// The admin listener (admin.listen) is the master's, served by the same
// handler as a single process's (internal/admin). GET /status asks every
// worker, over its control channel, for its own /status document, and lists
// one row per worker process (id, pid, start, requests, in flight,
// restarts, generation, state) with totals and the plugins as the
// serving workers see them; GET /metrics merges the serving workers'
// Prometheus texts, each series labelled worker="<id>" and each family
// declared once, and adds the master's wasmhost_workers,
// wasmhost_worker_restarts_total{worker} and wasmhost_reloads_total.
// Worker log lines are named wasmhost.worker.<id>. Tornado's third limit,
// processes that share a port being hard to monitor individually, comes
// from nobody being in a position to ask each one; the master is.
//
// # Descriptors
//
// The master keeps the sockets as bare descriptors. A file made by the
// net package switches the socket to blocking mode when os/exec hands it
// to a child, and that mode is shared by every process holding the
// socket; and a non-blocking *os.File is registered with the poller of a
// master that would then wake for every connection. Every descriptor is
// close-on-exec, so each child gets exactly what it is given, in
// particular no other worker's control socket (whose end of file must
// mean that worker is gone).
//
// # Limits
//
// The sockets are bound once: server.listen, reuse_port and admin.listen
// changes take a full restart (HUP and USR2 keep the sockets and log that
// they did). Workers added by TTIN are not carried over to a new master.
// The parent-death signal and /proc/self/exe are Linux's; elsewhere a
// worker notices its master's death by end of file only, and a restarted
// worker runs the file on disk.
package prefork
