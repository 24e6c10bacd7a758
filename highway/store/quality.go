package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cityhighway/highway/highway/catalog"
)

// QualityTable is the quality ledger's table: one row per feed, ledger
// bucket and attempt of the job that wrote it (highway/quality). Each
// database of the Layout has one, and a feed's rows go where its own
// tables are, so a restricted feed's figures are as restricted as its rows.
const QualityTable = "highway_quality"

// FieldFigures are one field's figures in one ledger bucket.
type FieldFigures struct {
	Name string `json:"name"`
	// Nulls counts the rows where the field is null; NullShare is Nulls over
	// the bucket's rows.
	Nulls     uint64  `json:"nulls"`
	NullShare float64 `json:"null_share"`
	// OutOfRange counts the records rejected because this field was out of
	// its spec's range or enum; its share is over the rows plus the rejects.
	OutOfRange      uint64  `json:"out_of_range"`
	OutOfRangeShare float64 `json:"out_of_range_share"`
	// Min, Max and Mean cover the non-null values of a numeric field.
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
	Mean *float64 `json:"mean,omitempty"`
	// BaselineMean and BaselineNullShare are what Drift compares with: the
	// same time of day over the last 7 days (or the buckets just before).
	BaselineMean      *float64 `json:"baseline_mean,omitempty"`
	BaselineNullShare *float64 `json:"baseline_null_share,omitempty"`
	// Drift says the mean or the share of nulls moved beyond the feed's
	// thresholds (catalog.Expected).
	Drift bool `json:"drift,omitempty"`
}

// Rejects counts a bucket's dead-lettered records by reason (range, enum,
// required, type, unknown_field, malformed, late, other) and by field
// ("(record)" when no field was at fault).
type Rejects struct {
	ByReason map[string]uint64 `json:"by_reason,omitempty"`
	ByField  map[string]uint64 `json:"by_field,omitempty"`
}

