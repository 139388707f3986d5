// Package realtime holds WebSocket connections and server-sent event
// streams in the host, so that a plugin serving them needs no guest
// instance while a connection is idle.
//
// The model: the host terminates the socket, and the guest runs once per
// event. An Endpoint accepts upgrades for one plugin and enforces its
// websocket settings (message size, pings, Origin, compression, connection
// limit, send buffer). Each accepted connection has one goroutine blocked
// in a read; when a message arrives, that goroutine delivers it to the
// plugin's Events (one call, bounded by a timeout) and only then reads the
// next, so the events of one connection are in order and one at a time,
// while different connections run in parallel. Nothing of the guest is
// held between events: what a connection needs to remember lives in its
// small per-connection values, kept here.
//
// Outgoing messages are queued per connection up to its send buffer and
// written by a goroutine that exists only while the queue is not empty; a
// client that stops reading is closed (1008) once the queue is full, so
// memory stays bounded whatever the publishers do.
//
// A Hub connects connections to topics. Publish reaches every connection
// and event stream subscribed to the topic on this hub and, through a
// Backend, on every other hub: the relay package joins the worker
// processes of one host through the master, the redisbus package joins
// hosts through Redis pub/sub. SendTo reaches one connection wherever it
// lives, because a connection's id names the hub that holds it.
package realtime
