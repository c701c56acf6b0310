#!/usr/bin/env bash
# Starts (or stops) a local Apache ActiveMQ 5 with only a STOMP connector on
# loopback, for the ActiveMQ integration tests (stompx/activemq_test.go),
# without systemd: the broker runs from a base directory of its own
# (conf/activemq.xml, conf/log4j.properties, data/) that this script writes.
# Installs nothing; it needs Java and Debian's package:
#   apt-get install -y --no-install-recommends activemq
# Usage: scripts/activemq.sh start|stop|restart|status|addr
# STOMP listens on 127.0.0.1:${IV_ACTIVEMQ_STOMP_PORT:-61616}. The broker
# takes only the platform's login instantvoice/sT0MpM3 (ActiveMQ's
# simpleAuthenticationPlugin; there is no authorization plugin, so that user
# may use every destination). Nothing is persistent (persistent="false"),
# JMX is off, the heap is 256 MB. The base directory is
# ${IV_ACTIVEMQ_DIR:-/tmp/iv-activemq-$port}; the broker's log is
# data/activemq.log there, its stdout and stderr data/stdout.log.
set -euo pipefail
port=${IV_ACTIVEMQ_STOMP_PORT:-61616}
base=${IV_ACTIVEMQ_DIR:-/tmp/iv-activemq-$port}
home=${ACTIVEMQ_HOME:-/usr/share/activemq}
pidfile=$base/data/activemq.pid
login=instantvoice
passcode=sT0MpM3

# pid prints the broker's pid if it is running from this base directory.
pid() {
  [ -f "$pidfile" ] || return 1
  local p
  p=$(cat "$pidfile")
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "-Dactivemq.base=$base " || return 1
  echo "$p"
}

# stomp_connected prints the server header of the broker's CONNECTED answer
# to a STOMP CONNECT with the platform's login, and fails when there is none.
stomp_connected() {
  local line server="" ok=""
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'CONNECT\naccept-version:1.2\nhost:/\nlogin:%s\npasscode:%s\nheart-beat:0,0\n\n\0' "$login" "$passcode" >&3
  while IFS= read -r -t 5 -u 3 line; do
    line=${line%$'\r'}
    case "$line" in
      CONNECTED) ok=1 ;;
      ERROR) break ;;
      server:*) server=${line#server:} ;;
      "") break ;;
    esac
  done
  [ -n "$ok" ] && printf 'DISCONNECT\n\n\0' >&3 2>/dev/null || true
  exec 3<&- 3>&-
  [ -n "$ok" ] || return 1
  echo "${server:-unknown}"
}

write_conf() {
  mkdir -p "$base/conf" "$base/data" "$base/tmp"
  cat >"$base/conf/activemq.xml" <<EOF
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="iv-activemq"
          persistent="false" useJmx="false" advisorySupport="false"
          dataDirectory="$base/data" tmpDataDirectory="$base/tmp">
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="false">
        <users>
          <authenticationUser username="$login" password="$passcode" groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage percentOfJvmHeap="60"/></memoryUsage>
        <tempUsage><tempUsage limit="256 mb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$port"/>
    </transportConnectors>
  </broker>
</beans>
EOF
  # Debian's ActiveMQ logs through log4j 1.2, which reads log4j.properties
  # from the classpath (conf/).
  cat >"$base/conf/log4j.properties" <<'EOF'
log4j.rootLogger=WARN, logfile
log4j.logger.org.apache.activemq=INFO
log4j.appender.logfile=org.apache.log4j.RollingFileAppender
log4j.appender.logfile.file=${activemq.data}/activemq.log
log4j.appender.logfile.maxFileSize=1024KB
log4j.appender.logfile.maxBackupIndex=2
log4j.appender.logfile.layout=org.apache.log4j.PatternLayout
log4j.appender.logfile.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
EOF
}

start() {
  [ -f "$home/bin/activemq.jar" ] || { echo "activemq: $home/bin/activemq.jar not found (apt-get install activemq)" >&2; exit 1; }
  command -v java >/dev/null || { echo "activemq: java not found" >&2; exit 1; }
  if p=$(pid); then echo "activemq: already running (pid $p)"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "activemq: 127.0.0.1:$port is taken by another process" >&2; exit 1
  fi
  write_conf
  # The options of Debian's /usr/bin/activemq for Java 9 and later.
  setsid java -Xms64M -Xmx256M -Djava.io.tmpdir="$base/tmp" \
    --add-reads=java.xml=java.logging \
    --add-opens java.base/java.security=ALL-UNNAMED \
    --add-opens java.base/java.net=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED \
    --add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
    -Dactivemq.classpath="$base/conf" \
    -Dactivemq.home="$home" \
    -Dactivemq.base="$base" \
    -Dactivemq.conf="$base/conf" \
    -Dactivemq.data="$base/data" \
    -jar "$home/bin/activemq.jar" start "xbean:file:$base/conf/activemq.xml" \
    </dev/null >"$base/data/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  local server
  for _ in $(seq 1 300); do # 60 s
    if server=$(stomp_connected 2>/dev/null); then
      echo "activemq: $server, STOMP on 127.0.0.1:$port (pid $(cat "$pidfile"), base $base)"
      return 0
    fi
    if ! pid >/dev/null; then
      echo "activemq: the broker exited; its output:" >&2
      tail -n 30 "$base/data/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "activemq: STOMP on 127.0.0.1:$port never answered CONNECT" >&2
  tail -n 30 "$base/data/stdout.log" >&2 || true
  stop
  exit 1
}

# stop sends SIGTERM (ActiveMQ's shutdown hook stops the broker cleanly) and
# waits for the process; SIGKILL after 30 s.
stop() {
  local p
  if ! p=$(pid); then rm -f "$pidfile"; echo "activemq: not running"; return 0; fi
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 150); do
    if ! kill -0 "$p" 2>/dev/null; then rm -f "$pidfile"; echo "activemq: stopped"; return 0; fi
    sleep 0.2
  done
  echo "activemq: pid $p still running after 30 s, killing it" >&2
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  local p server
  if ! p=$(pid); then echo "activemq: not running"; return 3; fi
  if server=$(stomp_connected 2>/dev/null); then
    echo "activemq: $server, STOMP on 127.0.0.1:$port (pid $p)"
    return 0
  fi
  echo "activemq: pid $p running, but STOMP on 127.0.0.1:$port does not answer CONNECT" >&2
  return 1
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  addr) echo "127.0.0.1:$port" ;;
  *) echo "usage: $0 start|stop|restart|status|addr" >&2; exit 2 ;;
esac
