//go:build race

package host_test

// raceEnabled: make test runs the host's concurrency tests again under the
// race detector; the longer runs belong there.
const raceEnabled = true
