package deploy

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/cityhighway/highway/highway/store"
)

// root is the repository's root, where docker-compose.yml and .env are.
const root = ".."

// The services the README's compose section promises.
var wantServices = []string{
	"kafka-1", "kafka-2", "kafka-3", "clickhouse-keeper", "clickhouse-1", "clickhouse-2", "grafana",
	"simulator", "connect", "process-1", "process-2", "schedule-1", "schedule-2", "schedule-3", "api",
}

// envAllowed are environment variables a highway service may set that no
// flag's help names: the Go runtime's own.
var envAllowed = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "TZ": true}

// TestComposeFile loads docker-compose.yml (with .env) the way docker
// compose does and checks it against what the binary accepts and what the
// ClickHouse configs it mounts say.
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkCompose(t, data) {
		t.Error(p)
	}
}

// TestComposeCheckFails: each break of the file is caught, so the check
// cannot pass whatever the file says.
func TestComposeCheckFails(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"unknown flag", `"--metrics-addr", "0.0.0.0:9464"`, `"--metrics-adr", "0.0.0.0:9464"`, "flag --metrics-adr"},
		{"unknown command", `command: ["simulate",`, `command: ["simulator",`, "no command simulator"},
		{"env the binary does not read", `HIGHWAY_CLICKHOUSE_CLUSTER: highway`, `HIGHWAY_CLICKHOUSE_CLUSTERS: highway`, "HIGHWAY_CLICKHOUSE_CLUSTERS"},
		{"port nobody listens on", `expose: ["8099"]`, `expose: ["8098"]`, "port 8098"},
		{"unknown cluster", `HIGHWAY_CLICKHOUSE_CLUSTER: highway`, `HIGHWAY_CLICKHOUSE_CLUSTER: city`, `cluster "city"`},
		{"host that is no service", `http://simulator:8099`, `http://simulatr:8099`, "simulatr"},
		{"missing dependency", "      simulator: {condition: service_healthy}\n", "", "does not depend on simulator"},
		{"no healthcheck", "    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -qO- http://127.0.0.1:8080/healthz >/dev/null\"]\n      interval: 10s\n      timeout: 5s\n      retries: 6\n", "", "api has no healthcheck"},
		{"missing config file", `./deploy/clickhouse/macros-2.xml`, `./deploy/clickhouse/macros-3.xml`, "macros-3.xml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(data), c.old, c.new, 1)
			if broken == string(data) {
				t.Fatalf("the file has no %q to break", c.old)
			}
			problems := checkCompose(t, []byte(broken))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("no problem mentions %q; got %q", c.want, problems)
			}
		})
	}
}

// checkCompose returns what is wrong with a compose file (data, loaded with
// the repository's .env); nil when nothing is.
func checkCompose(t *testing.T, data []byte) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithWorkingDirectory(abs), cli.WithEnvFiles(filepath.Join(abs, ".env")), cli.WithDotEnv, cli.WithName("highway"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return []string{fmt.Sprintf("loading the compose file: %v", err)}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, name := range wantServices {
		if _, ok := p.Services[name]; !ok {
			bad("service %s is missing", name)
		}
	}
	cluster := checkClickHouse(p, bad)
	for name, s := range p.Services {
		if s.HealthCheck == nil && s.Restart != "no" {
			bad("service %s has no healthcheck", name)
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					bad("service %s mounts volume %s, which is not declared", name, v.Source)
				}
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil && !strings.HasSuffix(v.Source, filepath.Join("plugins", "grafana", "dist")) {
					bad("service %s mounts %s, which is missing: %v", name, v.Source, err)
				}
			}
		}
		if s.Image == "cityhighway/highway:dev" {
			checkHighway(t, p, s, cluster, bad)
		}
	}
	checkGrafana(p, bad)
	slices.Sort(problems)
	return problems
}

