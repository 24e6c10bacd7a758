# shellcheck shell=bash
# The config of a private clickhouse-server, shared by ops/clickhouse/start (one
# server) and ops/clickhouse/cluster (the replicas of a cluster). Source it
# after ../lib.sh.

# clickhouse_config DIR TCP_PORT HTTP_PORT [EXTRA_XML]: write DIR/config.xml and
# DIR/users.xml for a server with its data in DIR/data and logs in DIR/logs;
# EXTRA_XML goes inside <yandex> (a cluster's remote_servers, zookeeper, macros).
# 18.16 wants the old <yandex> root element. Paths must end with '/'.
# Rewritten on each start so port changes apply; data under data/ is kept.
# CLICKHOUSE_USERS_XML is the users.xml of every server configured here: the
# file highway dev's server embeds (highway/store/local_users.xml).
CLICKHOUSE_USERS_XML=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/highway/store/local_users.xml

clickhouse_config() {
  local dir=$1 tcp=$2 http=$3 extra=${4:-}
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/logs"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$dir/logs/clickhouse-server.log</log>
    <errorlog>$dir/logs/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$tcp</tcp_port>
  <http_port>$http</http_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <!-- deterministic DateTime rendering regardless of the machine's zone -->
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  $extra
</yandex>
XML
  # The users are highway's, the same as highway dev's server has.
  cp "$CLICKHOUSE_USERS_XML" "$dir/users.xml"

}

# clickhouse_tls_xml DIR PORT: the EXTRA_XML of clickhouse_config for the secure
# native port PORT (tcp_port_secure, in 18.16), with a certificate for 127.0.0.1
# signed by the test CA of test_certs (made once, kept in DIR/tls; clients trust
# DIR/tls/ca.pem: clickhouse://127.0.0.1:PORT/default?secure=true&tls_ca=DIR/tls/ca.pem).
clickhouse_tls_xml() {
  local dir=$1 port=$2
  test_certs "$dir/tls"
  cat <<XML
<tcp_port_secure>$port</tcp_port_secure>
  <openSSL>
    <server>
      <certificateFile>$dir/tls/server.pem</certificateFile>
      <privateKeyFile>$dir/tls/server.key</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
XML
}

# clickhouse_ready PORT: true if the server on 127.0.0.1:PORT answers a query.
clickhouse_ready() { clickhouse-client --host 127.0.0.1 --port "$1" -q 'SELECT 1' >/dev/null 2>&1; }

# clickhouse_spawn DIR PORT TIMEOUT: start the server configured in DIR (its pid
# in DIR/clickhouse.pid) and wait until it answers on PORT.
clickhouse_spawn() {
  local dir=$1 port=$2 timeout=$3 pidfile=$1/clickhouse.pid logdir=$1/logs errlog
  # Runs fine as root on 18.16 (newer versions only warn). Not using --daemon so
  # spawn() records the real server pid.
  spawn "$pidfile" "$logdir/stdout.log" clickhouse-server --config-file="$dir/config.xml"
  for _ in $(seq $((timeout * 5))); do
    if ! pid_alive "$pidfile"; then
      # config errors are printed to stdout before the file logger is set up
      errlog=$logdir/clickhouse-server.err.log
      [ -s "$errlog" ] || errlog=$logdir/stdout.log
      fail "clickhouse-server startup in $dir (process exited)" "$errlog"
    fi
    clickhouse_ready "$port" && return 0
    sleep 0.2
  done
  fail "clickhouse-server startup in $dir (not ready after ${timeout}s)" "$logdir/clickhouse-server.err.log"
}
