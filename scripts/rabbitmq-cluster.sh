#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on loopback, for the durable-events cluster tests:
# Debian's rabbitmq-server, run as root without systemd, next to the single
# node of scripts/rabbitmq.sh (rabbit@<host>, STOMP 61613), which it never
# touches. Each node has its own name, ports and data directory:
#
#   node            STOMP            AMQP            distribution
#   ivc1@localhost  127.0.0.1:62711  127.0.0.1:5711  127.0.0.1:25711
#   ivc2@localhost  127.0.0.1:62712  127.0.0.1:5712  127.0.0.1:25712
#   ivc3@localhost  127.0.0.1:62713  127.0.0.1:5713  127.0.0.1:25713
#
# The nodes run as the rabbitmq user (so they share its Erlang cookie) and
# the epmd of the single node (or start one on 127.0.0.1). ivc2 and ivc3 join
# ivc1; the user instantvoice / sT0MpM3 is created cluster-wide; start
# returns when each node's STOMP port answers CONNECT with CONNECTED.
#
# Usage: scripts/rabbitmq-cluster.sh COMMAND
#   start          start the cluster; a no-op when it already runs whole.
#                  Anything else (a crashed run, a half-formed cluster) is
#                  killed and wiped first, then the cluster is formed afresh
#                  (15 s on two idle cores, up to a minute on busy ones;
#                  0.45 GB of memory).
#   stop           shut every node down (SIGKILL for one that does not
#                  answer) and remove the data directory; leaves epmd.
#   status         each node's state, and the cluster as ivc1 sees it;
#                  exits 1 unless all three run and answer STOMP.
#   addrs          the STOMP addresses, comma-separated (IV_RABBITMQ_CLUSTER).
#   nodes          one line per node: index, node name, STOMP address.
#   kill N         SIGKILL node N's beam.smp (N: 1-3, its node name, or
#                  "all": a crash of the whole cluster) and wait until it is
#                  gone.
#   restart N      start node N (or "all") again with its data, after kill or
#                  a crash; it rejoins the cluster. Returns when its STOMP
#                  answers.
#   flush          make every running node write its Ra tables (dets) to
#                  disk now. RabbitMQ 3.10's Ra 2.2 keeps a new quorum queue
#                  member's registration and term in dets tables it saves
#                  every 0.5 s and 5 s: when every node is SIGKILLed within
#                  that window after the queue was made, the queue comes
#                  back with no leader for good (all members followers at
#                  term 0; seen once in five runs). A test that kills the
#                  whole cluster flushes first; a real cluster has the same
#                  window.
#   queue NAME     the queue's type, leader, members and online members, as
#                  rabbitmqctl list_queues prints them (JSON), asked of the
#                  first node that runs.
#
# IV_RABBITMQ_CLUSTER_DIR sets the data directory (an absolute path; default
# /var/tmp/iv-rabbitmq-cluster).
set -euo pipefail

R=${IV_RABBITMQ_CLUSTER_DIR:-/var/tmp/iv-rabbitmq-cluster}
NODES=(ivc1 ivc2 ivc3)
LOGIN=instantvoice
PASSCODE=sT0MpM3
export ERL_EPMD_ADDRESS=127.0.0.1

