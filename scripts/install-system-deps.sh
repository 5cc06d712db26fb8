#!/usr/bin/env bash
# Installs the real servers the integration tests start on loopback, if they are missing:
# Debian's prometheus (and promtool), prometheus-alertmanager (amtool), redis-server,
# chromium-headless-shell (the coaching report's rendering test and PDF output), postgresql
# (the history store's production database), and the Java runtime and Maven that fetch and run
# the Kafka broker (scripts/kafka.sh).
# Idempotent and quiet when everything is already there.
set -euo pipefail

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null \
  || need+=(chromium-headless-shell)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)

if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts these as services on install; the tests start their own on free ports.
  for svc in prometheus prometheus-alertmanager redis-server prometheus-node-exporter postgresql; do
    $sudo systemctl stop "$svc" 2>/dev/null || $sudo service "$svc" stop 2>/dev/null || true
  done
fi
