package integration

import "testing"

// TestCallsAgentTopicsOrder is TestCallsFailures with the subscription to
// each agent's topic, as a partner who serves some agents writes it: each
// agent's events must still be handled in the order published.
//
// A durable subscription to several topics is still one consumer of the
// name's queue (stompx binds the topics, then consumes the queue once), so
// RabbitMQ's order holds; TestCallsFailures does the same with one topic
// (events.AllAgents).
func TestCallsAgentTopicsOrder(t *testing.T) {
	b := needRabbit(t)
	t.Run("Consume", func(t *testing.T) { testTransient(t, b, false, true) })
	t.Run("ConsumeCalls", func(t *testing.T) { testTransient(t, b, true, true) })
}
