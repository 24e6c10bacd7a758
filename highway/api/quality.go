package api

// Quality is what the processors running in this process saw of a feed since
// they started: records read, rejected (by the field at fault), and the
// share accepted. It comes from the processors' Prometheus series, so it is
// present only where processors share the API's registry (highway dev); a
// separate `highway serve` leaves it out.
type Quality struct {
	RecordsIn uint64 `json:"records_in"`
	Rejected  uint64 `json:"rejected"`
	// RejectsByField counts rejects by the field at fault; "(record)" is a
	// record that was not a valid object at all.
	RejectsByField map[string]uint64 `json:"rejects_by_field,omitempty"`
	// Completeness is the share of records read that were accepted, from 0
	// to 1; absent before the first record.
	Completeness *float64 `json:"completeness,omitempty"`
	// Since says what the counts cover.
	Since string `json:"since"`
}

// The processors' series that Quality reads (highway/stream/metrics.go).
const (
	metricRecordsIn = "highway_processor_records_in_total"
	metricRejects   = "highway_processor_rejects_total"
)

// quality reads every feed's Quality from the gatherer; nil when the
// processors' series are not there.
func (s *Server) quality() map[string]*Quality {
	families, err := s.cfg.Gatherer.Gather()
	if err != nil && len(families) == 0 {
		return nil
	}
	out := map[string]*Quality{}
	get := func(feed string) *Quality {
		q := out[feed]
		if q == nil {
			q = &Quality{Since: "the start of the processors in this process"}
			out[feed] = q
		}
		return q
	}
	for _, mf := range families {
		switch mf.GetName() {
		case metricRecordsIn, metricRejects:
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			var feed, field string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "feed":
					feed = l.GetValue()
				case "field":
					field = l.GetValue()
				}
			}
			if feed == "" || m.GetCounter() == nil {
				continue
			}
			v := uint64(m.GetCounter().GetValue())
			q := get(feed)
			if mf.GetName() == metricRecordsIn {
				q.RecordsIn += v
				continue
			}
			q.Rejected += v
			if q.RejectsByField == nil {
				q.RejectsByField = map[string]uint64{}
			}
			q.RejectsByField[field] += v
		}
	}
	for _, q := range out {
		if q.RecordsIn > 0 {
			c := 1 - float64(min(q.Rejected, q.RecordsIn))/float64(q.RecordsIn)
			q.Completeness = &c
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
