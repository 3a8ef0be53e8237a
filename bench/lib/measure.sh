# Shared by the benchmark scripts (sourced, not run): reading a process's CPU and memory from
# /proc, waiting for a server's port, and reading a field of a flat JSON report.

clk_tck=$(getconf CLK_TCK)

# CPU seconds (user + system) of a process, from /proc/PID/stat fields 14 and 15.
cpu_seconds() {
  awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# User CPU seconds of a process (field 14).
user_seconds() {
  awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", $12 / hz }' "/proc/$1/stat"
}

# Resident memory of a process, KiB.
rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Waits until 127.0.0.1:$1 accepts a connection, for at most $2 tenths of a second (default
# 100); fails, saying so, if it never does.
wait_for_port() {
  for _ in $(seq 1 "${2:-100}"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not open port $1" >&2
  return 1
}

# The value of field $2 in the JSON file $1 (the first one, as written, without quotes).
json_field() {
  sed -n "s/.*\"$2\": *\([^,}]*\).*/\1/p" "$1" | head -n 1
}
