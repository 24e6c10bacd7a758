package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OpenConn returns a store of database whose statements go to conn, as
// Open's do, after reading the server's version and time zone through it.
// It has no native-protocol pool: Insert is not available, and Query runs
// its statement through conn with its limits as a SETTINGS clause and
// writes nothing. Tests use it to run the store's statements on another
// engine (chdb).
func OpenConn(ctx context.Context, conn driver.Conn, database string) (*Store, error) {
	s, err := newStore(ctx, conn, nil, database, nil)
	if err != nil {
		return nil, err
	}
	s.queryVia = func(ctx context.Context, sql string, settings []setting) error {
		set := make([]string, len(settings))
		for i, st := range settings {
			set[i] = fmt.Sprintf("%s = %d", st.name, st.value)
		}
		return conn.Exec(ctx, sql+" SETTINGS "+strings.Join(set, ", "))
	}
	return s, nil
}
