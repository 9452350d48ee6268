#!/usr/bin/env bash
# Runs the LiteVision test suite. On a fresh Debian 12 machine it first installs the reference oracle
# (python3-torchvision, python3-onnx), the Fashion-MNIST files that the tests compare against, and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
/usr/bin/python3 -c "import torchvision" 2>/dev/null || missing+=(python3-torchvision)
/usr/bin/python3 -c "import onnx" 2>/dev/null || missing+=(python3-onnx)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
# The web page's browser test drives the system Chromium through Playwright (no browser download).
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing test prerequisites: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test LiteVision.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line for CI: "N passed, N failed, N skipped".
grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" \
  | awk -F'[:,] +' '{ f += $2; p += $4; s += $6 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit "$status"
