package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go/proto"
)

// newColumn returns the column of ClickHouse type t, or an error if the
// formats cannot carry that type.
func newColumn(t string) (resultColumn, error) {
	name, args := splitType(t)
	switch name {
	case "Int8":
		return &intCol[int8, proto.ColInt8, *proto.ColInt8]{}, nil
	case "Int16":
		return &intCol[int16, proto.ColInt16, *proto.ColInt16]{}, nil
	case "Int32":
		return &intCol[int32, proto.ColInt32, *proto.ColInt32]{}, nil
	case "Int64":
		return &intCol[int64, proto.ColInt64, *proto.ColInt64]{}, nil
	case "UInt8":
		return &uintCol[uint8, proto.ColUInt8, *proto.ColUInt8]{}, nil
	case "UInt16":
		return &uintCol[uint16, proto.ColUInt16, *proto.ColUInt16]{}, nil
	case "UInt32":
		return &uintCol[uint32, proto.ColUInt32, *proto.ColUInt32]{}, nil
	case "UInt64":
		return &uintCol[uint64, proto.ColUInt64, *proto.ColUInt64]{}, nil
	case "Float32":
		return &floatCol[float32, proto.ColFloat32, *proto.ColFloat32]{bits: 32}, nil
	case "Float64":
		return &floatCol[float64, proto.ColFloat64, *proto.ColFloat64]{bits: 64}, nil
	case "Bool":
		return &boolCol{}, nil
	case "String":
		return &stringCol{}, nil
	case "FixedString":
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad FixedString size %q", args)
		}
		return &fixedStringCol{fixedBytes{size: n}}, nil
	case "Enum8", "Enum16":
		names, err := parseEnum(args)
		if err != nil {
			return nil, err
		}
		if name == "Enum8" {
			return &enumCol[int8, proto.ColInt8, *proto.ColInt8]{names: names}, nil
		}
		return &enumCol[int16, proto.ColInt16, *proto.ColInt16]{names: names}, nil
	case "Date":
		return &dateCol[uint16, proto.ColUInt16, *proto.ColUInt16]{}, nil
	case "Date32":
		return &dateCol[int32, proto.ColInt32, *proto.ColInt32]{}, nil
	case "DateTime":
		return &dateTimeCol{}, nil
	case "DateTime64":
		p, _, _ := strings.Cut(args, ",")
		prec, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || prec < 0 || prec > 9 {
			return nil, fmt.Errorf("bad DateTime64 precision %q", p)
		}
		return &dateTime64Col{prec: prec}, nil
	case "Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		return newDecimal(name, args)
	case "Int128", "UInt128", "Int256", "UInt256":
		size := 16
		if strings.HasSuffix(name, "256") {
			size = 32
		}
		return textOf(&bigIntCol{fixedBytes: fixedBytes{size: size}, signed: name[0] == 'I'}), nil
	case "UUID":
		return textOf(&uuidCol{fixedBytes{size: 16}}), nil
	case "IPv4":
		return textOf(&ipv4Col{}), nil
	case "IPv6":
		return textOf(&ipv6Col{fixedBytes{size: 16}}), nil
	case "Nothing":
		return &nothingCol{}, nil
	case "Nullable":
		inner, err := newColumn(args)
		if err != nil {
			return nil, err
		}
		return &nullableCol{inner: inner}, nil
	case "LowCardinality":
		inner := args
		iname, iargs := splitType(inner)
		nullable := iname == "Nullable"
		if nullable {
			inner = iargs
		}
		dict, err := newColumn(inner)
		if err != nil {
			return nil, err
		}
		return &lowCardinalityCol{dict: dict, nullable: nullable}, nil
	case "Array":
		inner, err := newColumn(args)
		if err != nil {
			return nil, err
		}
		a := &arrayCol{inner: inner}
		a.self = a
		return a, nil
	case "Tuple":
		var elems []resultColumn
		for _, e := range splitArgs(args) {
			c, err := newColumn(e)
			if err != nil {
				// A named element: "name Type".
				if _, typ, ok := strings.Cut(e, " "); ok {
					c, err = newColumn(strings.TrimSpace(typ))
				}
			}
			if err != nil {
				return nil, err
			}
			elems = append(elems, c)
		}
		if len(elems) == 0 {
			return nil, errors.New("a tuple without elements")
		}
		tc := &tupleCol{elems: elems}
		tc.self = tc
		return tc, nil
	case "Map":
		// On the wire, Map(K, V) is Array(Tuple(K, V)).
		kv := splitArgs(args)
		if len(kv) != 2 {
			return nil, fmt.Errorf("bad Map arguments %q", args)
		}
		return newColumn("Array(Tuple(" + kv[0] + ", " + kv[1] + "))")
	case "SimpleAggregateFunction":
		a := splitArgs(args)
		if len(a) < 2 {
			return nil, fmt.Errorf("bad SimpleAggregateFunction arguments %q", args)
		}
		return newColumn(strings.Join(a[1:], ", "))
	}
	return nil, errors.New("no encoding for it")
}

// splitType splits "Name(args)" into Name and args.
func splitType(t string) (name, args string) {
	t = strings.TrimSpace(t)
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") {
		return t, ""
	}
	return t[:open], t[open+1 : len(t)-1]
}

// splitArgs splits type arguments at the commas outside parentheses and
// quotes.
func splitArgs(s string) []string {
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// parseEnum reads "'a' = 1, 'b' = 2".
func parseEnum(args string) (map[int16]string, error) {
	names := map[int16]string{}
	for _, e := range splitArgs(args) {
		eq := strings.LastIndexByte(e, '=')
		if eq < 0 {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(e[eq+1:]), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		q := strings.TrimSpace(e[:eq])
		if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
			return nil, fmt.Errorf("bad enum element %q", e)
		}
		name := q[1 : len(q)-1]
		if strings.ContainsRune(name, '\\') {
			var b strings.Builder
			for i := 0; i < len(name); i++ {
				if name[i] == '\\' && i+1 < len(name) {
					i++
				}
				b.WriteByte(name[i])
			}
			name = b.String()
		}
		names[int16(n)] = name
	}
	return names, nil
}
