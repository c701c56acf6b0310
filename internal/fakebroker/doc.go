// Package fakebroker is the STOMP broker that ivtest's fake platform runs
// on loopback: STOMP 1.0-1.2 with RabbitMQ 3.10's semantics for queues,
// acknowledgements, durable subscriptions (x-queue-name and the queue
// arguments), expiry and dead letters, as measured on RabbitMQ (the
// scripts of rabbit_test.go run on both brokers).
//
// A program uses it through New, Listen, Addr and Close; Queue, HoldQueue,
// Overflows and SetClock let the platform and tests look inside. Why it
// does not use go-stomp's server package is told on Broker.
package fakebroker
