#!/usr/bin/env bash
# Starts (or stops) a local RabbitMQ with its STOMP plugin on loopback, for the
# integration tests. Needs root and Debian's rabbitmq-server package:
#   apt-get install -y --no-install-recommends rabbitmq-server
# Usage: scripts/rabbitmq.sh start|stop|restart|status
# STOMP listens on 127.0.0.1:${IV_RABBITMQ_STOMP_PORT:-61613}; the platform's
# broker user instantvoice/sT0MpM3 is created.
set -euo pipefail
port=${IV_RABBITMQ_STOMP_PORT:-61613}
export ERL_EPMD_ADDRESS=127.0.0.1

start() {
  command -v rabbitmq-server >/dev/null || { echo "rabbitmq-server is not installed" >&2; exit 1; }
  if rabbitmqctl -q status >/dev/null 2>&1; then echo "rabbitmq: already running"; return 0; fi
  mkdir -p /etc/rabbitmq
  printf 'listeners.tcp.default = 127.0.0.1:5672\nstomp.listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$port" > /etc/rabbitmq/rabbitmq.conf
  rabbitmq-plugins enable --offline rabbitmq_stomp >/dev/null
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 120); do
    if rabbitmqctl -q await_startup >/dev/null 2>&1; then break; fi
    sleep 1
  done
  rabbitmqctl -q await_startup
  rabbitmqctl -q add_user instantvoice sT0MpM3 >/dev/null 2>&1 || rabbitmqctl -q change_password instantvoice sT0MpM3 >/dev/null
  rabbitmqctl -q set_permissions -p / instantvoice '.*' '.*' '.*' >/dev/null
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "rabbitmq: STOMP on 127.0.0.1:$port"; return 0; fi
    sleep 1
  done
  echo "rabbitmq: STOMP port $port never opened" >&2; exit 1
}

stop() {
  rabbitmqctl -q shutdown >/dev/null 2>&1 || true
  epmd -kill >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) rabbitmqctl -q status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
