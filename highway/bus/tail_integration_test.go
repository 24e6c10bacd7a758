//go:build integration

package bus_test

import "testing"

// TestTailKafka runs the tail suite on the real broker.
func TestTailKafka(t *testing.T) {
	b, topic := newTestBus(t)
	tailSuite(t, b, topic)
}
