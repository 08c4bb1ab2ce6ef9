#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
#
# Environment:
#   FUZZ_TARGETS   space-separated subset of targets (default: all, from `cargo fuzz list`)
#   FUZZ_TOOLCHAIN `nightly` or `bootstrap` (default: nightly if `cargo +nightly` works, else
#                  the pinned stable toolchain with RUSTC_BOOTSTRAP=1)
#
# Seeds in fuzz/seeds/<target>/ are copied into the working corpus fuzz/corpus/<target>/ (not
# committed). Reproducers committed under fuzz/regressions/<target>/ are replayed first. Prints
# per target the executions (libFuzzer's stat::number_of_executed_units) and whether a crash,
# leak, timeout or out-of-memory artifact was written to fuzz/artifacts/<target>/; exits 1 if
# any target found something, 2 on a build or usage error.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# libFuzzer needs nightly-only compiler flags (-Zsanitizer, sancov passes). Use a working
# nightly; otherwise let the pinned stable compiler accept them with RUSTC_BOOTSTRAP=1.
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
    if cargo +nightly --version >/dev/null 2>&1 && rustc +nightly --version >/dev/null 2>&1; then
        toolchain=nightly
    else
        toolchain=bootstrap
    fi
fi
case "$toolchain" in
    nightly) cargo_fuzz=(cargo +nightly fuzz); rustc_version="$(rustc +nightly --version)" ;;
    bootstrap) export RUSTC_BOOTSTRAP=1; cargo_fuzz=(cargo fuzz); rustc_version="$(rustc --version)" ;;
    *) echo "FUZZ_TOOLCHAIN must be nightly or bootstrap" >&2; exit 2 ;;
esac
echo "toolchain: $toolchain, $rustc_version, $(cargo fuzz --version)"

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <("${cargo_fuzz[@]}" list)
fi

echo "building ${#targets[@]} targets: ${targets[*]}"
"${cargo_fuzz[@]}" build || { echo "build failed" >&2; exit 2; }

log_dir="$fuzz_dir/target/run-logs"
mkdir -p "$log_dir"
stamp="$log_dir/.started"
touch "$stamp"

declare -A executions found
failed=0
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$fuzz_dir/seeds/$target" ]; then
        cp -n "$fuzz_dir/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi

    # Committed reproducers must keep passing.
    regressions="$fuzz_dir/regressions/$target"
    if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
        echo "== $target: replaying $(ls -A "$regressions" | wc -l) regression input(s)"
        if ! "${cargo_fuzz[@]}" run "$target" "$regressions"/* -- -runs=1 \
                >"$log_dir/$target.regressions.log" 2>&1; then
            echo "   regression input fails; see $log_dir/$target.regressions.log"
            found[$target]="regression"
            failed=1
        fi
    fi

    echo "== $target: fuzzing for ${seconds}s"
    log="$log_dir/$target.log"
    status=0
    "${cargo_fuzz[@]}" run "$target" "$corpus" -- \
        -max_total_time="$seconds" \
        -rss_limit_mb=2048 \
        -max_len=10240 \
        -timeout=10 \
        -print_final_stats=1 \
        >"$log" 2>&1 || status=$?

    executions[$target]="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    new_artifacts="$(find "$artifacts" -type f -newer "$stamp" \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)"
    if [ "$status" -ne 0 ] || [ -n "$new_artifacts" ]; then
        found[$target]="${found[$target]:+${found[$target]}, }exit $status${new_artifacts:+: $new_artifacts}"
        failed=1
        echo "   FINDING (exit $status); log: $log"
        if [ -n "$new_artifacts" ]; then
            echo "   reproduce: ${cargo_fuzz[*]} run $target <artifact>;" \
                 "keep it: cp <artifact> fuzz/regressions/$target/"
        fi
        grep -m1 -A12 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$log" | sed 's/^/   | /' || true
    fi
done

echo
printf '%-22s %15s  %s\n' target executions finding
for target in "${targets[@]}"; do
    printf '%-22s %15s  %s\n' "$target" "${executions[$target]:-?}" "${found[$target]:-none}"
done
echo "(${seconds}s per target; logs in $log_dir)"
exit "$failed"
