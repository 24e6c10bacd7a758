package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Inserts over the native protocol, encoded straight from Arrow. Going
// through clickhouse-go cost a processor a sixth of its CPU: every Arrow
// column was copied into Go slices ([]*T for Nullable ones), then into
// clickhouse-go's columns grown from empty for every batch, then encoded.
// Here each column's values go from the Arrow buffers into the block being
// sent, once, in ClickHouse's native column encoding (which for numbers is
// the Arrow buffer's own little-endian layout).

// insert runs sql, an INSERT ... VALUES with an explicit column list, and
// sends one block of rows whose columns encode writes: the server first
// answers with the table's columns for the listed ones, which are checked
// against names and types, then takes the block and ends with
// EndOfStream. A failed insert wrote nothing (ClickHouse writes a block
// atomically per table partition).
func (c *nativeConn) insert(ctx context.Context, sql string, names, types []string, rows int, encode func(b *proto.Buffer, version int)) (err error) {
	c.sendQuery(sql, nil)
	defer c.cancelOn(ctx)(&err)
	if err := c.flush(); err != nil {
		c.broken = true
		return err
	}
	if err := c.insertHeader(names, types); err != nil {
		return err
	}

	b := &c.buf
	b.Reset()
	proto.ClientCodeData.Encode(b)
	proto.ClientData{}.EncodeAware(b, c.version)
	if proto.FeatureBlockInfo.In(c.version) {
		proto.BlockInfo{BucketNum: -1}.Encode(b)
	}
	b.PutInt(len(names))
	b.PutInt(rows)
	encode(b, c.version)
	// The end of the data: an empty block.
	proto.ClientCodeData.Encode(b)
	proto.ClientData{}.EncodeAware(b, c.version)
	_ = proto.Block{Info: proto.BlockInfo{BucketNum: -1}}.EncodeBlock(b, c.version, nil)
	if err := c.flush(); err != nil {
		c.broken = true
		return err
	}
	return c.readUntilEnd()
}

// insertHeader reads the server's answer to an INSERT up to the block
// describing the columns, and checks them against names and types.
func (c *nativeConn) insertHeader(names, types []string) error {
	for {
		code, err := c.nextPacket()
		if err != nil {
			return err
		}
		switch code {
		case proto.ServerCodeData:
			var header proto.Results
			if err := c.skipBlock(header.Auto()); err != nil {
				c.broken = true
				return fmt.Errorf("reading the insert's columns: %w", err)
			}
			if len(header) != len(names) {
				c.broken = true
				return fmt.Errorf("ClickHouse expects %d columns for the insert, highway sends %d", len(header), len(names))
			}
			for i, col := range header {
				if col.Name != names[i] || string(col.Data.Type()) != types[i] {
					c.broken = true
					return fmt.Errorf("the table's column %d is %s %s, highway sends %s %s (was the table changed by hand?)",
						i+1, col.Name, col.Data.Type(), names[i], types[i])
				}
			}
			return nil
		case proto.ServerCodeException:
			return c.exception()
		default:
			if err := c.skipPacket(code); err != nil {
				return err
			}
		}
	}
}

// readUntilEnd reads the server's packets up to EndOfStream.
func (c *nativeConn) readUntilEnd() error {
	for {
		code, err := c.nextPacket()
		if err != nil {
			return err
		}
		switch code {
		case proto.ServerCodeEndOfStream:
			return nil
		case proto.ServerCodeException:
			return c.exception()
		default:
			if err := c.skipPacket(code); err != nil {
				return err
			}
		}
	}
}

// putColumnStart writes a column's name and type, which precede its data.
func putColumnStart(b *proto.Buffer, version int, name, typ string) {
	b.PutString(name)
	b.PutString(typ)
	if proto.FeatureCustomSerialization.In(version) {
		b.PutBool(false)
	}
}

