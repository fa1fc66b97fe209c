// Package e2e holds end-to-end tests that put real agents under a real
// Gatehouse daemon: Claude Code (the npm package @anthropic-ai/claude-code,
// which .ci/run installs and names in GATEHOUSE_CLAUDE), driven by a small
// scripted Messages API server on loopback; the MCP proxy behind the
// TypeScript SDK (GATEHOUSE_MCP_NODE_MODULES); and the operator's console in
// headless Chromium (Debian's chromium, GATEHOUSE_CHROMIUM), driven with
// chromedp, its screenshots kept in GATEHOUSE_ARTIFACTS. Each skips where
// its tool is missing, except under CI, where it fails. It has no non-test
// code.
package e2e
