package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a ClickHouse server version, major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses the output of SELECT version(), e.g. "18.16.1" or
// "24.8.4.13".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("cannot parse ClickHouse version %q", s)
	}
	var v [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return Version{}, fmt.Errorf("cannot parse ClickHouse version %q", s)
		}
		v[i] = n
	}
	return Version{v[0], v[1], v[2]}, nil
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// String formats v as major.minor.patch.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }
