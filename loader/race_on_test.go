//go:build race

package loader

// raceEnabled: the race detector slows the host side several times over,
// so timing bounds are loosened (never removed) under it.
const raceEnabled = true
