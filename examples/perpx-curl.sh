#!/bin/sh
# Signs and sends one perpx API request with curl (docs/API.md, "Signing").
#   PERPX_KEY=pk_... PERPX_SECRET=... ./examples/perpx-curl.sh POST /api/v1/order '{"market": ...}'
#   PERPX_KEY=pk_... PERPX_SECRET=... ./examples/perpx-curl.sh GET /api/v1/account
# PERPX_URL defaults to http://127.0.0.1:8080.
set -eu
method=$1
path=$2
body=${3:-}
url=${PERPX_URL:-http://127.0.0.1:8080}
ts=$(date +%s%3N)
sig=$(printf '%s\n%s\n%s\n%s' "$ts" "$method" "$path" "$body" \
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$PERPX_SECRET" | awk '{print $NF}')
if [ "$method" = GET ]; then
  curl -sS -H "X-PERPX-APIKEY: $PERPX_KEY" -H "X-PERPX-TIMESTAMP: $ts" -H "X-PERPX-SIGNATURE: $sig" "$url$path"
else
  curl -sS -X "$method" -H "content-type: application/json" -H "X-PERPX-APIKEY: $PERPX_KEY" \
    -H "X-PERPX-TIMESTAMP: $ts" -H "X-PERPX-SIGNATURE: $sig" --data-binary "$body" "$url$path"
fi
echo
