package scheduler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/internal/testenv"
)

// controlPlane is a 3-node cluster with each node's HTTP API served, and
// an API server attached to each node through a control.Replica.
type controlPlane struct {
	*cluster
	urls map[string]string
	srvs map[string]*httptest.Server
	apis map[string]*api.Server
	reps map[string]*control.Replica
}

func newControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	c := newCluster(t, newFakeRunner(time.Millisecond), nil, "n1", "n2", "n3")
	cat := testenv.ControlCatalog(t, "TD")
	cp := &controlPlane{cluster: c, urls: map[string]string{}, srvs: map[string]*httptest.Server{}, apis: map[string]*api.Server{}, reps: map[string]*control.Replica{}}
	ctx, cancel := context.WithCancel(context.Background())
	for _, id := range c.ids {
		srv := httptest.NewServer(c.nodes[id].Handler())
		t.Cleanup(srv.Close)
		cp.srvs[id], cp.urls[id] = srv, srv.URL
		rep, err := control.NewReplica(control.ReplicaConfig{Nodes: []string{srv.URL}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		go rep.Run(ctx)
		cp.reps[id] = rep
		a := api.New(api.Config{Catalog: cat, Tokens: rep, Grants: rep, Logger: quiet, Gatherer: prometheus.NewRegistry()})
		t.Cleanup(a.Close)
		cp.apis[id] = a
	}
	t.Cleanup(cancel) // first: the long polls end, then the servers close
	c.leader()
	return cp
}

// client returns a control plane client of the given nodes, in order.
func (cp *controlPlane) client(t *testing.T, ids ...string) *control.Client {
	t.Helper()
	var urls []string
	for _, id := range ids {
		urls = append(urls, cp.urls[id])
	}
	cl, err := control.NewClient(urls, "")
	if err != nil {
		t.Fatal(err)
	}
	cl.Actor = "test"
	return cl
}

// status is the status of GET path on the API server attached to node id.
func (cp *controlPlane) status(id, token, path string) int {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rr := httptest.NewRecorder()
	cp.apis[id].ServeHTTP(rr, r)
	return rr.Code
}

// waitStatus waits until GET path answers want on node id's API server
// and returns how long that took.
func (cp *controlPlane) waitStatus(t *testing.T, id, token, path string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cp.status(id, token, path) == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("the API server attached to %s did not answer %d to %s within %s", id, want, path, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestControlRevokePropagates revokes tokens through one node and measures
// when the API servers attached to the two others refuse them: within a
// second, each time.
func TestControlRevokePropagates(t *testing.T) {
	cp := newControlPlane(t)
	ctx := context.Background()
	const rounds = 10
	var took []time.Duration
	for i := range rounds {
		via := cp.ids[i%3]
		cl := cp.client(t, via)
		tok, info, err := cl.CreateWith(ctx, "TD", api.TokenSpec{Note: fmt.Sprint("round ", i)})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range cp.ids {
			cp.waitStatus(t, id, tok, "/api/v1/me", http.StatusOK, time.Second)
		}
		start := time.Now()
		if err := cl.Revoke(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range cp.ids {
			if id == via {
				continue
			}
			cp.waitStatus(t, id, tok, "/api/v1/me", http.StatusUnauthorized, time.Second)
			took = append(took, time.Since(start))
		}
	}
	slices.Sort(took)
	t.Logf("revoke propagation over %d revocations (revoke sent to one node, refused by the API servers of the two others): median %s, max %s",
		rounds, took[len(took)/2].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
	fmt.Printf("revoke_propagation rounds=%d median_ms=%.2f max_ms=%.2f\n", rounds, ms(took[len(took)/2]), ms(took[len(took)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestControlGrantReachesEveryAPIServer grants a restricted feed through a
// follower with an end: every API server shows the feed at once and hides
// it again after the end, and after the grant is removed.
func TestControlGrantReachesEveryAPIServer(t *testing.T) {
	cp := newControlPlane(t)
	ctx := context.Background()
	cl := cp.client(t, cp.ids...)
	tok, _, err := cl.CreateWith(ctx, "TD", api.TokenSpec{})
	if err != nil {
		t.Fatal(err)
	}
	const feed = "/api/v1/feeds/police.cases"
	for _, id := range cp.ids {
		cp.waitStatus(t, id, tok, feed, http.StatusNotFound, time.Second)
	}
	if _, err := cl.Grant(ctx, "TD", "police.cases", time.Time{}, "ticket 1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range cp.ids {
		cp.waitStatus(t, id, tok, feed, http.StatusOK, time.Second)
	}
	if _, err := cl.Ungrant(ctx, "TD", "police.cases"); err != nil {
		t.Fatal(err)
	}
	for _, id := range cp.ids {
		cp.waitStatus(t, id, tok, feed, http.StatusNotFound, time.Second)
	}
	if _, err := cl.Ungrant(ctx, "TD", "police.cases"); err == nil || !strings.Contains(err.Error(), "not granted") {
		t.Errorf("removing a grant twice: %v", err)
	}
	// A grant with an end stops by itself.
	if _, err := cl.Grant(ctx, "TD", "police.cases", time.Now().Add(1500*time.Millisecond), ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range cp.ids {
		cp.waitStatus(t, id, tok, feed, http.StatusOK, time.Second)
	}
	for _, id := range cp.ids {
		cp.waitStatus(t, id, tok, feed, http.StatusNotFound, 3*time.Second)
	}
}

// TestControlLeaderKilledMidGrant kills the leader while a grant is in
// flight on it, at several moments: the grant ends up on every surviving
// node exactly once when the client says it applied, and on none when it
// says it did not.
func TestControlLeaderKilledMidGrant(t *testing.T) {
	for _, delay := range []time.Duration{0, 500 * time.Microsecond, 2 * time.Millisecond, 10 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			cp := newControlPlane(t)
			leader := cp.leader().ID()
			order := []string{leader}
			for _, id := range cp.ids {
				if id != leader {
					order = append(order, id)
				}
			}
			cl := cp.client(t, order...)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				cp.stop(leader)
				cp.srvs[leader].CloseClientConnections()
			}()
			a, err := cl.Grant(context.Background(), "TD", "police.cases", time.Time{}, "mid-grant")
			wg.Wait()
			survivors := order[1:]
			counts := func() []int {
				var n []int
				for _, id := range survivors {
					st, _ := cp.nodes[id].FSM().Control()
					k := 0
					for _, g := range st.Grants {
						if g.Department == "TD" && g.Feed == "police.cases" {
							k++
						}
					}
					n = append(n, k)
				}
				return n
			}
			want := 1
			if err != nil {
				want = 0
				if !strings.Contains(err.Error(), "NOT applied") {
					t.Fatalf("the client neither applied the grant nor says it did not: %v", err)
				}
			}
			deadline := time.Now().Add(2 * time.Second)
			for !slices.Equal(counts(), []int{want, want}) {
				if time.Now().After(deadline) {
					t.Fatalf("grant on the surviving nodes %v: %v, want %d each (client: %+v, %v)", survivors, counts(), want, a, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("leader %s killed %s into the grant: client applied=%v retried=%v err=%v; surviving nodes hold it %v times", leader, delay, err == nil, a.Retried, err, counts())
		})
	}
}

// TestControlNoQuorum: with two of three nodes down, a grant cannot
// apply, and the client says it was not applied.
func TestControlNoQuorum(t *testing.T) {
	cp := newControlPlane(t)
	alive := cp.ids[0]
	for _, id := range cp.ids[1:] {
		cp.stop(id)
		cp.srvs[id].CloseClientConnections()
	}
	cl := cp.client(t, cp.ids[0], cp.ids[1], cp.ids[2])
	cl.Retry = time.Second
	_, err := cl.Grant(context.Background(), "TD", "police.cases", time.Time{}, "")
	if err == nil || !strings.Contains(err.Error(), "NOT applied") {
		t.Fatalf("grant without a quorum: %v, want NOT applied", err)
	}
	if st, _ := cp.nodes[alive].FSM().Control(); len(st.Grants) != 0 {
		t.Errorf("grants %+v on the surviving node", st.Grants)
	}
	t.Log(err)
}

// TestControlSnapshotRestore checks that tokens and grants survive a
// snapshot and its restore, and that restore wakes the watchers.
func TestControlSnapshotRestore(t *testing.T) {
	f := NewFSM(quiet)
	_, tok, err := control.NewToken("TD", control.TokenSpec{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	errs := applyAll(t, f,
		&Command{Op: Op(control.OpTokenCreate), Control: &control.Change{Op: control.OpTokenCreate, Token: &tok}, At: 1000},
		&Command{Op: Op(control.OpGrantAdd), Control: &control.Change{Op: control.OpGrantAdd, Grant: &control.Grant{Department: "TD", Feed: "police.cases"}}, At: 2000},
		&Command{Op: Op(control.OpTokenRevoke), At: 3000},
	)
	if errs[0] != nil || errs[1] != nil || errs[2] == nil {
		t.Fatalf("errors %v: want nil, nil, a control entry without its change refused", errs)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := NewFSM(quiet)
	_, changed := g.Control()
	if err := g.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("restore did not wake the control plane's watchers")
	}
	st, _ := g.Control()
	want, _ := f.Control()
	if st.Index != want.Index || len(st.Tokens) != 1 || st.Tokens[0].Hash != tok.Hash || len(st.Grants) != 1 {
		t.Errorf("restored %+v, want %+v", st, want)
	}
}

// TestControlExpiryPrunes ends an approved access request's grant, a plain
// grant and a pending request: on every node the ended grants leave the
// state and the requests are stored expired, and the cluster writes one
// audit entry for each, all on the leader.
func TestControlExpiryPrunes(t *testing.T) {
	cp := newControlPlane(t)
	ctx := context.Background()
	cl := cp.client(t, cp.ids...)
	end := time.Now().Add(1500 * time.Millisecond).UTC()
	later := time.Now().Add(time.Hour).UTC()
	changes := []*control.Change{
		{Op: control.OpRequestCreate, Request: &control.Request{ID: "ar_approved", Department: "TD", Feed: "police.cases", Owner: "POLICE", Purpose: "p", Until: later}},
		{Op: control.OpRequestApprove, Request: &control.Request{ID: "ar_approved", DecidedBy: "tok_police", GrantUntil: &end}},
		{Op: control.OpRequestCreate, Request: &control.Request{ID: "ar_pending", Department: "EPD", Feed: "police.cases", Owner: "POLICE", Purpose: "p", Until: end}},
		{Op: control.OpGrantAdd, Grant: &control.Grant{Department: "HKO", Feed: "police.cases", Until: &end}},
		{Op: control.OpGrantAdd, Grant: &control.Grant{Department: "DSD", Feed: "police.cases"}},
	}
	for _, ch := range changes {
		if _, err := cl.Apply(ctx, ch); err != nil {
			t.Fatalf("%s: %v", ch.Op, err)
		}
	}
	pruned := func(id string) bool {
		st, _ := cp.nodes[id].FSM().Control()
		for _, r := range st.Requests {
			if r.State != control.RequestExpired {
				return false
			}
		}
		return len(st.Grants) == 1 && st.Grants[0].Department == "DSD" && len(st.Requests) == 2
	}
	for _, id := range cp.ids {
		deadline := time.Now().Add(5 * time.Second)
		for !pruned(id) {
			if time.Now().After(deadline) {
				st, _ := cp.nodes[id].FSM().Control()
				t.Fatalf("node %s holds grants %+v and requests %+v 5 s after their end", id, st.Grants, st.Requests)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("pruned on every node %.0f ms after the end", ms(time.Since(end)))
	time.Sleep(300 * time.Millisecond) // several more ticks of the leader
	for _, action := range []string{AuditGrantExpired, AuditRequestExpired} {
		var got []string
		for _, id := range cp.ids {
			for _, e := range cp.audits[id].actions(action) {
				got = append(got, id+":"+e.Department)
			}
		}
		slices.Sort(got)
		leader := cp.leader().ID()
		want := []string{leader + ":EPD", leader + ":TD"}
		if action == AuditGrantExpired {
			want = []string{leader + ":HKO", leader + ":TD"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s entries (node:department) %v, want %v", action, got, want)
		}
	}
}
