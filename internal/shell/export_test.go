package shell

// SetStrict makes panics during analysis propagate, so that the fuzz test
// finds them instead of the fail-closed result hiding them.
func SetStrict(on bool) { strict.Store(on) }

// MaxDepth is the nesting bound for shell strings, for tests.
const MaxDepth = maxDepth
