package record

import "strings"

// KeySep separates the values of a compound key in a record's Kafka key.
const KeySep = "|"

// JoinKey makes a record's Kafka key: the values of its feed's key fields
// in their declared order, joined with KeySep. Connectors, the push API
// and the simulator key their records so; the key picks the partition, so
// one thing's records stay in order.
func JoinKey(parts ...string) string { return strings.Join(parts, KeySep) }
