package sim

import "testing"

// TestDefaultShape: the simulator and the HTTP simulator fill in the same
// documented defaults for speed, bad share and seed, and keep values given.
func TestDefaultShape(t *testing.T) {
	type shape struct {
		speed, badShare float64
		seed            uint64
	}
	tests := []struct {
		name string
		in   shape
		want shape
	}{
		{"zero", shape{}, shape{1, 0.002, 1}},
		{"negative speed", shape{speed: -3}, shape{1, 0.002, 1}},
		{"given", shape{60, 0.3, 7}, shape{60, 0.3, 7}},
		{"bad records off", shape{badShare: -1}, shape{1, -1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{Speed: tt.in.speed, BadShare: tt.in.badShare, Seed: tt.in.seed}, nil)
			if got := (shape{s.cfg.Speed, s.cfg.BadShare, s.cfg.Seed}); got != tt.want {
				t.Errorf("New: %+v, want %+v", got, tt.want)
			}
			srv := NewServer(ServerConfig{Speed: tt.in.speed, BadShare: tt.in.badShare, Seed: tt.in.seed})
			if got := (shape{srv.cfg.Speed, srv.cfg.BadShare, srv.cfg.Seed}); got != tt.want {
				t.Errorf("NewServer: %+v, want %+v", got, tt.want)
			}
		})
	}
}
