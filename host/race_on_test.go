//go:build race

package host_test

// raceEnabled: make test runs the host's tests (but the -short ones) again
// under the race detector; the longer runs of its concurrency tests belong
// there.
const raceEnabled = true
