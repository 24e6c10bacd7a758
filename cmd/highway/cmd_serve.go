package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/bus"
	"github.com/cityhighway/highway/highway/catalog"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/highway/quality"
	"github.com/cityhighway/highway/highway/store"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [flags]", `
Serves the open-data portal and city dashboard (/, /feeds, /jobs, a CKAN
subset at /api/3/action/, DCAT-AP at /catalog.jsonld) and the HTTP API: the
feed catalogue, push ingestion, read-only SQL,
open data, live tails of feeds, /healthz, /readyz, /metrics and the OpenAPI
document at /api/v1/openapi.json. Callers of /api/ routes send a
department's token ('highway token create'); /open/ routes need none.

Run as many copies as you like behind a load balancer. With
--control-plane (the HTTP addresses of scheduler nodes), tokens and the
grants made at run time ('highway grant') are read from the scheduler's
raft cluster: each copy keeps them in memory and follows the cluster with
a long poll, so every copy agrees and a revoked token is refused by all
within a second. At start, the tokens of --tokens-file that the control
plane lacks are copied there (logged; safe to repeat), and the file is no
longer read. Without --control-plane, the token file (shared or copied)
holds the tokens and grants are the specs' only. Rate limits are per copy.

Queries run with ClickHouse's readonly=1 and limits, and as one of two
ClickHouse users. Restricted feeds' tables and the audit log are in the
database <database>_restricted (callers' SQL names them
<database>_restricted.table; admin departments query the audit log as
<database>_restricted.`+store.AuditTable+`).
--open-clickhouse is the DSN of a read-only user whose allow_databases
leaves that database out: open data and every query that reads no
restricted table run as it, so ClickHouse itself refuses restricted rows to
callers without a grant. --query-clickhouse is the DSN of a read-only user
that reads both databases, used only for queries that read a restricted
table the caller is granted (or, for an admin department, the audit
log). ops/clickhouse/start makes both users
(highway_open and highway_reader). Without --open-clickhouse, serve refuses
to start when a feed is restricted; --open-clickhouse none opts out and
leaves the split to the SQL guard alone.`, stderr)
	var c common
	fs.Var(&c.specs, "specs", "a folder or file of extra specs (feeds, departments), added to the built-in ones (repeatable; also $HIGHWAY_SPECS)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	kafka := fs.String("kafka", envOr("HIGHWAY_KAFKA", ""), "Kafka bootstrap brokers, comma-separated (default $HIGHWAY_KAFKA); without it, push and live tails answer 503")
	var ksec kafkaSecurity
	ksec.register(fs)
	dsn := fs.String("clickhouse", envOr("HIGHWAY_CLICKHOUSE", ""), "ClickHouse DSN for the catalogue's statistics and the audit log (default $HIGHWAY_CLICKHOUSE)")
	cluster := clickhouseCluster(fs)
	queryDSN := fs.String("query-clickhouse", envOr("HIGHWAY_QUERY_CLICKHOUSE", ""), "ClickHouse DSN for the queries that read restricted tables a caller is granted: a read-only user of both databases (default $HIGHWAY_QUERY_CLICKHOUSE, else --clickhouse)")
	openDSN := fs.String("open-clickhouse", envOr("HIGHWAY_OPEN_CLICKHOUSE", ""), "ClickHouse DSN for open data and every query that reads no restricted table: a read-only user denied <database>_restricted; 'none' runs them with --query-clickhouse (default $HIGHWAY_OPEN_CLICKHOUSE)")
	tokensFile := fs.String("tokens-file", envOr("HIGHWAY_TOKENS", defaultTokensFile), "the token file made by 'highway token' (default $HIGHWAY_TOKENS)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	redirectAddr := fs.String("http-redirect-addr", "", "with --tls-cert: also listen for plain HTTP here (e.g. :80) and redirect every request to HTTPS on --addr's port (308; a request carrying a token is refused, the token having travelled in clear)")
	audit := fs.Bool("audit", true, "write the audit log to ClickHouse (<database>_restricted."+store.AuditTable+", moved there from <database> if an older version made it there)")
	auditKey := fs.String("audit-key", envOr("HIGHWAY_AUDIT_KEY", ""), "PEM Ed25519 private key that signs the audit log's chain (highway audit keygen makes one; default $HIGHWAY_AUDIT_KEY); without it the chain is hashed, not signed")
	auditServer := fs.String("audit-server", "", "this server's name in the audit log's chains (default: host name and --addr's port)")
	queryTimeout := fs.Duration("query-timeout", 30*time.Second, "max_execution_time of each query")
	queryRows := fs.Uint64("query-max-rows", 1_000_000, "max_result_rows of each query")
	queryMemory := fs.Uint64("query-max-memory", 2<<30, "max_memory_usage of each query, in bytes")
	tokenRate := fs.Float64("token-rate", 10, "pushes and queries per second per token (burst: twice as many)")
	openRate := fs.Float64("open-rate", 5, "open-data requests per second per client (burst: twice as many)")
	var quotas catalog.Quotas
	fs.IntVar(&quotas.RequestsPerMinute, "quota-requests-per-minute", api.DefaultQuotas.RequestsPerMinute, "API requests per minute per department, unless its spec's quotas say otherwise (per server)")
	fs.IntVar(&quotas.RowsPerDay, "quota-rows-per-day", api.DefaultQuotas.RowsPerDay, "rows a department's queries, downloads and live tails may return per day (Hong Kong time, all servers)")
	fs.IntVar(&quotas.BytesPerDay, "quota-bytes-per-day", api.DefaultQuotas.BytesPerDay, "bytes a department's queries, downloads and live tails may return per day (all servers)")
	fs.IntVar(&quotas.PushedRecordsPerMinute, "quota-pushed-records-per-minute", api.DefaultQuotas.PushedRecordsPerMinute, "records a department may push per minute (per server)")
	trustXFF := fs.Bool("trust-forwarded-for", false, "take the client address from X-Forwarded-For (only behind a proxy that sets it)")
	var cp controlFlags
	cp.register(fs)
	scheduler := fs.String("scheduler", envOr("HIGHWAY_SCHEDULER", ""), "http://host:port of a 'highway schedule' node (its --http-addr): the jobs and cluster routes are proxied there with this API's auth (default $HIGHWAY_SCHEDULER); without it they answer 503")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("%w: --tls-cert (%q) and --tls-key (%q) go together", errUsage, *tlsCert, *tlsKey)
	}
	if *redirectAddr != "" && *tlsCert == "" {
		return fmt.Errorf("%w: --http-redirect-addr redirects to HTTPS, which needs --tls-cert and --tls-key", errUsage)
	}
	if *tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return fmt.Errorf("%w: --tls-cert %s / --tls-key %s: %v (both PEM; the key must be the certificate's)", errUsage, *tlsCert, *tlsKey, err)
		}
	}
	if *dsn == "" {
		return errNoClickHouse
	}
	if cp.given() && cp.secret == "" {
		return needSecret("serve --control-plane")
	}
	if quotas.RequestsPerMinute <= 0 || quotas.RowsPerDay <= 0 || quotas.BytesPerDay <= 0 || quotas.PushedRecordsPerMinute <= 0 {
		return fmt.Errorf("%w: the --quota-* flags must be positive", errUsage)
	}
	if *tokenRate <= 0 || *openRate <= 0 || *queryTimeout <= 0 {
		return fmt.Errorf("%w: --token-rate (%v), --open-rate (%v) and --query-timeout (%s) must be positive", errUsage, *tokenRate, *openRate, *queryTimeout)
	}
	var auditSigner ed25519.PrivateKey
	if *auditKey != "" {
		k, err := store.ReadSigningKey(*auditKey)
		if err != nil {
			return fmt.Errorf("%w: --audit-key: %v", errUsage, err)
		}
		auditSigner = k
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	cat, _, err := c.catalog()
	if err != nil {
		return err
	}
	var tokens api.TokenVerifier
	var grants api.GrantSource
	var controlCheck []api.Check
	var writer api.ControlWriter
	var requests api.RequestSource
	if cp.given() {
		replica, cl, err := startReplica(ctx, &cp, *tokensFile, log)
		if err != nil {
			return err
		}
		tokens, grants, writer, requests = replica, replica, cl, replica
		controlCheck = []api.Check{{Name: "control-plane", Check: replica.Check}}
	} else {
		tf, err := api.OpenTokenFile(*tokensFile)
		if err != nil {
			return err
		}
		tokens = tf
	}
	st, err := store.Open(ctx, *dsn, log, cluster()...)
	if err != nil {
		return err
	}
	defer st.Close()
	querier := st
	if *queryDSN != "" && *queryDSN != *dsn {
		if querier, err = store.Open(ctx, *queryDSN, log, cluster()...); err != nil {
			return fmt.Errorf("--query-clickhouse: %w", err)
		}
		defer querier.Close()
		if querier.Database() != st.Database() {
			return fmt.Errorf("%w: --query-clickhouse uses database %q but the feeds are in %q", errUsage, querier.Database(), st.Database())
		}
	}
	openQuerier, err := openDataStore(ctx, *openDSN, st, cat, log, cluster()...)
	if err != nil {
		return err
	}
	if openQuerier == nil {
		openQuerier = querier
	} else {
		defer openQuerier.Close()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), qualityCollector(cat, st, log))
	cfg := api.Config{
		Catalog: cat, Stats: st, Gatherer: reg, Logger: log, Tokens: tokens, Grants: grants, Control: writer, Requests: requests, Ledger: &quality.Reader{Store: st},
		Querier: openQuerier, RestrictedQuerier: querier, Database: st.Database(),
		QueryLimits:       store.Limits{MaxExecutionTime: *queryTimeout, MaxResultRows: *queryRows, MaxResultBytes: 512 << 20, MaxMemory: *queryMemory},
		TokenRate:         api.Rate{PerSecond: *tokenRate, Burst: int(2 * *tokenRate)},
		OpenRate:          api.Rate{PerSecond: *openRate, Burst: int(2 * *openRate)},
		Ready:             append([]api.Check{{Name: "clickhouse", Check: st.Ping}}, controlCheck...),
		TrustForwardedFor: *trustXFF,
	}
	if *scheduler != "" {
		u, err := api.SchedulerURL(*scheduler)
		if err != nil {
			return fmt.Errorf("%w: --scheduler: %v", errUsage, err)
		}
		cfg.Scheduler = u
	}
	if *audit {
		acfg := store.AuditConfig{Logger: log, Server: *auditServer}
		if acfg.Server == "" {
			acfg.Server = store.DefaultAuditServer(*addr)
		}
		acfg.Signer = auditSigner
		al, err := st.OpenAuditLog(ctx, acfg)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = al.Close(sctx)
		}()
		cfg.Audit, cfg.AuditTable = al, al.Table()
	}
	pk, err := st.OpenPushKeys(ctx, "")
	if err != nil {
		return err
	}
	cfg.PushKeys = pk
	usage, err := st.OpenUsageLog(ctx, "")
	if err != nil {
		return err
	}
	cfg.Usage, cfg.Quotas = usage, quotas
	if *kafka != "" {
		b, err := ksec.open(ctx, bus.Config{Brokers: strings.Split(*kafka, ","), Logger: log})
		if err != nil {
			return err
		}
		defer b.Close()
		producer := b.NewProducer()
		defer producer.Close()
		cfg.Producer, cfg.Tail = producer, b
		cfg.Ready = append(cfg.Ready, api.Check{Name: "kafka", Check: b.Ping})
	} else {
		log.Warn("no Kafka configured: push and live tails answer 503")
	}
	srv, err := withPortal(api.New(cfg), log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return listenAndServe(ctx, *addr, srv, *tlsCert, *tlsKey, *redirectAddr, stdout, log)
}

// startReplica follows the control plane until ctx ends, after it has
// read it once (within 15 s) and migrated the token file's tokens to it.
func startReplica(ctx context.Context, cp *controlFlags, tokensFile string, log *slog.Logger) (*control.Replica, *control.Client, error) {
	if cp.secret == "" {
		return nil, nil, needSecret("serve --control-plane")
	}
	cl, err := cp.client()
	if err != nil {
		return nil, nil, err
	}
	replica, err := control.NewReplica(control.ReplicaConfig{Nodes: cl.Nodes(), Secret: cp.secret, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --control-plane: %v", errUsage, err)
	}
	go replica.Run(ctx)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := replica.Sync(sctx); err != nil {
		return nil, nil, fmt.Errorf("%w (is a 'highway schedule' node running there, and --control-secret its secret?)", err)
	}
	if err := migrateTokens(ctx, cl, tokensFile, log); err != nil {
		return nil, nil, err
	}
	log.Info("tokens and grants read from the control plane", "nodes", strings.Join(cl.Nodes(), ","), "index", replica.State().Index,
		"tokens", len(replica.State().Tokens), "grants", len(replica.State().Grants))
	return replica, cl, nil
}

// openDataStore connects to the --open-clickhouse DSN and checks, before
// the API starts, that it is of the feeds' database and that ClickHouse
// refuses its user the restricted database. It returns nil (the caller then
// uses the restricted-capable querier) for "none", and for "" when no feed
// is restricted; "" with a restricted feed is a usage error.
func openDataStore(ctx context.Context, dsn string, st *store.Store, cat *catalog.Catalog, log *slog.Logger, with ...store.Option) (*store.Store, error) {
	restricted := st.Layout().Restricted
	switch dsn {
	case "none":
		log.Warn("--open-clickhouse none: open data and every query run as a ClickHouse user that can read the restricted database; only the SQL guard keeps restricted rows from callers without a grant", "restricted_database", restricted)
		return nil, nil
	case "":
		for _, f := range cat.Feeds() {
			if f.Access == catalog.Restricted {
				return nil, fmt.Errorf("%w: feed %s is restricted but no --open-clickhouse is given: pass the DSN of a read-only ClickHouse user whose allow_databases leaves out %s "+
					"(ops/clickhouse/start makes highway_open: clickhouse://highway_open@host:9000/%s), or --open-clickhouse none to rely on the SQL guard alone",
					errUsage, f.Name, restricted, st.Database())
			}
		}
		log.Info("no restricted feeds and no --open-clickhouse: open data and queries use --query-clickhouse")
		return nil, nil
	}
	open, err := store.Open(ctx, dsn, log, with...)
	if err != nil {
		return nil, fmt.Errorf("--open-clickhouse: %w", err)
	}
	if open.Database() != st.Database() {
		open.Close()
		return nil, fmt.Errorf("%w: --open-clickhouse uses database %q but the open feeds are in %q", errUsage, open.Database(), st.Database())
	}
	if err := open.CheckDenied(ctx, restricted); err != nil {
		open.Close()
		if errors.Is(err, store.ErrNotDenied) {
			return nil, fmt.Errorf("%w: --open-clickhouse must connect as a user denied the restricted database %s (allow_databases listing only %s): %v",
				errUsage, restricted, st.Database(), err)
		}
		return nil, fmt.Errorf("--open-clickhouse: %w", err)
	}
	log.Info("open data and unrestricted queries run as a ClickHouse user denied the restricted database", "restricted_database", restricted)
	return open, nil
}

// closingHandler is what listenAndServe serves: the portal (with the API),
// whose Close ends its live streams.
type closingHandler interface {
	http.Handler
	Close()
}

// listenAndServe serves h until ctx ends, then shuts down gracefully:
// it stops accepting, ends live tails and waits up to 10 s for requests.
// With cert and redirectAddr, plain HTTP on redirectAddr is redirected to
// HTTPS on addr's port.
func listenAndServe(ctx context.Context, addr string, h closingHandler, cert, key, redirectAddr string, stdout io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s (is another highway running? pick another address with --addr): %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	errc := make(chan error, 2)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(ln, cert, key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if redirectAddr != "" {
		rln, err := net.Listen("tcp", redirectAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("listening on %s for the HTTPS redirect (pick another with --http-redirect-addr): %w", redirectAddr, err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		redirect := &http.Server{Handler: httpsRedirect(port), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- redirect.Serve(rln) }()
		defer redirect.Close()
		log.Info("plain HTTP redirects to HTTPS", "http", "http://"+rln.Addr().String()+"/", "https_port", port)
	}
	log.Info("API and portal serving", "portal", scheme+"://"+ln.Addr().String()+"/", "url", scheme+"://"+ln.Addr().String()+"/api/v1/feeds", "openapi", scheme+"://"+ln.Addr().String()+"/api/v1/openapi.json")
	fmt.Fprintf(stdout, "highway serve: %s://%s — Ctrl-C stops\n", scheme, ln.Addr())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving the API: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down the API")
	h.Close() // live streams end now; Shutdown would wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down the API: %w", err)
	}
	return nil
}

// demoDepartment is the department `highway dev` makes a token for: it
// reads every feed, restricted ones included, and is not admin.
const demoDepartment = "DEMO"

// devAPI builds the API of `highway dev`: everything `highway serve` has,
// plus a demo department whose fresh token (kept on the dev scheduler,
// the one-node control plane; earlier demo tokens revoked) it returns for
// printing. The tokens of dataDir/tokens.json (before the control plane)
// are migrated to it. open and reader run the queries as `highway serve`
// runs them with --open-clickhouse and --query-clickhouse.
func devAPI(ctx context.Context, cat *catalog.Catalog, st, open, reader *store.Store, b *bus.Bus, producer *bus.Producer, reg *prometheus.Registry, log *slog.Logger, dataDir string, scheduler *url.URL, secret string) (*api.Server, string, func(), error) {
	demo := &catalog.Department{Name: demoDepartment, Description: "the demo department of highway dev: reads every feed"}
	for _, f := range cat.Feeds() {
		if f.Access == catalog.Restricted {
			demo.Grants = append(demo.Grants, f.Name)
		}
	}
	cp := controlFlags{nodes: listFlag{scheduler.Host}, secret: secret}
	replica, cl, err := startReplica(ctx, &cp, filepath.Join(dataDir, "tokens.json"), log)
	if err != nil {
		return nil, "", nil, err
	}
	old, err := cl.List(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	for _, t := range old {
		if t.Department == demoDepartment && t.Note == "highway dev demo" && t.Revoked == nil {
			if err := cl.Revoke(ctx, t.ID); err != nil {
				return nil, "", nil, err
			}
		}
	}
	token, _, err := cl.CreateWith(ctx, demoDepartment, api.TokenSpec{Note: "highway dev demo"})
	if err != nil {
		return nil, "", nil, err
	}
	al, err := st.OpenAuditLog(ctx, store.AuditConfig{Logger: log})
	if err != nil {
		return nil, "", nil, err
	}
	pk, err := st.OpenPushKeys(ctx, "")
	if err != nil {
		return nil, "", nil, err
	}
	usage, err := st.OpenUsageLog(ctx, "")
	if err != nil {
		return nil, "", nil, err
	}
	srv := api.New(api.Config{Usage: usage,
		Catalog: cat, Stats: st, Gatherer: reg, Logger: log, Departments: []*catalog.Department{demo}, Tokens: replica, Grants: replica, Control: cl, Requests: replica,
		Querier: open, RestrictedQuerier: reader, Database: st.Database(), Producer: producer, Tail: b, Audit: al, AuditTable: al.Table(), PushKeys: pk,
		Ready:     []api.Check{{Name: "clickhouse", Check: st.Ping}, {Name: "kafka", Check: b.Ping}, {Name: "control-plane", Check: replica.Check}},
		Scheduler: scheduler, Ledger: &quality.Reader{Store: st},
	})
	cleanup := func() {
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = al.Close(sctx)
	}
	return srv, token, cleanup, nil
}
