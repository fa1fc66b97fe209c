// Package e2e holds end-to-end tests that put real agents under a real
// Gatehouse daemon: Claude Code (the npm package @anthropic-ai/claude-code,
// which .ci/run installs and names in GATEHOUSE_CLAUDE), driven by a small
// scripted Messages API server on loopback; and the MCP proxy, alone and as
// the daemon's configured upstream, driven by the official TypeScript SDK
// in front of the reference server-everything (GATEHOUSE_MCP_NODE_MODULES).
// It has no non-test code.
package e2e
