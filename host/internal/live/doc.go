// Package live joins the host's realtime package to a plugin's guest: it
// runs each WebSocket event as one call of the guest's handler (flagged
// abi.FlagEvent) on whatever version of the plugin is serving, and keeps
// a worker's pubsub hubs, one per pubsub block.
//
// A Plugin outlives the versions of its module: its Endpoint holds the
// connections, and each event asks the plugin's Source for the version
// serving now, so a hot swap leaves every connection open and the next
// event runs the new version. The environ of an event is the upgrade
// request's, captured once at open without the version's entries, plus
// the version's entries and the event's own keys at each event.
package live
