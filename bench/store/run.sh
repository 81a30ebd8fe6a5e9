#!/usr/bin/env bash
# Plan-store benchmark: sealing alone, seal + upload and download + unseal of a 1 GB plan to
# Azurite (and to a local directory store), as MB/s and peak memory (max RSS of the process
# doing the operation), median of RUNS runs.
#
#   bench/store/run.sh                 1 GB, 5 runs
#   SIZE_MB=300 RUNS=3 bench/store/run.sh
#   AZURITE_MODE=disk bench/store/run.sh   Azurite persisting to disk instead of memory
#
# Builds a Release tree in build-bench-store/ (unless BUILD_DIR names one), compiles
# bench/store/bench_store.c against it, and starts its own Azurite on a free loopback port.
# Work files go to bench/out/store/ (ignored by git). Goals (issue 5): sealing >= 500 MB/s,
# peak memory < 32 MB whatever the plan size.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
size_mb=${SIZE_MB:-1000}
runs=${RUNS:-5}
mode=${AZURITE_MODE:-memory}
build=${BUILD_DIR:-build-bench-store}
out=$root/bench/out/store
mkdir -p "$out"

if [ ! -f "$build/libmlinfra_core.a" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLINFRA_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target mlinfra_core >/dev/null
fi
libs=$(pkg-config --libs libcurl jansson libgit2 libsodium yaml-0.1 libcrypto)
# shellcheck disable=SC2086
cc -O2 -D_GNU_SOURCE -I agent bench/store/bench_store.c "$build/libmlinfra_core.a" $libs \
    -lm -lpthread -o "$out/bench_store"

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
azargs=(--blobHost 127.0.0.1 --blobPort "$port" --disableTelemetry)
if [ "$mode" = memory ]; then
    azargs+=(--inMemoryPersistence)
else
    rm -rf "$out/azurite"
    mkdir -p "$out/azurite"
    azargs+=(--location "$out/azurite")
fi
tests/node_modules/.bin/azurite-blob "${azargs[@]}" >"$out/azurite.log" 2>&1 &
azurite=$!
trap 'kill $azurite 2>/dev/null; wait $azurite 2>/dev/null; rm -f "$out"/plan "$out"/plan.out "$out"/sealed; rm -rf "$out/local" "$out/azurite"' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

export MLINFRA_PLAN_KEY
MLINFRA_PLAN_KEY=$(openssl rand -base64 32)
azure_env=(AZURE_STORAGE_BLOB_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
           AZURE_STORAGE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
           AZURE_STORAGE_CONTAINER=bench MLINFRA_STORE=)
local_env=(MLINFRA_STORE="file://$out/local" AZURE_STORAGE_BLOB_ENDPOINT= AZURE_STORAGE_ACCOUNT=)

"$out/bench_store" gen "$out/plan" $((size_mb * 1000 * 1000))

# Runs "$@" RUNS times; prints the median MB/s and the median and maximum peak RSS.
measure() {
    local label=$1
    shift
    local rates=() cpus=() rss=()
    for _ in $(seq "$runs"); do
        line=$("$@")
        rates+=("$(sed -n 's/.* mb_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
        cpus+=("$(sed -n 's/.*mb_per_cpu_s=\([0-9.]*\).*/\1/p' <<<"$line")")
        rss+=("$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' <<<"$line")")
    done
    local mid=$(((runs + 1) / 2))
    local rate cpu rmed rmax
    rate=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "${mid}p")
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "${mid}p")
    rmed=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "${mid}p")
    rmax=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
    awk -v l="$label" -v r="$rate" -v c="$cpu" -v m="$rmed" -v x="$rmax" \
        'BEGIN { printf "| %-34s | %8s | %8s | %7.1f | %7.1f |\n", l, r, c, m / 1024, x / 1024 }'
}

echo "plan: ${size_mb} MB, runs: $runs, Azurite: $mode persistence"
echo
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| operation                          | MB/s wall | MB/s per CPU-second | peak RSS MiB, median | max |"
echo "| ---------------------------------- | -------- | -------- | ------- | ------- |"
measure "SHA-256 of the plan (pre-pass)" "$out/bench_store" sha "$out/plan"
measure "seal alone (to /dev/null)" "$out/bench_store" seal "$out/plan" /dev/null
measure "seal + upload to Azurite" env "${azure_env[@]}" "$out/bench_store" put "$out/plan"
measure "download + verify + unseal" env "${azure_env[@]}" "$out/bench_store" get "$out/plan.out"
cmp -s "$out/plan" "$out/plan.out" || { echo "round trip differs" >&2; exit 1; }
measure "seal + store, local directory" env "${local_env[@]}" "$out/bench_store" put "$out/plan"
measure "fetch + unseal, local directory" env "${local_env[@]}" "$out/bench_store" get "$out/plan.out"
cmp -s "$out/plan" "$out/plan.out" || { echo "round trip differs" >&2; exit 1; }
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
