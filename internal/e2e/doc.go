// Package e2e holds end-to-end tests that put real agents and real MCP
// peers under a real Gatehouse daemon: Claude Code (the npm package
// @anthropic-ai/claude-code, named in GATEHOUSE_CLAUDE) driven by a small
// scripted Messages API server on loopback; the MCP proxy, alone and as the
// daemon's configured upstream, driven by the official TypeScript SDK in front of the reference servers
// server-everything and server-filesystem (GATEHOUSE_MCP_NODE_MODULES);
// the MCP conformance suite (GATEHOUSE_MCP_CONFORMANCE, on the Node.js 22
// in GATEHOUSE_NODE22) against upstreams alone and through the proxy; and
// the operator's console in headless Chromium (Debian's chromium,
// GATEHOUSE_CHROMIUM), driven with chromedp, its screenshots kept in
// GATEHOUSE_ARTIFACTS. Each skips where its tool is missing, except under
// CI, where it fails. .ci/run installs all of them. It has no non-test
// code.
package e2e
