package tripwire

// Program exposes the program-name heuristic to the external tests.
var Program = program
