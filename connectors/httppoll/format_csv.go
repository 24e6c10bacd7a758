package httppoll

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cityhighway/highway/connectors/connector"
	"github.com/cityhighway/highway/highway/catalog"
)

// parseCSV reads a CSV payload: every row after the header (if the spec
// says there is one) is a record; a field's from names its column, or
// gives its number without a header.
func (p *Parser) parseCSV(payload []byte) (connector.Result, error) {
	var res connector.Result
	if bytes.HasPrefix(payload, []byte("\xff\xfe")) || bytes.HasPrefix(payload, []byte("\xfe\xff")) {
		return res, connector.Malformed(p.spec.Name, "the CSV is UTF-16; only UTF-8 is read")
	}
	r := csv.NewReader(bytes.NewReader(payload))
	r.Comma = p.spec.Delimiter
	r.FieldsPerRecord = -1 // a short row has nulls, it is not the end
	r.LazyQuotes = true
	fail := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return &connector.PayloadError{Source: p.spec.Name, Offset: -1, Where: fmt.Sprintf("line %d, column %d", pe.Line, pe.Column), Reason: "not CSV: " + pe.Err.Error(), Err: connector.ErrMalformed}
		}
		return connector.Malformed(p.spec.Name, "not CSV: %v", err)
	}
	// columns maps each mapping (by its position in the spec) to its column.
	columns := map[*catalog.Mapping]int{}
	if p.spec.Header {
		header, err := r.Read()
		if errors.Is(err, io.EOF) {
			return res, connector.Malformed(p.spec.Name, "the CSV is empty; a header row was expected")
		}
		if err != nil {
			return res, fail(err)
		}
		byName := map[string]int{}
		for i, h := range header {
			h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
			if _, dup := byName[h]; !dup {
				byName[h] = i
			}
		}
		for _, fm := range p.fields {
			if fm.m.HasValue {
				continue
			}
			i, ok := byName[strings.ToLower(strings.TrimSpace(fm.m.From))]
			if !ok {
				return res, connector.Malformed(p.spec.Name, "the header has no column %q (field %s); its columns are %s", fm.m.From, fm.field.Name, strings.Join(header, ", "))
			}
			columns[fm.m] = i
		}
	} else {
		for _, fm := range p.fields {
			columns[fm.m] = fm.m.Column - 1
		}
	}
	var o connector.Object
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fail(err)
		}
		line, _ := r.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		raw := []byte(strings.Join(row, string(p.spec.Delimiter)))
		p.build(&res, &o, fmt.Sprintf("line %d", line), raw, func(m *catalog.Mapping) (value, string) {
			i := columns[m]
			if i < 0 || i >= len(row) {
				return value{}, ""
			}
			return value{text: row[i], kind: text}, ""
		})
	}
}
