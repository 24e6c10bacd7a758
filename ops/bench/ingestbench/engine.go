package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/store"
)

// engineError says why ClickHouse's Kafka engine could not consume; the run
// goes on and reports kafka_engine=0 with the reason.
type engineError struct{ reason string }

func (e *engineError) Error() string { return e.reason }

// kafkaTable is the name of the Kafka engine table that feeds target.
func kafkaTable(target *catalog.Feed) string { return "kafka_" + target.Table() }

// viewName is the name of the materialized view that moves rows from the
// Kafka engine table into target.
func viewName(target *catalog.Feed) string { return "mv_" + target.Table() }

// attachEngine creates what a ClickHouse user would (target's table anew): a Kafka engine table on
// topic (JSONEachRow; time fields read as strings and parsed with
// parseDateTimeBestEffort, since the server's default DateTime input format
// does not take RFC 3339) and a materialized view into target, whose table
// has the same shape as highway's. 18.16's Kafka engine has no _partition or
// _offset virtual columns, so the view writes -1 there, and zero values in
// the provenance columns a Kafka message does not fill.
//
// 18.16 starts a new consumer group at the latest offset; to make it read
// the topic from the start, the group's offsets are committed at 0 first,
// while it has no members.
func (e *env) attachEngine(ctx context.Context, topic string, target *catalog.Feed, group string) error {
	if err := e.dropTable(ctx, target.Table()); err != nil {
		return err
	}
	if err := e.store.EnsureFeedTable(ctx, target); err != nil {
		return err
	}
	if err := e.presetGroup(ctx, group, topic); err != nil {
		return err
	}
	// The view fills every column of the target (18.16 insists): the
	// feed's fields from the message, the provenance it has, zero values for
	// the rest.
	var names, types []string
	q := "SELECT groupArray(name), groupArray(type) FROM system.columns WHERE database = ? AND table = ?" // 18.16 has no position; the view matches columns by name
	if err := e.store.QueryRow(ctx, []any{&names, &types}, q, e.db, target.Table()); err != nil {
		return err
	}
	meta := map[string]string{
		store.ColTopic: fmt.Sprintf("'%s'", topic), store.ColPartition: "toInt32(-1)", store.ColOffset: "toInt64(-1)", store.ColIngestedAt: "now()",
	}
	var cols, sel []string
	for i, name := range names {
		f := target.Field(name)
		switch {
		case f != nil && f.Type == catalog.Time && f.Required:
			cols = append(cols, name+" String")
			sel = append(sel, fmt.Sprintf("parseDateTimeBestEffort(%s) AS %s", name, name))
		case f != nil && f.Type == catalog.Time:
			cols = append(cols, name+" Nullable(String)")
			sel = append(sel, fmt.Sprintf("parseDateTimeBestEffortOrNull(%s) AS %s", name, name))
		case f != nil:
			cols = append(cols, name+" "+store.ColumnType(*f))
			sel = append(sel, name)
		case meta[name] != "":
			sel = append(sel, meta[name]+" AS "+name)
		default:
			sel = append(sel, zeroOf(types[i])+" AS "+name)
		}
	}
	ddl := fmt.Sprintf("CREATE TABLE %s.%s (%s) ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', "+
		"kafka_group_name = '%s', kafka_format = 'JSONEachRow', kafka_num_consumers = %d",
		e.db, kafkaTable(target), strings.Join(cols, ", "), e.o.kafka, topic, group, e.o.engineCons)
	view := fmt.Sprintf("CREATE MATERIALIZED VIEW %s.%s TO %s.%s AS SELECT %s FROM %s.%s",
		e.db, viewName(target), e.db, target.Table(), strings.Join(sel, ", "), e.db, kafkaTable(target))
	_ = os.WriteFile(filepath.Join(e.o.work, kafkaTable(target)+".sql"), []byte(ddl+";\n"+view+";\n"), 0o644)
	if err := e.store.Exec(ctx, ddl); err != nil {
		return &engineError{fmt.Sprintf("creating the Kafka engine table failed: %v", err)}
	}
	if err := e.store.Exec(ctx, view); err != nil {
		return &engineError{fmt.Sprintf("creating the materialized view failed: %v", err)}
	}
	return nil
}

