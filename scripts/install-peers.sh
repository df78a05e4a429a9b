#!/usr/bin/env bash
# Installs the real peers the tests and benchmarks run against, from Debian's packages:
# docker-registry (the CNCF Distribution registry), skopeo, openssl, and PostgreSQL (the registry's
# --database mode). Idempotent; needs root or sudo.
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's package may start a registry on :5000 where an init system runs; tests use their own.
