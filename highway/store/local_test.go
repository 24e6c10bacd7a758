package store

import (
	"encoding/xml"
	"slices"
	"testing"
)

// TestLocalUsers reads the users.xml that highway dev's server and
// ops/clickhouse/config.sh's servers share: both API users exist, read
// through a readonly=2 profile, and the open one may read the open
// database only, not its restricted sibling.
func TestLocalUsers(t *testing.T) {
	var users struct {
		Profiles struct {
			Reader struct {
				Readonly int `xml:"readonly"`
			} `xml:"reader"`
		} `xml:"profiles"`
		Users struct {
			Users []struct {
				XMLName   xml.Name
				Profile   string   `xml:"profile"`
				Databases []string `xml:"allow_databases>database"`
			} `xml:",any"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal([]byte(localUsers), &users); err != nil {
		t.Fatal(err)
	}
	if users.Profiles.Reader.Readonly != 2 {
		t.Errorf("profile reader: readonly=%d, want 2", users.Profiles.Reader.Readonly)
	}
	found := map[string]bool{}
	for _, u := range users.Users.Users {
		name := u.XMLName.Local
		found[name] = true
		switch name {
		case ReaderUser:
			if u.Profile != "reader" || len(u.Databases) != 0 {
				t.Errorf("%s: profile %q, databases %v; want reader and every database", name, u.Profile, u.Databases)
			}
		case OpenReaderUser:
			if u.Profile != "reader" || !slices.Equal(u.Databases, []string{"default"}) || slices.Contains(u.Databases, RestrictedDatabase("default")) {
				t.Errorf("%s: profile %q, databases %v; want reader and default only", name, u.Profile, u.Databases)
			}
		}
	}
	for _, u := range []string{"default", ReaderUser, OpenReaderUser} {
		if !found[u] {
			t.Errorf("no user %s", u)
		}
	}
}
