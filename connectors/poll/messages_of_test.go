package poll

import (
	"testing"
	"time"

	"github.com/cityhighway/highway/connectors/connector"
)

// messagesOf runs p.messages and returns how many records it made into
// messages.
func messagesOf(b *testing.B, p *Poller, src Source, res connector.Result, fetched time.Time, st *state) int {
	msgs, _, _, _, _, err := p.messages(src, res, fetched, `"e"`, st)
	if err != nil {
		b.Fatal(err)
	}
	return len(msgs)
}
