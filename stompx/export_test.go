package stompx

// WithOneConnection makes the transport carry requests on the connection
// that receives replies and events, instead of a second one: the design
// the connection experiment (connections_test.go) measures against.
func WithOneConnection() Option {
	return func(o *options) error { o.oneConn = true; return nil }
}