// Reconciliation compares, for the messages that reached a feed's topic
// between two ledger runs, what Kafka holds with what ClickHouse holds.
type Reconciliation struct {
	// Source is what the connectors and pushes produced: the messages in
	// the range plus the records they rejected themselves in that time.
	Source uint64 `json:"source"`
	// Messages is how many messages the range of offsets holds in Kafka.
	Messages uint64 `json:"messages"`
	// Stored are those of them with rows in ClickHouse, DeadLettered those
	// the processors sent to the DLQ (a message of Arrow rows can be both;
	// it counts once in Explained).
	Stored       uint64 `json:"stored"`
	DeadLettered uint64 `json:"dead_lettered"`
	// InFlight are messages beyond what the processors have reached yet.
	InFlight uint64 `json:"in_flight"`
	// Deduped is an upper bound of the messages a pipeline's dedupe may
	// have dropped: missing messages of a feed that has dedupe.
	Deduped uint64 `json:"deduped"`
	// Unexplained is the reconciliation error: messages neither stored,
	// dead-lettered, in flight nor possibly deduped.
	Unexplained uint64 `json:"unexplained"`
	// From and To are the range's bounds, the times of the two runs.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// QualityParts are the parts a quality score is made of, each from 0 to 1
// (highway/quality documents each and the score's weights).
type QualityParts struct {
	Completeness float64 `json:"completeness"`
	Validity     float64 `json:"validity"`
	Timeliness   float64 `json:"timeliness"`
	Uniqueness   float64 `json:"uniqueness"`
	Stability    float64 `json:"stability"`
	Consistency  float64 `json:"consistency"`
}

// QualityRow is one row of the ledger: a feed's figures in one bucket.
// highway/quality documents how each is computed.
type QualityRow struct {
	Feed          string    `json:"feed"`
	Bucket        time.Time `json:"bucket"`
	BucketSeconds uint32    `json:"bucket_seconds"`

	Rows         uint64 `json:"rows"`
	Rejected     uint64 `json:"rejected"`
	DeadLettered uint64 `json:"dead_lettered"`
	Late         uint64 `json:"late"`
	Duplicates   uint64 `json:"duplicates"`
	Corrections  uint64 `json:"corrections"`

	IntervalsExpected uint32   `json:"intervals_expected"`
	IntervalsPresent  uint32   `json:"intervals_present"`
	Gaps              uint32   `json:"gaps"`
	KeysExpected      uint32   `json:"keys_expected"`
	KeysReporting     uint32   `json:"keys_reporting"`
	KeysMissing       uint32   `json:"keys_missing"`
	MissingKeys       []string `json:"missing_keys,omitempty"`

	MaxDelaySeconds int64  `json:"max_delay_seconds"`
	Freshness       string `json:"freshness"`
	DriftFields     uint32 `json:"drift_fields"`

	Score float64      `json:"score"`
	Parts QualityParts `json:"parts"`

	Rejects        Rejects         `json:"rejects"`
	Fields         []FieldFigures  `json:"fields"`
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`

	Attempt   uint32    `json:"-"`
	WrittenAt time.Time `json:"written_at"`
}

// qualityColumns are the ledger's columns in table order.
var qualityColumns = []column{
	{"feed", "String"}, {"bucket", "DateTime"}, {"bucket_seconds", "UInt32"},
	{"rows", "UInt64"}, {"rejected", "UInt64"}, {"dead_lettered", "UInt64"}, {"late", "UInt64"},
	{"duplicates", "UInt64"}, {"corrections", "UInt64"},
	{"intervals_expected", "UInt32"}, {"intervals_present", "UInt32"}, {"gaps", "UInt32"},
	{"keys_expected", "UInt32"}, {"keys_reporting", "UInt32"}, {"keys_missing", "UInt32"},
	{"max_delay_s", "Int64"}, {"freshness", "String"}, {"drift_fields", "UInt32"},
	{"score", "Float64"}, {"completeness", "Float64"}, {"validity", "Float64"}, {"timeliness", "Float64"},
	{"uniqueness", "Float64"}, {"stability", "Float64"}, {"consistency", "Float64"},
	{"recon_messages", "UInt64"}, {"recon_unexplained", "UInt64"},
	{"details", "String"},
	{ColAttempt, "UInt32"}, {ColNode, "String"}, {ColWrittenAt, "DateTime"},
}

// qualityDetails is what the details column holds, as JSON: the figures
// that are lists or maps.
type qualityDetails struct {
	MissingKeys    []string        `json:"missing_keys,omitempty"`
	Rejects        Rejects         `json:"rejects"`
	Fields         []FieldFigures  `json:"fields"`
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`
}

func (r *QualityRow) values(attempt int, node string, now time.Time) ([]any, error) {
	details, err := json.Marshal(qualityDetails{MissingKeys: r.MissingKeys, Rejects: r.Rejects, Fields: r.Fields, Reconciliation: r.Reconciliation})
	if err != nil {
		return nil, fmt.Errorf("encoding the ledger details of %s: %w", r.Feed, err)
	}
	var msgs, unexplained uint64
	if r.Reconciliation != nil {
		msgs, unexplained = r.Reconciliation.Messages, r.Reconciliation.Unexplained
	}
	return []any{r.Feed, r.Bucket.UTC(), r.BucketSeconds,
		r.Rows, r.Rejected, r.DeadLettered, r.Late, r.Duplicates, r.Corrections,
		r.IntervalsExpected, r.IntervalsPresent, r.Gaps, r.KeysExpected, r.KeysReporting, r.KeysMissing,
		r.MaxDelaySeconds, r.Freshness, r.DriftFields,
		r.Score, r.Parts.Completeness, r.Parts.Validity, r.Parts.Timeliness, r.Parts.Uniqueness, r.Parts.Stability, r.Parts.Consistency,
		msgs, unexplained, string(details), uint32(attempt), node, now.UTC()}, nil
}

func qualityColumnList() string {
	names := make([]string, len(qualityColumns))
	for i, c := range qualityColumns {
		names[i] = quoteIdent(c.name)
	}
	return strings.Join(names, ", ")
}

// qualityDatabases are the databases with a ledger table.
func (s *Store) qualityDatabases() []string {
	l := s.ddl.Layout()
	return []string{l.Open, l.Restricted}
}

// EnsureQualityTables creates the ledger's tables where they are missing:
// the ledger in both databases, the dead letters and the offsets the
// reconciliation keeps in the restricted one.
func (s *Store) EnsureQualityTables(ctx context.Context) error {
	for _, db := range s.qualityDatabases() {
		if err := s.conn.Exec(ctx, s.ddl.CreateDatabase(db)); err != nil {
			return fmt.Errorf("creating database %s: %w", db, err)
		}
		if err := s.createTable(ctx, db, QualityTable, s.ddl.Features().columns(qualityColumns, []string{"feed"}, nil), "toYYYYMM(bucket)", "feed, bucket, "+quoteIdent(ColAttempt)); err != nil {
			return err
		}
	}
	r := s.ddl.Layout().Restricted
	dl := s.ddl.Features().columns(deadLetterColumns, []string{"feed", "class", "field", "stage"}, []string{"rejected_at"})
	if err := s.createTable(ctx, r, DeadLetterTable, dl, "toYYYYMM(rejected_at)", "feed, partition, offset"); err != nil {
		return err
	}
	return s.createTable(ctx, r, QualityOffsetsTable, offsetColumns, "toYYYYMM(bucket)", "feed, bucket, partition, "+quoteIdent(ColAttempt))
}

// createTable creates db.table with MergeTree partitioned and ordered as
// given if it is missing.
func (s *Store) createTable(ctx context.Context, db, table string, cols []column, partition, order string) error {
	t := tableSpec{db: db, name: table, columns: cols, engine: "MergeTree", partition: partition, order: order, shardBy: "cityHash64(feed)"}
	if err := s.execAll(ctx, s.ddl.create(t)); err != nil {
		return fmt.Errorf("creating %s.%s: %w", db, table, err)
	}
	return nil
}

// WriteQuality appends ledger rows as the given attempt of their bucket;
// reads see each bucket's highest attempt only, so a retried slot replaces
// its rows. Each row goes to its feed's database.
func (s *Store) WriteQuality(ctx context.Context, feeds map[string]*catalog.Feed, rows []QualityRow, attempt int, node string) error {
	byDB := map[string][]QualityRow{}
	for _, r := range rows {
		f := feeds[r.Feed]
		if f == nil {
			return fmt.Errorf("writing the ledger: no feed called %q", r.Feed)
		}
		db := s.ddl.Layout().FeedDatabase(f)
		byDB[db] = append(byDB[db], r)
	}
	now := time.Now()
	for db, rs := range byDB {
		b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", quoteIdent(db), quoteIdent(QualityTable), qualityColumnList()))
		if err != nil {
			return fmt.Errorf("preparing the ledger insert: %w", err)
		}
		for i := range rs {
			vals, err := rs[i].values(attempt, node, now)
			if err == nil {
				err = b.Append(vals...)
			}
			if err != nil {
				_ = b.Abort()
				return fmt.Errorf("appending the ledger row of %s: %w", rs[i].Feed, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting %d ledger rows into %s: %w", len(rs), db, err)
		}
	}
	return nil
}

// ReadQuality returns a feed's ledger rows with buckets in [from, to), the
// highest attempt of each, oldest first; none before the ledger's tables
// exist.
func (s *Store) ReadQuality(ctx context.Context, feed *catalog.Feed, from, to time.Time) ([]QualityRow, error) {
	return s.readQuality(ctx, feed, fmt.Sprintf("bucket >= toDateTime(%d) AND bucket < toDateTime(%d)", from.Unix(), to.Unix()), "ASC", 0)
}

// LatestQuality returns a feed's last n ledger rows, newest first.
func (s *Store) LatestQuality(ctx context.Context, feed *catalog.Feed, n int) ([]QualityRow, error) {
	return s.readQuality(ctx, feed, "1", "DESC", n)
}

// QualityAt returns a feed's ledger rows of the given buckets (the highest
// attempt of each), oldest first; buckets without a row are left out.
func (s *Store) QualityAt(ctx context.Context, feed *catalog.Feed, buckets []time.Time) ([]QualityRow, error) {
	if len(buckets) == 0 {
		return nil, nil
	}
	ts := make([]string, len(buckets))
	for i, b := range buckets {
		ts[i] = fmt.Sprintf("toDateTime(%d)", b.Unix())
	}
	return s.readQuality(ctx, feed, "bucket IN ("+strings.Join(ts, ", ")+")", "ASC", 0)
}

func (s *Store) readQuality(ctx context.Context, feed *catalog.Feed, where, order string, limit int) ([]QualityRow, error) {
	db := s.ddl.Layout().FeedDatabase(feed)
	q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE feed = %s AND %s ORDER BY bucket %s, %s DESC LIMIT 1 BY bucket",
		qualityColumnList(), quoteIdent(db), quoteIdent(QualityTable), quoteString(feed.Name), where, order, quoteIdent(ColAttempt))
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.conn.Query(ctx, q)
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81) { // UNKNOWN_TABLE, UNKNOWN_DATABASE
		return nil, nil // no ledger written yet
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ledger of %s: %w", feed.Name, err)
	}
	defer rows.Close()
	var out []QualityRow
	for rows.Next() {
		var (
			r                 QualityRow
			msgs, unexplained uint64
			details, node     string
		)
		if err := rows.Scan(&r.Feed, &r.Bucket, &r.BucketSeconds,
			&r.Rows, &r.Rejected, &r.DeadLettered, &r.Late, &r.Duplicates, &r.Corrections,
			&r.IntervalsExpected, &r.IntervalsPresent, &r.Gaps, &r.KeysExpected, &r.KeysReporting, &r.KeysMissing,
			&r.MaxDelaySeconds, &r.Freshness, &r.DriftFields,
			&r.Score, &r.Parts.Completeness, &r.Parts.Validity, &r.Parts.Timeliness, &r.Parts.Uniqueness, &r.Parts.Stability, &r.Parts.Consistency,
			&msgs, &unexplained, &details, &r.Attempt, &node, &r.WrittenAt); err != nil {
			return nil, fmt.Errorf("reading the ledger of %s: %w", feed.Name, err)
		}
		var d qualityDetails
		if err := json.Unmarshal([]byte(details), &d); err != nil {
			return nil, fmt.Errorf("the ledger of %s, bucket %s: details: %w", feed.Name, r.Bucket.UTC().Format(time.RFC3339), err)
		}
		r.MissingKeys, r.Rejects, r.Fields, r.Reconciliation = d.MissingKeys, d.Rejects, d.Fields, d.Reconciliation
		r.Bucket, r.WrittenAt = r.Bucket.UTC(), r.WrittenAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
