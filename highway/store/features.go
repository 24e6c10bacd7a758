package store

import "slices"

// Features are what the server offers beyond ClickHouse 18.16 that the
// store uses, chosen from its version (SELECT version(), read by Open).
// On 18.16 every feature is off and the store's statements are the ones it
// has always run; the feature decisions of the DDL are made here only.
//
// Nothing here changes what exactly-once ingestion depends on: the feed
// tables' columns (written by the store's own native insert as plain
// types, native_insert.go, and compared with system.columns by
// EnsureFeedTable), the batch ledger and the Landed check keep their types
// on every version. insert_deduplication_token is not used: the ledger and
// Landed already make a retried insert land once on a single server, where
// MergeTree ignores the token unless non_replicated_deduplication_window is
// set; replicated deduplication is the cluster DDL's (store/cluster*.go).
type Features struct {
	// TTL (19.6): a feed table drops rows past the feed's retention, the
	// push keys' table rows past two days.
	TTL bool
	// LowCardinality (experimental in 18.16; used from 20.3, an LTS
	// release): dictionary-encoded strings for columns of few values in
	// tables written by INSERT ... SELECT or through clickhouse-go, never
	// by the native insert: the window tables' String group columns, the
	// quality ledger's feed, the dead letters' feed, class, field and stage.
	LowCardinality bool
	// DateTime64 (20.1; used from 20.3): millisecond times where the value
	// has them: the dead letters' rejected_at (Kafka's record time).
	DateTime64 bool
}

// FeaturesOf returns the features a server of version v offers.
func FeaturesOf(v Version) Features {
	return Features{
		TTL:            v.AtLeast(19, 6),
		LowCardinality: v.AtLeast(20, 3),
		DateTime64:     v.AtLeast(20, 3),
	}
}

// lowCardinality returns typ as LowCardinality(typ) when the server has it
// and typ is String (or Nullable(String)).
func (f Features) lowCardinality(typ string) string {
	if f.LowCardinality && (typ == "String" || typ == "Nullable(String)") {
		return "LowCardinality(" + typ + ")"
	}
	return typ
}

// millis returns typ as DateTime64(3) when the server has it and typ is
// DateTime.
func (f Features) millis(typ string) string {
	if f.DateTime64 && typ == "DateTime" {
		return "DateTime64(3)"
	}
	return typ
}

// columns returns cols with the features applied: LowCardinality for the
// columns named in few, DateTime64(3) for those named in ms.
func (f Features) columns(cols []column, few, ms []string) []column {
	out := make([]column, len(cols))
	for i, c := range cols {
		switch {
		case slices.Contains(few, c.name):
			c.typ = f.lowCardinality(c.typ)
		case slices.Contains(ms, c.name):
			c.typ = f.millis(c.typ)
		}
		out[i] = c
	}
	return out
}
