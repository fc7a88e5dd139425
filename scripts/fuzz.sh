#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Prints one line per target with libFuzzer's final counts (runs, exec/s, cov, ft, corpus size).
# Exits non-zero if a target crashes, panics, times out on one input or leaks past the RSS limit;
# the input that did it is in fuzz/artifacts/TARGET/ and the log in fuzz/target/logs/TARGET.log.
#
# Stable Rust: cargo-fuzz passes `-Zsanitizer=address` (and a few other -Z flags) to rustc, which
# a stable compiler accepts with RUSTC_BOOTSTRAP=1; the AddressSanitizer runtime ships with the
# stable standard library. FUZZ_SANITIZER=none builds without ASan (faster to build and run; our
# crates forbid `unsafe`, so ASan mostly watches the dependencies).
#
# The working corpus lives in fuzz/corpus/TARGET (git-ignored, grows across runs); the committed
# seeds in fuzz/seeds/TARGET and dictionaries in fuzz/dicts/TARGET.dict are read as well.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    # Pinned, as cargo-deny in .ci/run: the version this script's flags were checked with.
    cargo install cargo-fuzz --locked --version 0.13.2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    # Not `mapfile < <(cargo fuzz list)`: set -e does not see a process substitution fail, and
    # an empty list would "pass" without fuzzing anything.
    listed=$(cargo fuzz list)
    mapfile -t targets <<<"$listed"
fi
if [ "${#targets[@]}" -eq 0 ] || [ -z "${targets[0]}" ]; then
    echo "fuzz: no fuzz targets found in fuzz/" >&2
    exit 1
fi

build_start=$(date +%s)
cargo fuzz build -O -s "$sanitizer"
echo "fuzz: built ${#targets[@]} targets (sanitizer: $sanitizer) in $(( $(date +%s) - build_start ))s"

mkdir -p target/logs
failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    dirs=("corpus/$target")
    [ -d "seeds/$target" ] && dirs+=("seeds/$target")
    flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "dicts/$target.dict" ] && flags+=(-dict="dicts/$target.dict")
    log="target/logs/$target.log"
    # libFuzzer stops by itself after max_total_time; the outer timeout only guards a wedged build.
    if timeout $(( secs + 300 )) cargo fuzz run -O -s "$sanitizer" "$target" "${dirs[@]}" -- "${flags[@]}" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
    fi
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    cov=$(sed -nE 's/.*[[:space:]]cov: ([0-9]+).*/\1/p' <<<"$done_line")
    ft=$(sed -nE 's/.*[[:space:]]ft: ([0-9]+).*/\1/p' <<<"$done_line")
    corp=$(sed -nE 's/.*[[:space:]]corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$done_line")
    printf 'fuzz: %-20s %-6s runs=%-10s exec/s=%-8s cov=%-6s ft=%-6s corpus=%s\n' \
        "$target" "$status" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    if [ "$status" = FAILED ]; then
        echo "---- last lines of $log ----"
        tail -n 40 "$log"
        echo "---- artifacts: $(ls "artifacts/$target" 2>/dev/null | tr '\n' ' ')"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs}s each without a crash"
