package control

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestReplicaFirstSyncDoesNotWait: a node whose state never changed (index
// 0) answers the first poll at once, so an API server starts without
// waiting a long poll out.
func TestReplicaFirstSyncDoesNotWait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "0s" {
			select { // a long poll of a state that does not change
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		_ = json.NewEncoder(w).Encode(State{})
	}))
	defer srv.Close()
	r, err := NewReplica(ReplicaConfig{Nodes: []string{srv.URL}, Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	sctx, scancel := context.WithTimeout(ctx, time.Second)
	defer scancel()
	if err := r.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	cancel()
}
