package identity

// Handle lets the tests deliver an event as the bus would.
var Handle = (*Service).handle
