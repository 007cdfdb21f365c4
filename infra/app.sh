#!/bin/sh
# The CDK app (cdk.json "app"): checks that Go is there and new enough, in
# one clear line if not, then runs infra/main.go, which builds every
# function's bootstrap and synthesizes the stack. Shell builtins only.
need=
while read -r word version _; do
  [ "$word" = go ] && { need=$version; break; }
done < go.mod
[ -n "$need" ] || { echo "anexo: run the CDK app from the repository root (no go directive in ./go.mod)" >&2; exit 1; }

command -v go >/dev/null 2>&1 || {
  echo "anexo: the CDK app builds the Lambda functions with Go $need or newer, and there is no go on PATH (https://go.dev/dl/)" >&2
  exit 1
}
have=$(go env GOVERSION 2>/dev/null) || have=
have=${have#go}

# older VERSION_A VERSION_B: true when A < B, comparing major.minor.patch numerically
older() {
  a=$1 b=$2
  for _ in 1 2 3; do
    x=${a%%.*} y=${b%%.*}
    x=${x%%[!0-9]*} y=${y%%[!0-9]*}
    [ "${x:-0}" -lt "${y:-0}" ] && return 0
    [ "${x:-0}" -gt "${y:-0}" ] && return 1
    case $a in *.*) a=${a#*.} ;; *) a=0 ;; esac
    case $b in *.*) b=${b#*.} ;; *) b=0 ;; esac
  done
  return 1
}
if [ -z "$have" ] || older "$have" "$need"; then
  echo "anexo: the CDK app needs Go $need or newer (go.mod); $(command -v go) is ${have:+go}${have:-unusable: go env GOVERSION failed} (https://go.dev/dl/)" >&2
  exit 1
fi
exec go run ./infra
