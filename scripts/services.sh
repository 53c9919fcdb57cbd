#!/usr/bin/env bash
# Makes sure the services that service-backed tests use are running, starting any that
# are down, then prints the environment the tests read.
#
#   scripts/services.sh            # check/start PostgreSQL, Redis, RabbitMQ, NATS
#   eval "$(scripts/services.sh --env)"   # ... and export PLATFORM_TEST_*_URL in this shell
#
# It starts the Debian-packaged servers the way the project's machines have them
# installed (pg_ctlcluster, redis-server, rabbitmq-server, nats-server). On another
# machine, start the same services however you like (e.g. containers) on their standard
# ports; the script only starts what does not already answer.
set -euo pipefail

want_env=0
[[ "${1:-}" == "--env" ]] && want_env=1

log() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2 secs=${3:-60}
  for _ in $(seq 1 "$secs"); do
    port_open "$port" && { log "$name is up on 127.0.0.1:$port"; return 0; }
    sleep 1
  done
  log "ERROR: $name did not come up on 127.0.0.1:$port within ${secs}s"
  return 1
}

ensure() {
  local name=$1 port=$2 start=$3
  if port_open "$port"; then
    log "$name already running on 127.0.0.1:$port"
    return 0
  fi
  log "$name is down on 127.0.0.1:$port; starting it"
  if ! bash -c "$start" >&2; then
    log "ERROR: could not start $name with: $start"
    return 1
  fi
  wait_port "$name" "$port" 90
}

ensure PostgreSQL 5432 \
  'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start'
ensure Redis 6379 \
  'mkdir -p /var/lib/redis /var/log/redis && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
ensure RabbitMQ 5672 'rabbitmq-server -detached'
ensure NATS 4222 \
  'mkdir -p /var/lib/nats-server && start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'

if [[ $want_env == 1 ]]; then
  cat <<'ENV'
export PLATFORM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
export PLATFORM_TEST_REDIS_URL=redis://127.0.0.1:6379
export PLATFORM_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
export PLATFORM_TEST_NATS_URL=nats://127.0.0.1:4222
ENV
fi
