#!/usr/bin/env bash
# Fails when a process started from the given bin folder (control plane, KWOK, ec2sim, tailor) is still running.
set -euo pipefail
bin=${1:?usage: check-leaks.sh BIN_DIR}
leaks=""
for pid in $(ls /proc | grep -E '^[0-9]+$'); do
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  case "$exe" in
    "$bin"/*) leaks+="  pid $pid: $exe"$'\n' ;;
  esac
done
if [ -n "$leaks" ]; then
  echo "processes started from $bin are still running:"
  printf '%s' "$leaks"
  exit 1
fi
echo "no process from $bin is left running"