// detachEngine drops the view and the Kafka table, which stops consuming.
func (e *env) detachEngine(ctx context.Context, target *catalog.Feed) {
	for _, t := range []string{viewName(target), kafkaTable(target)} {
		if err := e.store.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", e.db, t)); err != nil {
			e.log.Warn("dropping the Kafka engine's tables failed", "table", t, "err", err)
		}
	}
}

// measureEngine attaches the Kafka engine to the pre-filled topic and waits
// until target holds n rows. tag makes the consumer group unique.
func (e *env) measureEngine(ctx context.Context, topic string, target *catalog.Feed, n int64, tag string) (throughput, error) {
	group := fmt.Sprintf(engineGroupFmt, e.o.run, tag)
	meter := newCPUMeter(e.o.chPIDFile)
	if err := e.attachEngine(ctx, topic, target, group); err != nil {
		return throughput{}, err
	}
	defer e.detachEngine(context.WithoutCancel(ctx), target)
	began := time.Now() // the consumer starts with the view; the group preset is not timed
	var (
		last     int64
		lastMove = time.Now()
	)
	t, err := e.waitRows(ctx, target.Table(), n, began, drainTimeout(n), func(have int64) error {
		if have != last {
			last, lastMove = have, time.Now()
			return nil
		}
		if time.Since(lastMove) > 90*time.Second {
			return &engineError{fmt.Sprintf("no rows for 90 s (%d of %d in %s); ClickHouse's log says: %s", have, n, target.Table(), e.engineLog(began))}
		}
		return nil
	})
	t.CHCPU = meter.since()
	return t, err
}

// presetGroup commits offset 0 for every partition of topic in group, using
// the group like any member would, then leaves it. It returns once every
// partition is committed.
func (e *env) presetGroup(ctx context.Context, group, topic string) error {
	parts, err := e.bus.Partitions(ctx, topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		done = map[int]bool{}
		all  = make(chan struct{})
		once sync.Once
	)
	errc := make(chan error, 1)
	go func() {
		errc <- e.bus.Consume(ctx, group, topic, func(cctx context.Context, c *bus.Claim) error {
			if err := c.Commit(0); err != nil {
				return err
			}
			mu.Lock()
			done[c.Partition] = true
			if len(done) == len(parts) {
				once.Do(func() { close(all) })
			}
			mu.Unlock()
			<-cctx.Done()
			return nil
		})
	}()
	select {
	case <-all:
		cancel()
		<-errc
		return nil
	case err := <-errc:
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("presetting the offsets of group %s on %s: %w", group, topic, err)
	}
}

// engineLog returns the lines of ClickHouse's error log since began that
// mention Kafka, or a note that there are none.
func (e *env) engineLog(began time.Time) string {
	if e.o.chLog == "" {
		return "(no log: pass -clickhouse-log)"
	}
	f, err := os.Open(e.o.chLog)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", e.o.chLog, err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	stamp := began.Format("2006.01.02 15:04:05")
	for s.Scan() {
		l := s.Text()
		if len(l) >= len(stamp) && l[:len(stamp)] >= stamp && (strings.Contains(l, "Kafka") || strings.Contains(l, "rdk")) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("(no Kafka lines in %s since %s)", e.o.chLog, stamp)
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// zeroOf returns an expression of ClickHouse type typ's zero value (NULL
// for Nullable types), for columns the Kafka engine's view cannot fill.
func zeroOf(typ string) string {
	switch {
	case strings.HasPrefix(typ, "Nullable("):
		return fmt.Sprintf("CAST(NULL AS %s)", typ)
	case strings.HasPrefix(typ, "Array("):
		return fmt.Sprintf("CAST([] AS %s)", typ)
	case typ == "String" || strings.HasPrefix(typ, "FixedString"):
		return fmt.Sprintf("CAST('' AS %s)", typ)
	case typ == "DateTime" || strings.HasPrefix(typ, "DateTime("):
		return "toDateTime(0)"
	case typ == "Date":
		return "toDate(0)"
	}
	return fmt.Sprintf("CAST(0 AS %s)", typ)
}
