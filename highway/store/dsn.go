package store

import (
	"fmt"
	"net/url"
)

// WithDatabase returns dsn (clickhouse://host:port/database?options) made to
// point at database db, keeping its host, credentials and options.
func WithDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return "", fmt.Errorf("ClickHouse DSN %q: want clickhouse://host:9000/database", dsn)
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String(), nil
}
