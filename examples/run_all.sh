#!/usr/bin/env bash
# Runs every example against the embedded demo provider (no network, no input) and stops at the
# first failure. CI runs it; so can you: `bash examples/run_all.sh`.
#
# The provider credentials variables are cleared so that no example talks to a real provider,
# and stdin is /dev/null so that nothing can wait for input. Each example gets EXAMPLE_TIMEOUT
# seconds (default 120; they take a few): one that hangs fails here with its log, instead of
# holding CI until its overall limit kills it with nothing to show.
set -euo pipefail
cd "$(dirname "$0")/.."

limit="${EXAMPLE_TIMEOUT:-120}"
examples=(tour github google facebook linkedin outlook fitbit bitbucket tumblr web_app cli_login device_flow)

unset GITHUB_CLIENT_ID GITHUB_CLIENT_SECRET GOOGLE_CLIENT_ID GOOGLE_CLIENT_SECRET \
    FACEBOOK_CLIENT_ID FACEBOOK_CLIENT_SECRET LINKEDIN_CLIENT_ID LINKEDIN_CLIENT_SECRET \
    OUTLOOK_CLIENT_ID OUTLOOK_CLIENT_SECRET FITBIT_CLIENT_ID \
    BITBUCKET_CLIENT_KEY BITBUCKET_CLIENT_SECRET TUMBLR_CLIENT_KEY TUMBLR_CLIENT_SECRET

# Build once, so the timings below are the examples' own.
cargo build -q -p examples --examples

for example in "${examples[@]}"; do
    start=$(date +%s%N)
    status=0
    timeout -k 10 "$limit" cargo run -q -p examples --example "$example" </dev/null \
        >"/tmp/run_all.$$.$example.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        cat "/tmp/run_all.$$.$example.log"
        rm -f "/tmp/run_all.$$."*.log
        if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
            echo "run_all: example '$example' did not finish within ${limit}s (EXAMPLE_TIMEOUT)" >&2
        fi
        echo "run_all: example '$example' FAILED" >&2
        exit 1
    fi
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    printf 'run_all: %-10s ok  %3d.%01d s  (%s)\n' "$example" $((ms / 1000)) $((ms % 1000 / 100)) \
        "$(tail -n 1 "/tmp/run_all.$$.$example.log")"
done
rm -f "/tmp/run_all.$$."*.log
echo "run_all: all ${#examples[@]} examples passed"
