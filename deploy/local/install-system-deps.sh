#!/usr/bin/env bash
# Debian packages the tests run for real: ClickHouse server (18.16 in bookworm),
# Prometheus with promtool, Alertmanager with amtool (the alert delivery chain
# test), ZooKeeper (the two-shard ClickHouse cluster test), tmux (the
# `cxpulse top` screen test), and stunnel4 with openssl (the TLS tests: a TLS endpoint
# in front of the local broker, with certificates made per test session). Installs only
# what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -e /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v stunnel4 >/dev/null 2>&1 || need+=(stunnel4)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: clickhouse-server, prometheus, prometheus-alertmanager, zookeeper, tmux, stunnel4 and openssl already installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: installing ${need[*]} needs root (or sudo)" >&2; exit 1; }
  sudo="sudo"
fi
# A package wanted twice (prometheus for both binaries) is named once.
mapfile -t need < <(printf '%s\n' "${need[@]}" | awk '!seen[$0]++')
echo "system packages: installing ${need[*]} (Debian)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The packages' own service scripts are not used: tests start private instances.
echo "system packages: done"
