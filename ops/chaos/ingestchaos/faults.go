package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// fault is one kind of network fault, put on a proxy for a while.
type fault string

// The fault kinds, each a toxiproxy toxic (or two, one per direction):
//
//   - latency: every chunk is held 100-500 ms (±50 ms jitter), both ways.
//   - reset: any connection that carries data is reset (TCP RST, reset_peer)
//     0-200 ms after.
//   - cut: every connection is closed after 1 KiB-128 KiB more bytes
//     (limit_data) in the direction that carries the data, so a ClickHouse
//     insert or a Kafka fetch response is cut in the middle.
//   - timeout: data is dropped and the connection closed 0.5-2 s later.
//   - blackhole: data is dropped and nothing is closed (timeout 0) until the
//     fault ends; removing it closes the stalled connections.
const (
	faultLatency   fault = "latency"
	faultReset     fault = "reset"
	faultCut       fault = "cut"
	faultTimeout   fault = "timeout"
	faultBlackhole fault = "blackhole"
)

// faultKinds lists every kind once, in the order schedule deals them out.
var faultKinds = []fault{faultLatency, faultReset, faultCut, faultTimeout, faultBlackhole}

// The proxied services.
const (
	targetKafka      = "kafka"
	targetClickHouse = "clickhouse"
)

// netFaults runs toxiproxy in this process: one proxy in front of Kafka
// (the broker's extra listener, whose advertised address is the proxy's)
// and one in front of ClickHouse, both listening on 127.0.0.1. `highway
// process` reaches both services through them only; the producer and the
// verifier use the direct addresses.
type netFaults struct {
	server  *toxiproxy.ApiServer
	proxies map[string]*toxiproxy.Proxy
}

// newNetFaults starts the two proxies: listen → upstream for each target.
func newNetFaults(kafkaListen, kafkaUpstream, chListen, chUpstream string) (*netFaults, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	n := &netFaults{server: srv, proxies: map[string]*toxiproxy.Proxy{}}
	for _, p := range []struct{ name, listen, upstream string }{
		{targetKafka, kafkaListen, kafkaUpstream},
		{targetClickHouse, chListen, chUpstream},
	} {
		if !strings.HasPrefix(p.listen, "127.0.0.1:") {
			n.close()
			return nil, fmt.Errorf("the %s proxy must listen on 127.0.0.1, not %q", p.name, p.listen)
		}
		proxy := toxiproxy.NewProxy(srv, p.name, p.listen, p.upstream)
		if err := srv.Collection.Add(proxy, true); err != nil {
			n.close()
			return nil, fmt.Errorf("starting the %s proxy on %s (to %s): %w", p.name, p.listen, p.upstream, err)
		}
		n.proxies[p.name] = proxy
	}
	return n, nil
}

// close stops the proxies and their connections.
func (n *netFaults) close() {
	_ = n.server.Collection.Clear()
}

// toxic is one toxiproxy toxic: its type, direction and attributes.
type toxic struct {
	typ, stream string
	attrs       string // JSON object
}

// toxicsOf returns the toxics that make fault f on target, drawn from rng.
func toxicsOf(f fault, target string, rng *rand.Rand) ([]toxic, error) {
	// The direction that carries the bulk of the data: inserts go to
	// ClickHouse, fetch responses come from Kafka.
	bulk := "downstream"
	if target == targetClickHouse {
		bulk = "upstream"
	}
	switch f {
	case faultLatency:
		a := fmt.Sprintf(`{"latency":%d,"jitter":50}`, 100+rng.IntN(401))
		return []toxic{{"latency", "upstream", a}, {"latency", "downstream", a}}, nil
	case faultReset:
		return []toxic{{"reset_peer", "upstream", fmt.Sprintf(`{"timeout":%d}`, rng.IntN(201))}}, nil
	case faultCut:
		return []toxic{{"limit_data", bulk, fmt.Sprintf(`{"bytes":%d}`, 1024+rng.IntN(127*1024))}}, nil
	case faultTimeout:
		return []toxic{{"timeout", "upstream", fmt.Sprintf(`{"timeout":%d}`, 500+rng.IntN(1501))}}, nil
	case faultBlackhole:
		return []toxic{{"timeout", "upstream", `{"timeout":0}`}, {"timeout", "downstream", `{"timeout":0}`}}, nil
	}
	return nil, fmt.Errorf("unknown fault %q", f)
}

// inject puts toxics txs (toxicsOf) on target's proxy for hold, then
// removes them. It returns a description of the toxics for the log. It
// may run beside other injections on the other proxy (toxic names are per
// proxy).
func (n *netFaults) inject(ctx context.Context, f fault, target string, txs []toxic, hold time.Duration) (string, error) {
	proxy, ok := n.proxies[target]
	if !ok {
		return "", fmt.Errorf("no proxy for %q", target)
	}
	var (
		names []string
		desc  []string
		errs  []error
	)
	for i, t := range txs {
		name := fmt.Sprintf("%s_%d", f, i)
		body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, t.typ, t.stream, t.attrs)
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			errs = append(errs, fmt.Errorf("adding toxic %s to the %s proxy: %w", body, target, err))
			continue
		}
		names = append(names, name)
		desc = append(desc, t.typ+"/"+t.stream+t.attrs)
	}
	sleep(ctx, hold)
	for _, name := range names {
		if err := proxy.Toxics.RemoveToxic(context.WithoutCancel(ctx), name); err != nil {
			errs = append(errs, fmt.Errorf("removing toxic %s from the %s proxy: %w", name, target, err))
		}
	}
	return strings.Join(desc, " "), errors.Join(errs...)
}
