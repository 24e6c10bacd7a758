package poll

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// state is what a source remembers between polls and across restarts: the
// validators of the last payload, its content hash, and per feed and key
// the latest event time published (Unix milliseconds). A record no newer
// than that for its key was published already.
type state struct {
	path         string
	ETag         string                      `json:"etag,omitempty"`
	LastModified string                      `json:"last_modified,omitempty"`
	Hash         string                      `json:"hash,omitempty"`
	Latest       map[string]map[string]int64 `json:"latest,omitempty"`
}

func loadState(dir, source string) (*state, error) {
	st := &state{Latest: map[string]map[string]int64{}}
	if dir == "" {
		return st, nil
	}
	st.path = filepath.Join(dir, source+".json")
	data, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading connector state: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("connector state %s is corrupt (%v); delete it to start afresh (the latest payload is then published once more)", st.path, err)
	}
	if st.Latest == nil {
		st.Latest = map[string]map[string]int64{}
	}
	return st, nil
}

func (s *state) latest(feed, key string) int64 { return s.Latest[feed][key] }

func (s *state) merge(latest map[string]map[string]int64) {
	for feed, keys := range latest {
		if s.Latest[feed] == nil {
			s.Latest[feed] = map[string]int64{}
		}
		for k, at := range keys {
			s.Latest[feed][k] = max(s.Latest[feed][k], at)
		}
	}
}

// save writes the state atomically (a crash leaves the old or the new one).
func (s *state) save() error {
	if s.path == "" {
		return nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("saving connector state: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("saving connector state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("saving connector state: %w", err)
	}
	return nil
}
