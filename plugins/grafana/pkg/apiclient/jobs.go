package apiclient

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/cityhighway/highway/highway/catalog"
)

// Job is an entry of GET /api/v1/jobs ({"jobs": [...]}, served by the
// scheduler): an analytics job, its state and its spec. Only the fields the
// plugin uses are decoded.
type Job struct {
	Name   string   `json:"name"`
	Paused bool     `json:"paused,omitempty"`
	Spec   *JobSpec `json:"spec,omitempty"`
	// Table is read when the API puts the result table beside the name.
	Table string `json:"table,omitempty"`
}

// JobSpec is the part of a job's spec (catalog.Job) the plugin uses.
type JobSpec struct {
	Department  string `json:"department,omitempty"`
	Description string `json:"description,omitempty"`
	// Table is the result table; empty means catalog.DefaultJobTable of
	// the job's name, the spec's documented default.
	Table string `json:"table,omitempty"`
}

// ResultTableName returns the table that holds the job's results.
func (j *Job) ResultTableName() string {
	switch {
	case j.Spec != nil && j.Spec.Table != "":
		return j.Spec.Table
	case j.Table != "":
		return j.Table
	}
	return catalog.DefaultJobTable(j.Name)
}

// Run is an entry of GET /api/v1/jobs/{job}/runs: one attempt of one slot.
type Run struct {
	Job       string     `json:"job"`
	SlotStart time.Time  `json:"slot_start"`
	SlotEnd   time.Time  `json:"slot_end"`
	Attempt   int        `json:"attempt"`
	Node      string     `json:"node,omitempty"`
	State     string     `json:"state"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Rows      int64      `json:"rows"`
	Error     string     `json:"error,omitempty"`
}

// Jobs lists the analytics jobs the department may see. The API may answer
// a bare list or an object {"jobs": [...]}; both are accepted.
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var raw json.RawMessage
	if err := c.getJSON(ctx, "/api/v1/jobs", &raw); err != nil {
		return nil, err
	}
	return decodeList[Job](raw, "jobs")
}

// Runs lists the runs of a job, newest first as the API orders them.
func (c *Client) Runs(ctx context.Context, job string) ([]Run, error) {
	var raw json.RawMessage
	if err := c.getJSON(ctx, "/api/v1/jobs/"+url.PathEscape(job)+"/runs", &raw); err != nil {
		return nil, err
	}
	return decodeList[Run](raw, "runs")
}

// decodeList decodes a JSON list, bare or wrapped in an object under key.
func decodeList[T any](raw json.RawMessage, key string) ([]T, error) {
	var list []T
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var wrapped map[string]json.RawMessage
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, protocolErr("a list of " + key)
	}
	if err := json.Unmarshal(wrapped[key], &list); err != nil {
		return nil, protocolErr("a list of " + key)
	}
	return list, nil
}

func protocolErr(want string) error {
	return &protocolError{want: want}
}

type protocolError struct{ want string }

func (e *protocolError) Error() string { return ErrProtocol.Error() + ": expected " + e.want }
func (e *protocolError) Unwrap() error { return ErrProtocol }
