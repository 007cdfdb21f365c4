#!/usr/bin/env bash
# Resumable upload to Anexo with nothing but curl, jq and dd.
#
#   scripts/upload.sh FILE               open a session and upload FILE
#   scripts/upload.sh FILE SESSION_ID    resume: upload only the missing parts
#
# Needs ANEXO_URL and ANEXO_TOKEN. Parts go straight to their presigned S3
# URLs (Content-Length is signed into each URL, so curl sends the exact part
# from a temporary file). Interrupt it at any time and run it again with the
# session id it printed. STOP_AFTER=N stops after N parts (used by tests to
# simulate a killed upload).
set -euo pipefail
: "${ANEXO_URL:?set ANEXO_URL}" "${ANEXO_TOKEN:?set ANEXO_TOKEN}"
file=${1:?usage: upload.sh FILE [SESSION_ID]}
sid=${2:-}
batch=16 # part URLs per request: fresh URLs for each batch

api() { curl -sS --fail-with-body -H "Authorization: Bearer $ANEXO_TOKEN" -H 'Content-Type: application/json' "$@"; }

if [ -z "$sid" ]; then
  body=$(jq -nc --arg n "$(basename "$file")" --argjson s "$(stat -c%s "$file")" '{file_name: $n, file_size: $s}')
  sid=$(api -X POST "$ANEXO_URL/v1/sessions" -d "$body" | jq -r .id)
fi
echo "session $sid (resume with: $0 $file $sid)" >&2

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sent=0
while :; do
  state=$(api "$ANEXO_URL/v1/sessions/$sid")
  part_size=$(jq -r .session.part_size <<<"$state")
  next=$(jq -c ".missing_parts[:$batch]" <<<"$state")
  [ "$next" = "[]" ] && break
  while read -r n url; do
    dd if="$file" of="$tmp" bs="$part_size" skip=$((n - 1)) count=1 status=none
    curl -sS --fail -X PUT --upload-file "$tmp" -o /dev/null "$url"
    sent=$((sent + 1))
    echo "part $n of $(jq -r .session.part_count <<<"$state") uploaded" >&2
    if [ -n "${STOP_AFTER:-}" ] && [ "$sent" -ge "$STOP_AFTER" ]; then
      echo "stopped after $sent parts" >&2
      exit 3
    fi
  done < <(api -X POST "$ANEXO_URL/v1/sessions/$sid/parts" -d "{\"part_numbers\":$next}" | jq -r '.parts[] | "\(.part_number) \(.url)"')
done
api -X POST "$ANEXO_URL/v1/sessions/$sid/complete"
echo
