package store

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The columns written by their text (plainText) decode their native values
// and write the same text in JSON (quoted), CSV and Arrow.
func TestPlainTextColumns(t *testing.T) {
	for _, tc := range []struct {
		typ    string
		native string // hex, two rows
		want   [2]string
	}{
		{"UUID", "e711b35c04c4f061a0dbd36a00a67b90" + "01000000000000000000000000000000",
			[2]string{"61f0c404-5cb3-11e7-907b-a6006ad3dba0", "00000000-0000-0001-0000-000000000000"}},
		{"IPv4", "0100000a" + "ffffffff", [2]string{"10.0.0.1", "255.255.255.255"}},
		{"IPv6", "00000000000000000000ffff01020304" + "20010db8000000000000000000000001", [2]string{"1.2.3.4", "2001:db8::1"}},
		{"Int128", strings.Repeat("ff", 16) + "02" + strings.Repeat("00", 15), [2]string{"-1", "2"}},
		{"UInt256", strings.Repeat("ff", 32) + "01" + strings.Repeat("00", 31),
			[2]string{"115792089237316195423570985008687907853269984665640564039457584007913129639935", "1"}},
		{"Decimal128(3)", "ce" + strings.Repeat("ff", 15) + "39300000" + strings.Repeat("00", 12), [2]string{"-0.050", "12.345"}},
		{"Decimal(76, 2)", "0a" + strings.Repeat("00", 31) + "f6" + strings.Repeat("ff", 31), [2]string{"0.10", "-0.10"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			c, err := newColumn(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := hex.DecodeString(tc.native)
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeColumn(proto.NewReader(bytes.NewReader(raw)), c, 2); err != nil {
				t.Fatal(err)
			}
			b := array.NewBuilder(memory.DefaultAllocator, c.arrowType())
			defer b.Release()
			c.appendArrow(b, 0, 2, []uint8{0, 1})
			arr := b.NewArray().(*array.String)
			defer arr.Release()
			for i, want := range tc.want {
				if got := string(c.appendJSON(nil, i)); got != `"`+want+`"` {
					t.Errorf("row %d JSON = %s, want %q", i, got, want)
				}
				if got := string(c.appendCSV(nil, i)); got != want {
					t.Errorf("row %d CSV = %s, want %s", i, got, want)
				}
			}
			if arr.Len() != 2 || arr.Value(0) != tc.want[0] || !arr.IsNull(1) {
				t.Errorf("Arrow = %v, want [%s null]", arr, tc.want[0])
			}
		})
	}
}
