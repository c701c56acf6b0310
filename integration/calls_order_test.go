package integration

import (
	"os"
	"testing"
)

// TestCallsAgentTopicsOrder is TestCallsFailures with the subscription to
// each agent's topic, as a partner who serves some agents writes it: each
// agent's events must still be handled in the order published.
//
// It fails today, so it runs only when asked for (IV_CHECK_TOPIC_ORDER=1):
// SubscribeDurable with several topics sends one SUBSCRIBE per topic, and
// each is a consumer of the name's one queue; RabbitMQ spreads the queue's
// messages over those consumers round robin, whatever their topic, and the
// order the consumer then sees is the interleaving of their frames. With
// one topic (events.AllAgents) the order holds, as TestCallsFailures shows.
func TestCallsAgentTopicsOrder(t *testing.T) {
	if os.Getenv("IV_CHECK_TOPIC_ORDER") != "1" {
		t.Skip("known to fail: a durable subscription to several topics is one queue consumer per topic, which loses the broker's order; IV_CHECK_TOPIC_ORDER=1 runs it")
	}
	b := needRabbit(t)
	t.Run("Consume", func(t *testing.T) { testTransient(t, b, false, true) })
	t.Run("ConsumeCalls", func(t *testing.T) { testTransient(t, b, true, true) })
}
