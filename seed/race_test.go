//go:build race

package seed

// raceEnabled: the race detector slows everything several times.
const raceEnabled = true
