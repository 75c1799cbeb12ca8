# Sourced by the server scripts (server-tail.sh, gateway-instructions.sh).
#
# read_admin_key LOG TRIES: waits up to TRIES tenths of a second for the admin key line that
# `perpx serve` prints at start into LOG, then sets `key` and `secret` from it (declare them
# `local` in the caller to keep them there).
read_admin_key() {
    local log=$1 tries=$2
    for _ in $(seq "$tries"); do grep -q "admin key" "$log" && break; sleep 0.1; done
    key=$(grep 'admin key' "$log" | grep -oE '"key":"[^"]+"' | cut -d'"' -f4)
    secret=$(grep 'admin key' "$log" | grep -oE '"secret":"[^"]+"' | cut -d'"' -f4)
}
