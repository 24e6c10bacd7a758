package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
)

// Handler serves the cluster and jobs API of this node, and the internal
// routes other nodes use to reach the leader:
//
//	GET    /api/v1/cluster                      members, leader, term, applied index
//	POST   /api/v1/cluster/join                 {"id","raft","http"}: add a member
//	DELETE /api/v1/cluster/members/{id}         remove a member
//	POST   /api/v1/cluster/members/{id}/drain   stop assigning to a member (undrain: again)
//	GET    /api/v1/jobs                         every job with its counts
//	POST   /api/v1/jobs                         create a job (YAML or JSON spec)
//	GET    /api/v1/jobs/{name}                  one job
//	PUT    /api/v1/jobs/{name}                  replace a job's definition
//	DELETE /api/v1/jobs/{name}                  delete a job and its record
//	POST   /api/v1/jobs/{name}/pause            (and /resume)
//	POST   /api/v1/jobs/{name}/trigger?slot=T   run the slot containing T (default: the last ended slot) now
//	GET    /api/v1/jobs/{name}/runs?limit=N     attempts, newest slot first (limit 0: all)
//	GET    /api/v1/control?after=N&wait=D       the control plane's tokens and grants (control.go)
//	POST   /api/v1/control/changes              change them
//
// Writes may be sent to any node; followers forward them to the leader.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/cluster", n.getCluster)
	mux.HandleFunc("POST /api/v1/cluster/join", n.postJoin)
	mux.HandleFunc("DELETE /api/v1/cluster/members/{id}", n.deleteMember)
	mux.HandleFunc("POST /api/v1/cluster/members/{id}/drain", n.drain(OpDrain))
	mux.HandleFunc("POST /api/v1/cluster/members/{id}/undrain", n.drain(OpUndrain))
	mux.HandleFunc("GET /api/v1/jobs", n.listJobs)
	mux.HandleFunc("POST /api/v1/jobs", n.putJob(true))
	mux.HandleFunc("GET /api/v1/jobs/{name}", n.getJob)
	mux.HandleFunc("PUT /api/v1/jobs/{name}", n.putJob(false))
	mux.HandleFunc("DELETE /api/v1/jobs/{name}", n.jobOp(OpDeleteJob))
	mux.HandleFunc("POST /api/v1/jobs/{name}/pause", n.jobOp(OpPause))
	mux.HandleFunc("POST /api/v1/jobs/{name}/resume", n.jobOp(OpResume))
	mux.HandleFunc("POST /api/v1/jobs/{name}/trigger", n.trigger)
	mux.HandleFunc("GET /api/v1/jobs/{name}/runs", n.runs)
	n.controlRoutes(mux)
	mux.HandleFunc("POST /internal/v1/forward", n.postForward)
	mux.HandleFunc("POST /internal/v1/heartbeat", n.postHeartbeat)
	return mux
}

// ClusterView is the answer of GET /api/v1/cluster.
type ClusterView struct {
	Node         string       `json:"node"`
	State        string       `json:"state"`
	Leader       string       `json:"leader"`
	LeaderHTTP   string       `json:"leader_http,omitempty"`
	Term         uint64       `json:"term"`
	AppliedIndex uint64       `json:"applied_index"`
	CommitIndex  uint64       `json:"commit_index"`
	Members      []MemberView `json:"members"`
}

