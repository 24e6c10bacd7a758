package bus

import (
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/envelope"
)

func TestDeadLetterMarkCovers(t *testing.T) {
	mark := DeadLetterMark{Offset: 10, Row: 3}
	cases := []struct {
		offset int64
		row    int
		want   bool
	}{
		{9, envelope.WholeRecord, true},
		{10, 2, true},
		{10, 3, true},
		{10, 4, false},
		{10, envelope.WholeRecord, false}, // a record's own reject follows its rows'
		{11, 0, false},
	}
	for _, c := range cases {
		if got := mark.Covers(c.offset, c.row); got != c.want {
			t.Errorf("mark %+v covers (%d, %d) = %v, want %v", mark, c.offset, c.row, got, c.want)
		}
	}
	whole := DeadLetterMark{Offset: 10, Row: envelope.WholeRecord}
	if !whole.Covers(10, envelope.WholeRecord) || !whole.Covers(10, 7) || whole.Covers(11, envelope.WholeRecord) {
		t.Errorf("a whole-record mark covers wrongly")
	}
}

// TestDeadLetterMarkOf: what DeadLetter writes is what LastDeadLetter
// reads back, for a whole record and for one row of an Arrow message (the
// processor's row reject, whose own envelope names the row); a reject that
// never was in Kafka, or of another partition, marks nothing.
func TestDeadLetterMarkOf(t *testing.T) {
	at := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	row := Message{Topic: "f", Partition: 2, Offset: 9, Value: []byte(`{}`), Headers: Headers(envelope.Envelope{ContentType: "application/json", Row: 4, HasRow: true})}
	cases := []struct {
		name      string
		dl        Message
		partition int
		want      DeadLetterMark
		ok        bool
	}{
		{"whole record", DeadLetter(Message{Topic: "f", Partition: 2, Offset: 7}, "r", at), 2, DeadLetterMark{Offset: 7, Row: envelope.WholeRecord}, true},
		{"a row", DeadLetter(row, "r", at), 2, DeadLetterMark{Offset: 9, Row: 4}, true},
		{"offset 0 of partition 0", DeadLetter(Message{Topic: "f", Partition: 0, Offset: 0}, "r", at), 0, DeadLetterMark{Offset: 0, Row: envelope.WholeRecord}, true},
		{"another partition", DeadLetter(Message{Topic: "f", Partition: 1, Offset: 7}, "r", at), 2, DeadLetterMark{}, false},
		{"another topic", DeadLetter(Message{Topic: "g", Partition: 2, Offset: 7}, "r", at), 2, DeadLetterMark{}, false},
		{"never in Kafka", DeadLetter(Message{Topic: "f", Offset: -1}, "r", at), 0, DeadLetterMark{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := markOf(&c.dl, "f", c.partition)
			if got != c.want || ok != c.ok {
				t.Errorf("mark %+v %v, want %+v %v", got, ok, c.want, c.ok)
			}
		})
	}
}
