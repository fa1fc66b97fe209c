// Package httpapi is Gatehouse's HTTP adapter: the daemon's API server over
// a *gateway.Gateway. Its wire format is that of the public client
// package (frames, the error envelope, the bodies that exist only on the
// wire) and of the domain package (the gateway's requests and answers),
// so that it is defined once, where agents written in Go can use it.
//
// Every error body is {"error":{"code":"E…","message":"…"}} with a stable
// code from the domain package, mapped to an HTTP status in one table
// (StatusOf). POST /v1/run answers with a stream of newline-delimited JSON
// frames (client.Frame): started, stdout and stderr chunks as the command
// produces them, then finished. A run request with "stdin": true is full
// duplex: its body goes on, after the request object, with stdin frames
// that become the command's standard input (see stdin.go).
package httpapi