// MemberView is one member of the cluster.
type MemberView struct {
	ID       string `json:"id"`
	Raft     string `json:"raft"`
	HTTP     string `json:"http,omitempty"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	Draining bool   `json:"draining"`
	Running  int    `json:"running"`
	Assigned int64  `json:"assigned"`
}

// Cluster describes the cluster as this node sees it.
func (n *Node) Cluster() (ClusterView, error) {
	_, leader := n.raft.LeaderWithID()
	v := ClusterView{
		Node: n.cfg.ID, State: n.raft.State().String(), Leader: string(leader), Term: n.raft.CurrentTerm(),
		AppliedIndex: n.raft.AppliedIndex(), CommitIndex: n.raft.CommitIndex(),
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return v, fmt.Errorf("reading the raft configuration: %w", err)
	}
	n.fsm.Read(func(s *State) {
		running := map[string]int{}
		for _, js := range s.Jobs {
			for _, sl := range js.Slots {
				if sl.State == SlotRunning {
					running[sl.Current().Node]++
				}
			}
		}
		for _, srv := range f.Configuration().Servers {
			m := MemberView{ID: string(srv.ID), Raft: string(srv.Address), Suffrage: srv.Suffrage.String(), Leader: srv.ID == leader, Running: running[string(srv.ID)]}
			if ns := s.Nodes[string(srv.ID)]; ns != nil {
				m.HTTP, m.Draining, m.Assigned = ns.HTTP, ns.Draining, ns.Assigned
			}
			v.Members = append(v.Members, m)
		}
		if ns := s.Nodes[string(leader)]; ns != nil {
			v.LeaderHTTP = ns.HTTP
		}
	})
	sort.Slice(v.Members, func(i, j int) bool { return v.Members[i].ID < v.Members[j].ID })
	return v, nil
}

func (n *Node) getCluster(w http.ResponseWriter, r *http.Request) {
	v, err := n.Cluster()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (n *Node) postJoin(w http.ResponseWriter, r *http.Request) {
	var req struct{ ID, Raft, HTTP string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ID == "" || req.Raft == "" {
		writeJSON(w, http.StatusBadRequest, wireError{Error: `want {"id": ..., "raft": "host:port", "http": "host:port"}`, Code: "bad_request"})
		return
	}
	if err := n.Join(r.Context(), req.ID, req.Raft, req.HTTP); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"joined": req.ID})
}

func (n *Node) deleteMember(w http.ResponseWriter, r *http.Request) {
	if err := n.Remove(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": r.PathValue("id")})
}

func (n *Node) drain(op Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := n.proposeRetry(r.Context(), &Command{Op: op, Node: r.PathValue("id")}); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{string(op): r.PathValue("id")})
	}
}

// JobView is a job as the jobs API shows it.
type JobView struct {
	Name      string       `json:"name"`
	Paused    bool         `json:"paused"`
	Version   int          `json:"version"`
	Next      *time.Time   `json:"next_slot,omitempty"`
	Skipped   int64        `json:"skipped"`
	Slots     int          `json:"slots"`
	Running   int          `json:"running"`
	Succeeded int          `json:"succeeded"`
	Failed    int          `json:"failed"`
	Last      *RunView     `json:"last,omitempty"`
	Spec      *catalog.Job `json:"spec"`
}

// RunView is one attempt of one slot.
type RunView struct {
	Job        string     `json:"job"`
	SlotStart  time.Time  `json:"slot_start"`
	SlotEnd    time.Time  `json:"slot_end"`
	SlotState  SlotState  `json:"slot_state"`
	Attempt    int        `json:"attempt"`
	Node       string     `json:"node"`
	State      string     `json:"state"`
	AssignedAt time.Time  `json:"assigned_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	Rows       int64      `json:"rows"`
	Error      string     `json:"error,omitempty"`
}

func jobView(name string, js *JobState) JobView {
	v := JobView{Name: name, Paused: js.Paused, Version: js.Version, Skipped: js.Skipped, Slots: len(js.Slots), Spec: js.Job}
	if js.Next != 0 {
		t := time.Unix(js.Next, 0).UTC()
		v.Next = &t
	}
	var last *Slot
	for _, sl := range js.Slots {
		switch sl.State {
		case SlotRunning, SlotRetry:
			v.Running++
		case SlotSucceeded:
			v.Succeeded++
		case SlotFailed:
			v.Failed++
		}
		if last == nil || sl.Start > last.Start {
			last = sl
		}
	}
	if last != nil && len(last.Attempts) > 0 {
		rv := runView(name, last, last.Current())
		v.Last = &rv
	}
	return v
}

func runView(name string, sl *Slot, a *Attempt) RunView {
	v := RunView{
		Job: name, SlotStart: time.Unix(sl.Start, 0).UTC(), SlotEnd: time.Unix(sl.End, 0).UTC(), SlotState: sl.State,
		Attempt: a.N, Node: a.Node, State: string(a.State), AssignedAt: time.UnixMilli(a.AssignedAt).UTC(), Rows: a.Rows, Error: a.Error,
	}
	if a.EndedAt != 0 {
		t := time.UnixMilli(a.EndedAt).UTC()
		v.EndedAt = &t
	}
	return v
}

