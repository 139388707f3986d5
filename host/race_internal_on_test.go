//go:build race

package host

// raceDetector: the hand-off test's long run is for the race pass.
const raceDetector = true
