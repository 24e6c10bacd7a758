# Shared helpers for ops/ scripts. Source it: . "$(dirname "$0")/../lib.sh"
# shellcheck shell=bash disable=SC2034 # the variables below are used by the sourcing scripts

HIGHWAY_CACHE=${HIGHWAY_CACHE:-$HOME/.cache/highway} # downloaded artifacts (kept)
HIGHWAY_RUN=${HIGHWAY_RUN:-/tmp/highway-run}         # data, logs, pid files

KAFKA_VERSION=4.1.1 # the one place the Kafka version is pinned
KAFKA_HOME=$HIGHWAY_CACHE/kafka-$KAFKA_VERSION
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_DIR=$HIGHWAY_RUN/kafka
KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))} # with KAFKA_SECURITY=sasl_ssl (ops/kafka/start)
KAFKA_SASL_USER=${KAFKA_SASL_USER:-highway}
KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-highway-secret}

CLICKHOUSE_PORT=${CLICKHOUSE_PORT:-19000}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-18123}
CLICKHOUSE_DIR=$HIGHWAY_RUN/clickhouse

# Cluster mode (ops/zookeeper, ops/clickhouse/cluster, ops/kafka/cluster, ops/stack):
# private services on their own ports, never the single-node ones above.
ZOOKEEPER_VERSION=3.9.5 # the one place the ZooKeeper version is pinned
ZOOKEEPER_HOME=$HIGHWAY_CACHE/zookeeper-$ZOOKEEPER_VERSION
ZOOKEEPER_PORT=${ZOOKEEPER_PORT:-22181}
ZOOKEEPER_DIR=$HIGHWAY_RUN/zookeeper
CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-29000} # ClickHouse cluster: replica i uses BASE+10*i..BASE+10*i+2
CLICKHOUSE_CLUSTER=${CLICKHOUSE_CLUSTER:-highway}
CLICKHOUSE_SHARDS=${CLICKHOUSE_SHARDS:-2}
CLICKHOUSE_REPLICAS=${CLICKHOUSE_REPLICAS:-2}
CLICKHOUSE_CLUSTER_DIR=$HIGHWAY_RUN/clickhouse-cluster
KAFKA_CLUSTER_BASE_PORT=${KAFKA_CLUSTER_BASE_PORT:-29200} # broker i: BASE+10*i (client), +1 (controller)
KAFKA_BROKERS=${KAFKA_BROKERS:-3}
KAFKA_CLUSTER_DIR=$HIGHWAY_RUN/kafka-cluster

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { printf '[%s] %s\n' "${OPS_NAME:-ops}" "$*" >&2; }

die() { log "ERROR: $*"; exit 1; }

# fail WHAT LOGFILE: report what failed, where its log is, and the log's tail.
fail() {
  log "ERROR: $1 failed. Log: $2"
  if [ -f "$2" ]; then
    echo "----- last 30 lines of $2 -----" >&2
    tail -n 30 "$2" >&2
    echo "-----" >&2
    # the root cause is often above a long stack trace: show the first error lines too
    if grep -qE '(ERROR|FATAL|<Error>|Exception)' "$2"; then
      echo "----- first error lines -----" >&2
      grep -m 3 -E '(ERROR|FATAL|<Error>|Exception)' "$2" | cut -c1-400 >&2
      echo "-----" >&2
    fi
  fi
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pid_alive PIDFILE: true if the pid file names a running process.
pid_alive() {
  local pid
  [ -s "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# spawn PIDFILE OUTFILE CMD...: run CMD detached (own session, immune to the
# caller's hangup/Ctrl-C); its own pid (not a wrapper's) goes to PIDFILE.
spawn() {
  local pidfile=$1 out=$2
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016
  nohup setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" >"$out" 2>&1 </dev/null &
  for _ in $(seq 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  fail "starting $1" "$out"
}

# stop_pid NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL. Idempotent.
stop_pid() {
  local name=$1 pidfile=$2 pid
  if ! pid_alive "$pidfile"; then
    log "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not exit within 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

# apt_install PKG...: apt-get update + install (called only when something is missing).
# Lock timeout: wait for another running apt/dpkg instead of failing.
apt_install() {
  local aptlog=$HIGHWAY_RUN/apt.log
  mkdir -p "$HIGHWAY_RUN"
  log "installing $* with apt-get (log: $aptlog)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update >"$aptlog" 2>&1 ||
    fail "apt-get update" "$aptlog"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >>"$aptlog" 2>&1 ||
    fail "apt-get install $*" "$aptlog"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# zk_ok PORT: true if the ZooKeeper on 127.0.0.1:PORT serves requests: its
# "srvr" answer names its mode ("ruok" says imok even when the server inside
# the process has died).
zk_ok() {
  local reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null) || return 1
  [[ $reply == *"Mode: "* ]]
}

# test_certs DIR: a throwaway CA (DIR/ca.pem) and a server certificate it signed
# for 127.0.0.1, ::1 and localhost (DIR/server.pem, key DIR/server.key, PKCS#8
# unencrypted; DIR/server.p12 the same as a PKCS#12 keystore, password
# "changeit", for Java servers). Made once with openssl and kept (cached under the run folder);
# delete DIR to make new ones. Prints nothing.
test_certs() {
  local dir=$1
  [ -s "$dir/server-bundle.pem" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=highway test CA" -keyout ca.key -out ca.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout server.key.tmp -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
      -extfile ext.cnf -out server.pem
    openssl pkcs8 -topk8 -nocrypt -in server.key.tmp -out server.key
    openssl pkcs12 -export -in server.pem -inkey server.key -name server -passout pass:changeit -out server.p12
    cat server.key server.pem >server-bundle.pem.tmp && mv server-bundle.pem.tmp server-bundle.pem
    rm -f server.key.tmp server.csr ext.cnf
  ) >"$dir/openssl.log" 2>&1 || fail "making test certificates in $dir" "$dir/openssl.log"
}