// checkHighway checks a highway service against `highway <command> --help`.
func checkHighway(t *testing.T, p *types.Project, s types.ServiceConfig, clusters []string, bad func(string, ...any)) {
	if s.Build == nil || s.Build.Context == "" {
		bad("service %s has no build of the Dockerfile", s.Name)
	}
	if len(s.Command) == 0 {
		bad("service %s has no command", s.Name)
		return
	}
	help, err := commandHelp(t, s.Command[0])
	if err != nil {
		bad("service %s: no command %s in the binary: %v", s.Name, s.Command[0], err)
		return
	}
	var values []string // every flag value and env value, for host:port references
	listens := map[string]bool{}
	args := s.Command[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			bad("service %s: argument %q is not a flag", s.Name, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		kind, ok := help.flags[name]
		if !ok {
			bad("service %s: %s has no flag --%s", s.Name, s.Command[0], name)
			continue
		}
		if !hasValue && kind != "bool" {
			if i+1 >= len(args) {
				bad("service %s: flag --%s has no value", s.Name, name)
				continue
			}
			i++
			value = args[i]
		}
		values = append(values, value)
		if strings.HasSuffix(name, "addr") && value != "" {
			if _, port, err := net.SplitHostPort(value); err == nil {
				listens[port] = true
			}
		}
		if name == "clickhouse-cluster" && !slices.Contains(clusters, value) {
			bad("service %s: cluster %q is not in the ClickHouse remote_servers (%v)", s.Name, value, clusters)
		}
	}
	for k, v := range s.Environment {
		if !envAllowed[k] && !strings.Contains(help.text, "$"+k) {
			bad("service %s: %s --help names no $%s", s.Name, s.Command[0], k)
		}
		if v != nil {
			values = append(values, *v)
			if k == "HIGHWAY_CLICKHOUSE_CLUSTER" && !slices.Contains(clusters, *v) {
				bad("service %s: cluster %q is not in the ClickHouse remote_servers (%v)", s.Name, *v, clusters)
			}
		}
	}
	for _, port := range s.Expose {
		if !listens[port] {
			bad("service %s exposes port %s, which none of its --*addr flags listens on", s.Name, port)
		}
	}
	for _, port := range s.Ports {
		if !listens[fmt.Sprint(port.Target)] {
			bad("service %s publishes port %d, which none of its --*addr flags listens on", s.Name, port.Target)
		}
	}
	for _, host := range hostsIn(values) {
		if host == s.Name || host == "127.0.0.1" || host == "0.0.0.0" || host == "localhost" {
			continue
		}
		if _, ok := p.Services[host]; !ok {
			bad("service %s names host %s, which is no service", s.Name, host)
			continue
		}
		if _, ok := s.DependsOn[host]; !ok {
			bad("service %s uses %s but does not depend on %s", s.Name, host, host)
		}
	}
}

// hostPort finds host:port in flag and env values (URLs, DSNs, lists).
var hostPort = regexp.MustCompile(`(?:^|[/@,])([a-z][a-z0-9-]*|[0-9.]+):[0-9]+`)

func hostsIn(values []string) []string {
	var out []string
	for _, v := range values {
		for _, m := range hostPort.FindAllStringSubmatch(v, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// help is what `highway <command> --help` says: the flags (name → "bool"
// or the value's kind) and the whole text.
type help struct {
	flags map[string]string
	text  string
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	helpMu    sync.Mutex
	helps     = map[string]help{}
)

// commandHelp builds the binary once (go build ./cmd/highway) and runs
// `highway <command> --help`.
func commandHelp(t *testing.T, command string) (help, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "highway-compose-test")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "highway")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/highway").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/highway: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	helpMu.Lock()
	defer helpMu.Unlock()
	if h, ok := helps[command]; ok {
		return h, nil
	}
	out, _ := exec.Command(binary, command, "--help").CombinedOutput()
	text := string(out)
	if !strings.Contains(text, "Usage: highway "+command) {
		return help{}, fmt.Errorf("`highway %s --help` says:\n%s", command, text)
	}
	h := help{flags: map[string]string{}, text: text}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)(?: (\S+))?`).FindAllStringSubmatch(text, -1) {
		kind := m[2]
		if kind == "" {
			kind = "bool"
		}
		h.flags[m[1]] = kind
	}
	helps[command] = h
	return h, nil
}

// checkClickHouse checks the configs the ClickHouse services mount: the
// cluster's replicas are the ClickHouse services, its coordinator the
// Keeper service on Keeper's port, every replica has its own macros, and
// the users are the ones highway's DSNs name, the open one denied the
// restricted database. It returns the clusters of remote_servers.
func checkClickHouse(p *types.Project, bad func(string, ...any)) []string {
	type replicaXML struct {
		Host string `xml:"host"`
		Port string `xml:"port"`
	}
	var cfg struct {
		RemoteServers struct {
			Clusters []struct {
				XMLName xml.Name
				Shards  []struct {
					Internal bool         `xml:"internal_replication"`
					Replicas []replicaXML `xml:"replica"`
				} `xml:"shard"`
			} `xml:",any"`
		} `xml:"remote_servers"`
		ZooKeeper []replicaXML `xml:"zookeeper>node"`
		Macros    struct {
			Shard   string `xml:"shard"`
			Replica string `xml:"replica"`
		} `xml:"macros"`
	}
	var keeper struct {
		Port string `xml:"keeper_server>tcp_port"`
	}
	var users struct {
		Users struct {
			Users []struct {
				XMLName   xml.Name
				Databases []string `xml:"allow_databases>database"`
			} `xml:",any"`
		} `xml:"users"`
	}
	read := func(path string, v any) bool {
		data, err := os.ReadFile(path)
		if err == nil {
			err = xml.Unmarshal(data, v)
		}
		if err != nil {
			bad("ClickHouse config %s: %v", path, err)
			return false
		}
		return true
	}
	var clusters []string
	replicas := map[string]bool{}
	keeperPorts := map[string]string{}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			switch {
			case strings.HasSuffix(v.Target, "/config.d/cluster.xml") && read(v.Source, &cfg):
				for _, c := range cfg.RemoteServers.Clusters {
					clusters = append(clusters, c.XMLName.Local)
					for _, sh := range c.Shards {
						if !sh.Internal {
							bad("cluster %s: a shard without internal_replication (replicated tables copy inserts themselves)", c.XMLName.Local)
						}
						for _, r := range sh.Replicas {
							replicas[r.Host] = true
						}
					}
				}
				for _, z := range cfg.ZooKeeper {
					if _, ok := p.Services[z.Host]; !ok {
						bad("ClickHouse's zookeeper node %s is no service", z.Host)
					} else if _, ok := s.DependsOn[z.Host]; !ok {
						bad("service %s uses %s but does not depend on %s", name, z.Host, z.Host)
					}
				}
			case strings.HasSuffix(v.Target, "/config.d/macros.xml"):
				cfg.Macros.Shard, cfg.Macros.Replica = "", ""
				if read(v.Source, &cfg) && (cfg.Macros.Shard == "" || cfg.Macros.Replica != name) {
					bad("service %s: macros %s want a shard and replica %s, have %+v", name, v.Source, name, cfg.Macros)
				}
			case strings.HasSuffix(v.Target, "/users.d/highway.xml") && read(v.Source, &users):
				have := map[string][]string{}
				for _, u := range users.Users.Users {
					have[u.XMLName.Local] = u.Databases
				}
				for _, u := range []string{"highway", store.ReaderUser, store.OpenReaderUser} {
					if _, ok := have[u]; !ok {
						bad("users %s has no user %s", v.Source, u)
					}
				}
				if dbs := have[store.OpenReaderUser]; !slices.Contains(dbs, "highway") || slices.Contains(dbs, store.RestrictedDatabase("highway")) {
					bad("users %s: %s must be allowed database highway and not %s, has %v", v.Source, store.OpenReaderUser, store.RestrictedDatabase("highway"), dbs)
				}
			case strings.HasSuffix(v.Target, "keeper_config.xml") && read(v.Source, &keeper):
				keeperPorts[name] = keeper.Port
			}
		}
	}
	for _, z := range cfg.ZooKeeper {
		if port, ok := keeperPorts[z.Host]; !ok {
			bad("ClickHouse's coordinator %s mounts no keeper_config.xml", z.Host)
		} else if z.Port != port {
			bad("ClickHouse reaches Keeper on port %s, Keeper listens on %s", z.Port, port)
		}
	}
	for host := range replicas {
		if _, ok := p.Services[host]; !ok {
			bad("cluster replica %s is no service", host)
		}
	}
	return clusters
}

// checkGrafana checks that Grafana loads the plugin it mounts and
// provisions a datasource of that plugin.
func checkGrafana(p *types.Project, bad func(string, ...any)) {
	g, ok := p.Services["grafana"]
	if !ok {
		return
	}
	var plugin struct {
		ID string `json:"id"`
	}
	data, err := os.ReadFile(filepath.Join(root, "plugins", "grafana", "src", "plugin.json"))
	if err == nil {
		_, id, _ := strings.Cut(string(data), `"id": "`)
		plugin.ID, _, _ = strings.Cut(id, `"`)
	}
	if plugin.ID == "" {
		bad("plugins/grafana/src/plugin.json: no plugin id (%v)", err)
		return
	}
	if v := g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]; v == nil || !strings.Contains(*v, plugin.ID) {
		bad("grafana does not allow loading the unsigned plugin %s", plugin.ID)
	}
	mounted := false
	for _, v := range g.Volumes {
		if v.Target == "/var/lib/grafana/plugins/"+plugin.ID {
			mounted = true
		}
		if v.Target == "/etc/grafana/provisioning" {
			ds, err := os.ReadFile(filepath.Join(v.Source, "datasources", "highway.yaml"))
			if err != nil || !strings.Contains(string(ds), "type: "+plugin.ID) {
				bad("grafana's provisioning %s has no datasource of type %s (%v)", v.Source, plugin.ID, err)
			}
		}
	}
	if !mounted {
		bad("grafana does not mount the plugin at /var/lib/grafana/plugins/%s", plugin.ID)
	}
}
