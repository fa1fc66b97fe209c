// Package e2e holds end-to-end tests that put real agents under a real
// Gatehouse daemon: Claude Code (the npm package @anthropic-ai/claude-code,
// which .ci/run installs and names in GATEHOUSE_CLAUDE), driven by a small
// scripted Messages API server on loopback. It has no non-test code.
package e2e
