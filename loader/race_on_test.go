//go:build race

package loader

// raceEnabled: the race detector slows the host's own code several times,
// so bounds on wall-clock time are for runs without it.
const raceEnabled = true
