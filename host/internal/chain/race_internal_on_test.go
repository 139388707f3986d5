//go:build race

package chain

// raceDetector: the hand-off test's long run is for the race pass.
const raceDetector = true
