package stompx

// WithOneConnection makes the transport carry requests on the connection
// that receives replies and events, instead of a second one: the design
// the connection experiment (connections_test.go) measures against.
func WithOneConnection() Option {
	return func(o *options) error { o.oneConn = true; return nil }
}

// WithIOEndHook runs f each time go-stomp closes one of the transport's
// connections as its I/O goroutine ends (or in Disconnect), before the
// close: a test holds go-stomp there to see that Close waits for it.
func WithIOEndHook(f func()) Option {
	return func(o *options) error { o.ioEndHook = f; return nil }
}
