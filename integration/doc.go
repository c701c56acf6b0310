// Package integration holds the SDK's end-to-end tests that need more than
// one package's own test setup: they run the fake platform's request
// processor (package ivtest) against a real RabbitMQ and drive it through
// the STOMP transport (package stompx) and the typed client (package
// ivclient). It has no API; everything is in its test files.
//
// TestRabbitRestart stops and restarts the local RabbitMQ while calls are in
// flight, so it runs only when asked for, in a go test invocation of its own
// (other packages' tests use the same broker):
//
//	scripts/rabbitmq.sh start
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 IV_REQUIRE_BROKER=1 IV_RABBITMQ_RESTART=1 go test -race -count=1 -run TestRabbitRestart -v ./integration
//
// IV_RABBITMQ_STOP_CMD and IV_RABBITMQ_START_CMD override the commands that
// stop and start the broker ("rabbitmqctl stop_app" and "rabbitmqctl
// start_app"; split on spaces, run without a shell). The test starts the
// broker again even when it fails; only a test binary killed while the
// broker is stopped leaves it stopped (then run rabbitmqctl start_app).
package integration
