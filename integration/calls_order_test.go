package integration

import "testing"

// TestCallsAgentTopicsOrder is TestCallsFailures with the subscription to
// each agent's topic, as a partner who serves some agents writes it: each
// agent's events must still be handled in the order published. (A durable
// subscription that makes one consumer of its queue per topic hands the
// broker's order over to the interleaving of those consumers.)
func TestCallsAgentTopicsOrder(t *testing.T) {
	b := needRabbit(t)
	t.Run("Consume", func(t *testing.T) { testTransient(t, b, false, true) })
	t.Run("ConsumeCalls", func(t *testing.T) { testTransient(t, b, true, true) })
}
