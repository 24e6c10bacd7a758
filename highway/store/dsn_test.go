package store

import (
	"strings"
	"testing"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		dsn, want, err string
	}{
		{"clickhouse://127.0.0.1:19000/default", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://127.0.0.1:19000", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://127.0.0.1:19000/", "clickhouse://127.0.0.1:19000/bench_1", ""},
		{"clickhouse://u:p@h:9000/db?dial_timeout=5s&compress=lz4", "clickhouse://u:p@h:9000/bench_1?dial_timeout=5s&compress=lz4", ""},
		{"127.0.0.1:9000", "", "want clickhouse://host:9000/database"},
		{"http://h:8123/db", "", "want clickhouse://"},
		{"clickhouse:///db", "", "want clickhouse://"},
	}
	for _, tt := range tests {
		got, err := WithDatabase(tt.dsn, "bench_1")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("WithDatabase(%q) = %q, %v; want an error containing %q", tt.dsn, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("WithDatabase(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
		}
	}
}
