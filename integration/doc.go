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
//
// The whole-call tests (TestDurableWholeCalls*, TestCalls*) play the
// platform with calls published straight to the broker, run worker
// processes (this test binary again) with events.ConsumeCalls, SIGKILL or
// cut off the active one, and check every call record (TestCheckCalls
// shows what the checker catches). They need RabbitMQ (IV_RABBITMQ_ADDR);
// the failover one also runs on ivtest's broker and on the cluster.
// TestCallsLongCall lowers the broker's consumer_timeout (and its
// channel_tick_interval) for a minute, for every channel opened meanwhile,
// so it runs only when asked for, in a go test of its own, and sets both
// back when it ends:
//
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 IV_REQUIRE_BROKER=1 IV_RABBITMQ_CONSUMER_TIMEOUT=1 go test -race -count=1 -run '^(TestCalls|TestDurableWholeCalls|TestCheckCalls)' -v ./integration
//
// A test binary killed in that minute leaves them lowered: run
// rabbitmqctl eval 'application:set_env(rabbit, consumer_timeout, 1800000).'
// and the same for channel_tick_interval, 60000.
package integration
