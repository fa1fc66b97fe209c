// Package gateway is the application service of Gatehouse: it
// authenticates principals, turns a run request into an Action, decides it,
// journals it write-ahead, executes it and journals its end. It speaks only
// the domain's types and small interfaces (gatehouse.Store, Executor, and
// for the secrets it holds gatehouse.SecretStore and Sealer),
// so the HTTP API, the CLI's tests and later front ends (MCP, hooks) share
// one code path for every action.
//
// Run is a chain of steps, each with one concern:
//
//	validate → decide (Decider) → journal write-ahead → execute → journal end
//
// The write-ahead rule: action.requested, action.decided and
// action.started are appended (durably, in one batch) before the process
// is started. If that append fails nothing runs: the gateway fails closed.
package gateway
