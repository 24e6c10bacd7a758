package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cityhighway/highway/highway/store"
)

// pageLimits bound every query a page runs: pages must answer quickly and
// never hold much in memory.
var pageLimits = store.Limits{MaxExecutionTime: 10 * time.Second, MaxResultRows: 10_000, MaxResultBytes: 16 << 20, MaxMemory: 1 << 30}

// result is a small query result: column names and types, and rows of
// JSON values (json.Number for numbers, string, bool or nil).
type result struct {
	Names []string
	Types []string
	Rows  [][]any
}

// query runs sql on the connection that reads table (api.Server.QuerierFor)
// and returns its rows. sql is the portal's own, built from the catalogue.
func (s *Server) query(ctx context.Context, table, sql string) (*result, error) {
	q := s.cfg.API.QuerierFor(table)
	if q == nil {
		return nil, fmt.Errorf("no ClickHouse configured")
	}
	var buf bytes.Buffer
	if _, err := q.Query(ctx, sql, pageLimits, store.FormatJSON, &buf); err != nil {
		return nil, fmt.Errorf("querying %s: %w", table, err)
	}
	var doc struct {
		Meta []struct{ Name, Type string }
		Data []map[string]any
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading the result of %s: %w", table, err)
	}
	res := &result{}
	for _, m := range doc.Meta {
		res.Names = append(res.Names, m.Name)
		res.Types = append(res.Types, m.Type)
	}
	for _, d := range doc.Data {
		row := make([]any, len(res.Names))
		for i, n := range res.Names {
			row[i] = d[n]
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// number reads a JSON number (or a numeric string, as ClickHouse writes
// 64-bit integers in some formats); nil for NULL or anything else.
func number(v any) *float64 {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &f
}

// timeOf reads a time written as RFC 3339; the zero time otherwise.
func timeOf(v any) time.Time {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// text writes a value for a table cell.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= 20 {
			return t.In(hongKong).Format("2006-01-02 15:04:05")
		}
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// sqlTime is a time as ClickHouse SQL, whole seconds.
func sqlTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
