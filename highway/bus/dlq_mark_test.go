package bus

import "testing"

func TestDeadLetterMarkCovers(t *testing.T) {
	mark := DeadLetterMark{Offset: 10, Row: 3}
	cases := []struct {
		offset int64
		row    int
		want   bool
	}{
		{9, WholeRecord, true},
		{10, 2, true},
		{10, 3, true},
		{10, 4, false},
		{10, WholeRecord, false}, // a record's own reject follows its rows'
		{11, 0, false},
	}
	for _, c := range cases {
		if got := mark.Covers(c.offset, c.row); got != c.want {
			t.Errorf("mark %+v covers (%d, %d) = %v, want %v", mark, c.offset, c.row, got, c.want)
		}
	}
	whole := DeadLetterMark{Offset: 10, Row: WholeRecord}
	if !whole.Covers(10, WholeRecord) || !whole.Covers(10, 7) || whole.Covers(11, WholeRecord) {
		t.Errorf("a whole-record mark covers wrongly")
	}
}
