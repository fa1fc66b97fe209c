package gateway

// Subscribers counts a feed's subscriptions in force.
func (f *Feed) Subscribers() int { return f.subscribers() }
