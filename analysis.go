package gatehouse

// Class is how much harm an operation can do, in increasing severity. The
// values are part of the public contract.
type Class string

const (
	ClassRead         Class = "read"         // looks, changes nothing
	ClassWrite        Class = "write"        // changes state that can be changed back
	ClassDestructive  Class = "destructive"  // deletes or overwrites; undoing needs a backup
	ClassIrreversible Class = "irreversible" // cannot be taken back: sent, published, wiped, force-pushed
)

// Severity orders classes: read 0, write 1, destructive 2, irreversible 3;
// an unknown class counts as irreversible (fail closed).
func (c Class) Severity() int {
	switch c {
	case ClassRead:
		return 0
	case ClassWrite:
		return 1
	case ClassDestructive:
		return 2
	}
	return 3
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool {
	switch c {
	case ClassRead, ClassWrite, ClassDestructive, ClassIrreversible:
		return true
	}
	return false
}

// MaxClass returns the more severe of a and b.
func MaxClass(a, b Class) Class {
	if a == "" {
		return b
	}
	if b == "" || a.Severity() >= b.Severity() {
		return a
	}
	return b
}

// Analysis is what the gateway understood of an action before deciding it:
// for a shell action, every simple command found in it (inside pipelines,
// lists, subshells, substitutions, sh -c strings and behind wrappers such
// as sudo), each classified. It is stored on the action and shown to
// reviewers.
type Analysis struct {
	Class    Class             `json:"class"`             // the most severe of its commands'
	Risk     int               `json:"risk"`              // 0–100
	Reasons  []string          `json:"reasons"`           // why, in words a reviewer reads
	Targets  []string          `json:"targets,omitempty"` // files, hosts, resources it acts on
	Commands []AnalyzedCommand `json:"commands"`
	// ParseError is set when the command could not be parsed; such an
	// action is never allowed by analysis alone (it is reviewed).
	ParseError string `json:"parse_error,omitempty"`
}

// AnalyzedCommand is one simple command found in an action.
type AnalyzedCommand struct {
	Name     string   `json:"name"`               // the program, as a base name ("rm", "git")
	Args     []string `json:"args"`               // its arguments as written (unexpanded parts kept literally)
	Wrappers []string `json:"wrappers,omitempty"` // sudo, env, timeout, … it was found behind
	Class    Class    `json:"class"`
	Risk     int      `json:"risk"`
	Reasons  []string `json:"reasons,omitempty"`
	Targets  []string `json:"targets,omitempty"`
	// Dynamic is set when the name or an argument depends on run-time
	// expansion ($VAR, $(…), globs) that analysis cannot see through.
	Dynamic bool `json:"dynamic,omitempty"`
}
