package gateway

// tripwires is what the gateway needs of a tripwire monitor.
type tripwires interface {
	Reset(agent, session string)
}