// putArrowColumn writes the values of an Arrow column in the native
// encoding of a column of ClickHouse type chType: String, Int64, Float64,
// UInt8 (from bool) or DateTime (from millisecond timestamps), Nullable or
// not. A Nullable column is its null map (1 for null) followed by the
// values, with a zero value in each null row.
func putArrowColumn(b *proto.Buffer, col arrow.Array, nullable bool) error {
	n := col.Len()
	if nullable {
		for i := range n {
			if col.IsNull(i) {
				b.Buf = append(b.Buf, 1)
			} else {
				b.Buf = append(b.Buf, 0)
			}
		}
	} else if col.NullN() > 0 {
		return fmt.Errorf("%d null values for a column that cannot be null", col.NullN())
	}
	switch a := col.(type) {
	case *array.String:
		b.Buf = slices.Grow(b.Buf, len(a.ValueBytes())+2*n)
		for i := range n {
			v := a.Value(i) // a view, no copy
			if a.IsNull(i) {
				v = ""
			}
			b.Buf = binary.AppendUvarint(b.Buf, uint64(len(v)))
			b.Buf = append(b.Buf, v...)
		}
	case *array.Int64:
		putFixed(b, arrow.Int64Traits.CastToBytes(a.Int64Values()), 8, a)
	case *array.Float64:
		putFixed(b, arrow.Float64Traits.CastToBytes(a.Float64Values()), 8, a)
	case *array.Boolean:
		for i := range n {
			if a.IsValid(i) && a.Value(i) {
				b.Buf = append(b.Buf, 1)
			} else {
				b.Buf = append(b.Buf, 0)
			}
		}
	case *array.Timestamp:
		for i, ms := range a.TimestampValues() {
			secs := uint32(0)
			if a.IsValid(i) {
				secs = dateTime(int64(ms) / 1000)
			}
			b.Buf = binary.LittleEndian.AppendUint32(b.Buf, secs)
		}
	default:
		return fmt.Errorf("unexpected Arrow type %s", col.DataType())
	}
	return nil
}

// dateTime clamps Unix seconds to ClickHouse's DateTime range (what
// clickhouse-go does too).
// littleEndian says this machine stores numbers as ClickHouse's native
// format does, so fixed-size columns go out as their bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// putRaw appends fixed-size values (size bytes each) whose bytes in this
// machine's order are raw, little-endian, and returns where they start.
func putRaw(b *proto.Buffer, raw []byte, size int) int {
	start := len(b.Buf)
	b.Buf = append(b.Buf, raw...)
	if !littleEndian {
		for i := start; i < len(b.Buf); i += size {
			slices.Reverse(b.Buf[i : i+size])
		}
	}
	return start
}

// putFixed appends the values of a fixed-size column (raw as putRaw
// takes them) with null values as zeros.
func putFixed(b *proto.Buffer, raw []byte, size int, a arrow.Array) {
	start := putRaw(b, raw, size)
	if a.NullN() > 0 {
		for i := range a.Len() {
			if a.IsNull(i) {
				clear(b.Buf[start+i*size : start+(i+1)*size])
			}
		}
	}
}

func dateTime(secs int64) uint32 {
	return uint32(min(max(secs, 0), math.MaxUint32))
}

// putStrings writes n strings: vals[i], or the same s for every row when
// vals is nil.
func putStrings(b *proto.Buffer, vals []string, s string, n int) {
	if vals == nil { // one value n times: encode it once
		if n == 0 {
			return
		}
		start := len(b.Buf)
		b.Buf = binary.AppendUvarint(b.Buf, uint64(len(s)))
		b.Buf = append(b.Buf, s...)
		one := len(b.Buf) - start
		b.Buf = slices.Grow(b.Buf, one*(n-1))
		for range n - 1 {
			b.Buf = append(b.Buf, b.Buf[start:start+one]...)
		}
		return
	}
	for _, s := range vals[:n] {
		b.Buf = binary.AppendUvarint(b.Buf, uint64(len(s)))
		b.Buf = append(b.Buf, s...)
	}
}
