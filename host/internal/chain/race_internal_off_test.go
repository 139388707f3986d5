//go:build !race

package chain

const raceDetector = false