case "$R" in /*) ;; *) echo "IV_RABBITMQ_CLUSTER_DIR must be an absolute path: $R" >&2; exit 2 ;; esac

say() { echo "rabbitmq-cluster: $*"; }
die() { echo "rabbitmq-cluster: $*" >&2; exit 1; }

node() { echo "${NODES[$(($1 - 1))]}@localhost"; }
stomp_port() { echo $((62710 + $1)); }
amqp_port() { echo $((5710 + $1)); }
dist_port() { echo $((25710 + $1)); }
ctl() { local i=$1; shift; rabbitmqctl -n "$(node "$i")" "$@"; }

# index N|NAME -> 1..3
index() {
  local a=$1 i
  for i in 1 2 3; do
    if [ "$a" = "$i" ] || [ "$a" = "${NODES[$((i - 1))]}" ] || [ "$a" = "$(node "$i")" ]; then echo "$i"; return 0; fi
  done
  die "no node $a (want 1-3, ${NODES[*]} or their @localhost names)"
}

# pid of node i's beam.smp, or nothing: the beam.smp whose environment
# names the node (so a stale pid file can never name another process).
pid_of() {
  local p want comm
  want="RABBITMQ_NODENAME=$(node "$1")"
  for p in /proc/[0-9]*; do
    comm=
    read -r comm 2>/dev/null < "$p/comm" || true
    [ "$comm" = beam.smp ] || continue
    if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qx "$want"; then echo "${p#/proc/}"; return 0; fi
  done
}

# stomp_ok i: a CONNECT on node i's STOMP port gets CONNECTED within 3 s.
stomp_ok() {
  local port
  port=$(stomp_port "$1")
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "CONNECT\naccept-version:1.2\nhost:/\nlogin:%s\npasscode:%s\n\n\0" "$2" "$3" >&3
    head -c 9 <&3 | grep -q "^CONNECTED"' _ "$port" "$LOGIN" "$PASSCODE" 2>/dev/null
}

wait_stomp() {
  local i=$1 n
  for n in $(seq 1 120); do
    if stomp_ok "$i"; then return 0; fi
    sleep 0.5
  done
  die "$(node "$i"): STOMP on 127.0.0.1:$(stomp_port "$i") never answered CONNECT"
}

# await i: wait until node i has started. A node whose beam.smp is gone
# before it started (it died at boot, or it was the old, killed process
# that restart_nodes saw still exiting) is launched again, up to twice.
await() {
  local i=$1 n try
  for try in 1 2 3; do
    for n in $(seq 1 120); do
      if ctl "$i" -q await_startup >/dev/null 2>&1; then return 0; fi
      if [ -z "$(pid_of "$i")" ] && [ "$n" -gt 10 ]; then break; fi
      sleep 0.5
    done
    [ -z "$(pid_of "$i")" ] || break # running, yet not started in 60 s: give up
    [ "$try" -lt 3 ] || break
    say "$(node "$i") is not running and has not started: launching it again"
    launch "$i"
  done
  tail -n 20 "$R/$i/log/"*.log >&2 2>/dev/null || true
  die "$(node "$i") did not start (logs: $R/$i/log)"
}

configure() {
  local i=$1 d=$R/$1
  mkdir -p "$d/mnesia" "$d/log"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nstomp.listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' \
    "$(amqp_port "$i")" "$(stomp_port "$i")" > "$d/rabbitmq.conf"
  echo '[rabbitmq_stomp].' > "$d/enabled_plugins"
  # Its own env file keeps /etc/rabbitmq/rabbitmq-env.conf from being read.
  echo 'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"' > "$d/rabbitmq-env.conf"
}

# cookie makes sure the rabbitmq user has an Erlang cookie before the
# three nodes start at once: each would otherwise write its own, and they
# could not join.
cookie() {
  local home f
  home=$(getent passwd rabbitmq | cut -d: -f6)
  f=${home:-/var/lib/rabbitmq}/.erlang.cookie
  [ -s "$f" ] && return 0
  mkdir -p "$(dirname "$f")"
  (umask 077; head -c 64 /dev/urandom | od -An -tx1 | tr -dc 'a-f0-9' | head -c 32 | tr 'a-f' 'A-F' > "$f")
  chown rabbitmq:rabbitmq "$f"
  chmod 0400 "$f"
}

# launch i: start node i's server in the background (returns at once).
launch() {
  local i=$1 d=$R/$1
  env RABBITMQ_NODENAME="$(node "$i")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$(amqp_port "$i")" \
    RABBITMQ_DIST_PORT="$(dist_port "$i")" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_MNESIA_BASE="$d/mnesia" \
    RABBITMQ_LOG_BASE="$d/log" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" rabbitmq-server -detached >>"$d/log/launch.log" 2>&1 || true
}

kill_node() {
  local i=$1 pid n
  pid=$(pid_of "$i")
  [ -n "$pid" ] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  for n in $(seq 1 100); do
    # gone, or a zombie waiting for its parent
    [ -d "/proc/$pid" ] || return 0
    case "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)" in Z|X|"") return 0 ;; esac
    sleep 0.1
  done
  die "$(node "$i"): beam.smp $pid still alive after SIGKILL"
}

running_nodes() { ctl 1 -q cluster_status --formatter json 2>/dev/null | grep -o '"running_nodes":\[[^]]*\]' || true; }

whole() {
  local i rn
  for i in 1 2 3; do [ -n "$(pid_of "$i")" ] || return 1; done
  rn=$(running_nodes)
  for i in 1 2 3; do case "$rn" in *"\"$(node "$i")\""*) ;; *) return 1 ;; esac; done
  for i in 1 2 3; do stomp_ok "$i" || return 1; done
}

start() {
  command -v rabbitmq-server >/dev/null || die "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
  if whole; then say "already running: $(addrs)"; return 0; fi
  local i
  for i in 1 2 3; do kill_node "$i"; done
  rm -rf "$R"
  mkdir -p "$R"
  chmod 0755 "$R"
  for i in 1 2 3; do configure "$i"; done
  chown -R rabbitmq:rabbitmq "$R"
  cookie
  for i in 1 2 3; do launch "$i"; done
  for i in 1 2 3; do await "$i"; done
  for i in 2 3; do
    ctl "$i" -q stop_app >/dev/null
    ctl "$i" -q join_cluster "$(node 1)" >/dev/null 2>&1 || ctl "$i" -q join_cluster "$(node 1)" >/dev/null
    ctl "$i" -q start_app >/dev/null
  done
  ctl 1 -q add_user "$LOGIN" "$PASSCODE" >/dev/null 2>&1 || ctl 1 -q change_password "$LOGIN" "$PASSCODE" >/dev/null
  ctl 1 -q set_permissions -p / "$LOGIN" '.*' '.*' '.*' >/dev/null
  for i in 1 2 3; do wait_stomp "$i"; done
  whole || die "the cluster did not form: $(running_nodes)"
  say "running: $(addrs)"
}

stop() {
  local i
  for i in 3 2 1; do
    [ -n "$(pid_of "$i")" ] || continue
    timeout 30 rabbitmqctl -n "$(node "$i")" -q shutdown >/dev/null 2>&1 || true
    kill_node "$i"
  done
  rm -rf "$R"
  say "stopped"
}

# restart_nodes I...: start the nodes that do not run, all at once (a node
# restarted alone after the whole cluster went down waits for its peers),
# then wait for each.
restart_nodes() {
  local i
  for i in "$@"; do [ -d "$R/$i/mnesia" ] || die "$(node "$i") has no data in $R: run start"; done
  for i in "$@"; do if [ -z "$(pid_of "$i")" ]; then launch "$i"; fi; done
  for i in "$@"; do await "$i"; done
  for i in "$@"; do
    wait_stomp "$i"
    say "$(node "$i") running: STOMP on 127.0.0.1:$(stomp_port "$i")"
  done
}

# nodes_of N|all -> indexes
nodes_of() { if [ "$1" = all ]; then echo 1 2 3; else index "$1"; fi; }

status() {
  local i ok=0 pid
  for i in 1 2 3; do
    pid=$(pid_of "$i")
    if [ -z "$pid" ]; then echo "$(node "$i"): not running"; ok=1; continue; fi
    if stomp_ok "$i"; then echo "$(node "$i"): pid $pid, STOMP 127.0.0.1:$(stomp_port "$i") answers"
    else echo "$(node "$i"): pid $pid, STOMP 127.0.0.1:$(stomp_port "$i") does not answer"; ok=1; fi
  done
  local first
  for i in 1 2 3; do if [ -n "$(pid_of "$i")" ]; then first=$i; break; fi; done
  if [ -n "${first:-}" ]; then
    echo "cluster, as $(node "$first") sees it: $(ctl "$first" -q cluster_status --formatter json 2>/dev/null | grep -o '"running_nodes":\[[^]]*\]' || echo unknown)"
  fi
  return $ok
}

addrs() { echo "127.0.0.1:62711,127.0.0.1:62712,127.0.0.1:62713"; }

queue() {
  local name=$1 i
  for i in 1 2 3; do
    [ -n "$(pid_of "$i")" ] || continue
    if out=$(ctl "$i" -q list_queues name type leader members online --formatter json 2>/dev/null); then
      # one JSON object per queue; print the one named.
      echo "$out" | tr -d '\n' | grep -o "{\"name\":\"$name\"[^}]*}" && return 0
      die "no queue $name"
    fi
  done
  die "no node answers"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  addrs) addrs ;;
  nodes) for i in 1 2 3; do echo "$i $(node "$i") 127.0.0.1:$(stomp_port "$i")"; done ;;
  kill)
    [ $# -eq 2 ] || die "usage: $0 kill N|all"
    ns=$(nodes_of "$2")
    for i in $ns; do kill_node "$i"; say "$(node "$i") killed"; done ;;
  restart)
    [ $# -eq 2 ] || die "usage: $0 restart N|all"
    ns=$(nodes_of "$2")
    # shellcheck disable=SC2086
    restart_nodes $ns ;;
  flush)
    for i in 1 2 3; do
      [ -n "$(pid_of "$i")" ] || continue
      ctl "$i" -q eval '[ok = dets:sync(T) || T <- dets:all()], ok.' >/dev/null || die "$(node "$i"): flushing its dets tables failed"
    done
    say "Ra tables flushed" ;;
  queue) [ $# -eq 2 ] || die "usage: $0 queue NAME"; queue "$2" ;;
  *) echo "usage: $0 start|stop|status|addrs|nodes|kill N|all|restart N|all|flush|queue NAME" >&2; exit 2 ;;
esac
