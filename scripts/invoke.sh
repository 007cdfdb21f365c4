#!/usr/bin/env bash
# Run one function's bootstrap under aws-lambda-rie and invoke it with an event.
#   scripts/invoke.sh FUNCTION EVENT_FILE
# The function reads TABLE_NAME, BUCKET_NAME, DYNAMODB_ENDPOINT, S3_ENDPOINT and
# AWS credentials from the environment (e.g. a moto_server, or AWS itself).
set -euo pipefail
fn=${1:?usage: invoke.sh FUNCTION EVENT_FILE}
event=${2:?usage: invoke.sh FUNCTION EVENT_FILE}
[ -d "functions/$fn" ] || { echo "no function $fn (see functions/)" >&2; exit 2; }
[ -f "$event" ] || { echo "no event file $event (see events/)" >&2; exit 2; }
rie=$(command -v aws-lambda-rie || echo "$(go env GOPATH)/bin/aws-lambda-rie")
[ -x "$rie" ] || { echo "aws-lambda-rie not found: go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d" >&2; exit 2; }
out=bin/local/$fn
go run ./infra/build -goarch "$(go env GOARCH)" -dir bin/local "$fn"
port=${RIE_PORT:-9010}
log=$(mktemp)
"$rie" --runtime-interface-emulator-address "127.0.0.1:$port" "$out/bootstrap" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; echo "--- function log:" >&2; cat "$log" >&2; rm -f "$log"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
curl -sS -X POST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" --data-binary "@$event"
echo
