#!/usr/bin/env bash
# Builds the pinned tools into ./bin. Each tool has a stamp file (bin/.stamp-NAME) holding the module version it was
# built from, the Go version and a hash of the link flags; a tool whose stamp matches is skipped, so only a changed pin costs a rebuild.
#
# Usage: hack/tools/build.sh [NAME...]   (no names: all tools)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$here/../.." && pwd)/bin
mkdir -p "$bin"

# name | package | module whose version stamps it
tools=(
  "etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3"
  "kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver|k8s.io/kubernetes"
  "kube-controller-manager|k8s.io/kubernetes/cmd/kube-controller-manager|k8s.io/kubernetes"
  "kube-scheduler|k8s.io/kubernetes/cmd/kube-scheduler|k8s.io/kubernetes"
  "kubectl|k8s.io/kubernetes/cmd/kubectl|k8s.io/kubernetes"
  "kwok|sigs.k8s.io/kwok/cmd/kwok|sigs.k8s.io/kwok"
  "controller-gen|sigs.k8s.io/controller-tools/cmd/controller-gen|sigs.k8s.io/controller-tools"
  "golangci-lint|github.com/golangci/golangci-lint/v2/cmd/golangci-lint|github.com/golangci/golangci-lint/v2"
  "helm|helm.sh/helm/v3/cmd/helm|helm.sh/helm/v3"
)

cd "$here"
goversion=$(go env GOVERSION)

requested=("$@")
want() { # is NAME among the requested tools (all when none were named)?
  [ ${#requested[@]} -eq 0 ] && return 0
  local n; for n in "${requested[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

for entry in "${tools[@]}"; do
  IFS='|' read -r name pkg mod <<<"$entry"
  want "$name" || continue
  version=$(go list -m -f '{{.Version}}' "$mod")
  ldflags="-s -w"
  case "$mod" in
    k8s.io/kubernetes)
      # Clients refuse an unstamped version ("could not parse pre-release/metadata").
      minor=$(echo "$version" | cut -d. -f2)
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      done ;;
    helm.sh/helm/v3)
      # Helm reports the Kubernetes version of its client libraries (v0.37.x here) to charts' kubeVersion checks.
      kminor=$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
      ldflags+=" -X helm.sh/helm/v3/internal/version.version=$version"
      for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kminor"
      done ;;
    github.com/golangci/golangci-lint/v2)
      ldflags+=" -X main.version=${version#v}" ;;
  esac
  stamp="$mod@$version $goversion $(echo "$ldflags" | sha256sum | cut -c1-12)"
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.stamp-$name" 2>/dev/null)" = "$stamp" ]; then
    continue
  fi
  echo "building $name ($mod@$version)…" >&2
  start=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "$pkg"
  echo "$stamp" >"$bin/.stamp-$name"
  echo "built $name in $(( $(date +%s) - start ))s" >&2
done