// Jobs lists every job, sorted by name.
func (n *Node) Jobs() []JobView {
	var out []JobView
	n.fsm.Read(func(s *State) {
		for name, js := range s.Jobs {
			out = append(out, jobView(name, js))
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Runs lists the attempts of a job, newest slot first and, within a slot,
// newest attempt first; limit 0 lists all. ok is false when there is no
// such job.
func (n *Node) Runs(job string, limit int) (runs []RunView, ok bool) {
	n.fsm.Read(func(s *State) {
		js := s.Jobs[job]
		if js == nil {
			return
		}
		ok = true
		starts := make([]int64, 0, len(js.Slots))
		for st := range js.Slots {
			starts = append(starts, st)
		}
		slices.Sort(starts)
		slices.Reverse(starts)
		for _, st := range starts {
			sl := js.Slots[st]
			for i := len(sl.Attempts) - 1; i >= 0; i-- {
				if limit > 0 && len(runs) == limit {
					return
				}
				runs = append(runs, runView(job, sl, &sl.Attempts[i]))
			}
		}
	})
	return runs, ok
}

func (n *Node) listJobs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"jobs": n.Jobs()})
}

func (n *Node) getJob(w http.ResponseWriter, r *http.Request) {
	var v *JobView
	n.fsm.Read(func(s *State) {
		if js := s.Jobs[r.PathValue("name")]; js != nil {
			jv := jobView(r.PathValue("name"), js)
			v = &jv
		}
	})
	if v == nil {
		writeError(w, fmt.Errorf("%w %q", ErrNoJob, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// lookupJob finds a job of the replicated state, for the after check.
func (n *Node) lookupJob(name string) *catalog.Job {
	var j *catalog.Job
	n.fsm.Read(func(s *State) {
		if js := s.Jobs[name]; js != nil {
			j = js.Job
		}
	})
	return j
}

func (n *Node) putJob(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, wireError{Error: err.Error(), Code: "bad_request"})
			return
		}
		job, err := n.cat.ParseJob("request", body, n.lookupJob)
		if err != nil {
			var list catalog.ErrorList
			errors.As(err, &list)
			problems := make([]string, len(list))
			for i, e := range list {
				problems[i] = e.Error()
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid job", "code": "invalid", "problems": problems})
			return
		}
		if !create && job.Name != r.PathValue("name") {
			writeJSON(w, http.StatusBadRequest, wireError{Error: fmt.Sprintf("the body names job %q but the path %q", job.Name, r.PathValue("name")), Code: "bad_request"})
			return
		}
		if !create && n.lookupJob(job.Name) == nil {
			writeError(w, fmt.Errorf("%w %q", ErrNoJob, job.Name))
			return
		}
		if err := n.proposeRetry(r.Context(), &Command{Op: OpPutJob, Job: job, Create: create}); err != nil {
			writeError(w, err)
			return
		}
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		writeJSON(w, status, job)
	}
}

func (n *Node) jobOp(op Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := n.proposeRetry(r.Context(), &Command{Op: op, Name: name}); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"job": name, "done": string(op)})
	}
}

func (n *Node) trigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	job := n.lookupJob(name)
	if job == nil {
		writeError(w, fmt.Errorf("%w %q", ErrNoJob, name))
		return
	}
	sched, err := job.Schedule()
	if err != nil {
		writeError(w, err)
		return
	}
	var sp Span
	if q := r.URL.Query().Get("slot"); q != "" {
		t, err := time.Parse(time.RFC3339, q)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, wireError{Error: fmt.Sprintf("slot %q is not an RFC 3339 time", q), Code: "bad_request"})
			return
		}
		sp = slotContaining(sched, t)
	} else {
		cur := slotContaining(sched, time.Now())
		sp = slotContaining(sched, time.Unix(cur.Start-1, 0))
	}
	if err := n.proposeRetry(r.Context(), &Command{Op: OpTrigger, Name: name, Slot: sp.Start, End: sp.End}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"job": name, "slot_start": time.Unix(sp.Start, 0).UTC(), "slot_end": time.Unix(sp.End, 0).UTC()})
}

func (n *Node) runs(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		l, err := strconv.Atoi(q)
		if err != nil || l < 0 {
			writeJSON(w, http.StatusBadRequest, wireError{Error: "limit must be a whole number, 0 for all", Code: "bad_request"})
			return
		}
		limit = l
	}
	runs, ok := n.Runs(r.PathValue("name"), limit)
	if !ok {
		writeError(w, fmt.Errorf("%w %q", ErrNoJob, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

func (n *Node) postForward(w http.ResponseWriter, r *http.Request) {
	var c Command
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&c); err != nil {
		writeJSON(w, http.StatusBadRequest, wireError{Error: err.Error(), Code: "bad_request"})
		return
	}
	index, err := n.HandleForward(r.Context(), &c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, forwarded{Index: index})
}

func (n *Node) postHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req struct{ Node string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Node == "" {
		writeJSON(w, http.StatusBadRequest, wireError{Error: "want {\"node\": id}", Code: "bad_request"})
		return
	}
	if !n.IsLeader() {
		writeError(w, ErrNotLeader)
		return
	}
	n.HandleHeartbeat(req.Node)
	writeJSON(w, http.StatusOK, struct{}{})
}

// proposeRetry proposes for an API call: while no leader answers (an
// election, a dead leader's address) it tries again for up to 5 seconds.
func (n *Node) proposeRetry(ctx context.Context, c *Command) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := n.Propose(ctx, c)
		if err == nil || errors.Is(err, ErrRejected) || time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil && !errors.Is(err, ErrRejected) && !errors.Is(err, ErrNotLeader) {
				err = fmt.Errorf("%w: %v", ErrNotLeader, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), wireError{Error: err.Error(), Code: codeOf(err)})
}

// statusOf is the HTTP status of an error.
func statusOf(err error) int {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, control.ErrNoToken), errors.Is(err, control.ErrNoGrant), errors.Is(err, control.ErrNoRequest):
		status = http.StatusNotFound
	case errors.Is(err, ErrNoJob):
		status = http.StatusNotFound
	case errors.Is(err, ErrRejected):
		status = http.StatusConflict
	case errors.Is(err, ErrNotLeader), errors.Is(err, raft.ErrNotLeader):
		status = http.StatusServiceUnavailable
	}
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
