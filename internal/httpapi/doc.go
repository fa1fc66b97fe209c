// Package httpapi is Gatehouse's HTTP adapter: the daemon's API server over
// a *gateway.Gateway, and the Client that the CLI and agents use. Both
// live here so that the wire format is defined once.
//
// Every error body is {"error":{"code":"E…","message":"…"}} with a stable
// code from the domain package, mapped to an HTTP status in one table
// (StatusOf). POST /v1/run answers with a stream of newline-delimited JSON
// frames (see Frame): started, stdout and stderr chunks as the command
// produces them, then finished.
package httpapi
