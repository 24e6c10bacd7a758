package bus

import (
	"strings"
	"testing"
)

func TestTopicReplication(t *testing.T) {
	tests := []struct {
		name                    string
		brokers, factor, insync int
		wantFactor, wantInsync  int
		wantErr                 string
	}{
		{name: "one broker", brokers: 1, wantFactor: 1},
		{name: "two brokers", brokers: 2, wantFactor: 2},
		{name: "three brokers", brokers: 3, wantFactor: 3, wantInsync: 2},
		{name: "five brokers", brokers: 5, wantFactor: 3, wantInsync: 2},
		{name: "no broker seen", brokers: 0, wantFactor: 1},
		{name: "factor configured", brokers: 5, factor: 5, wantFactor: 5, wantInsync: 4},
		{name: "both configured", brokers: 3, factor: 3, insync: 1, wantFactor: 3, wantInsync: 1},
		{name: "insync configured, factor derived", brokers: 3, insync: 3, wantFactor: 3, wantInsync: 3},
		{name: "insync above factor", brokers: 1, insync: 2, wantErr: "more than the replication factor 1"},
		{name: "negative factor", brokers: 3, factor: -1, wantErr: "must not be negative"},
		{name: "negative insync", brokers: 3, insync: -2, wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := topicReplication(tt.brokers, tt.factor, tt.insync)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.factor != tt.wantFactor || r.minInsync != tt.wantInsync {
				t.Fatalf("factor %d, min.insync %d; want %d, %d (%s)", r.factor, r.minInsync, tt.wantFactor, tt.wantInsync, r.why)
			}
			if r.why == "" {
				t.Fatal("no reason given for the choice")
			}
			if entries := r.configEntries(); (len(entries) == 1) != (tt.wantInsync > 0) {
				t.Fatalf("config entries %v for min.insync %d", entries, tt.wantInsync)
			}
		})
	}
}
