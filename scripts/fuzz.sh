#!/usr/bin/env bash
# Fuzz the readers for a bounded time. Not run in CI (.ci/run does not call it).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 60 seconds each for personnummer csv_rows excel_rows
#
# Targets (fuzz/fuzz_targets/, the shared path in fuzz/harness.rs):
#   personnummer  text → domain::parse_personnummer (+ domain::mask): no panic; canonical form round-trips
#   csv_rows      bytes → file.csv  → ingest::open → find_header → rows → FileContext::normalise
#   excel_rows    bytes → file.xlsx → ingest::open (sniffing, calamine) → rows → FileContext::normalise
#
# Needs the nightly toolchain (cargo-fuzz/libFuzzer) and cargo-fuzz; both are installed if missing. Builds go to
# ~/.cache/followup-fuzz-target (FUZZ_TARGET_DIR), with no sanitizer by default (FUZZ_SANITIZER=address to
# use ASan; the code under test has no `unsafe` of its own, so `none` finds the same panics, aborts, OOMs
# and timeouts much faster). Seeds come from tests/bad-inputs, tests/fixtures and sample-inputs. A crash input
# is copied to fuzz/regressions/<target>/, where `cargo test --test it fuzz_regressions` replays it; commit
# it with the fix. Exit status 1 if any target found a crash.
#
# Without nightly (e.g. an offline machine): `cargo test --test it bad_inputs` still replays every committed
# regression and the bad-input corpus through the same harness on stable.
set -euo pipefail

secs="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(personnummer csv_rows excel_rows)
fi
cd "$(dirname "$0")/.."
root="$PWD"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/followup-fuzz-target}"
sanitizer="${FUZZ_SANITIZER:-none}"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

seed() {
    local target="$1"
    local dir="$root/fuzz/corpus/$target"
    mkdir -p "$dir"
    case "$target" in
        personnummer)
            local i=0
            for s in 19900520-2446 199005202446 900520-2446 9005202446 "900520+2446" "19830363-4823" \
                19900520TF12 "1,99E+11" "19900520-24 46" 000000-0000 19900229-1234; do
                printf '%s' "$s" >"$dir/seed$i"
                i=$((i + 1))
            done
            ;;
        csv_rows)
            find tests/bad-inputs sample-inputs -type f \( -name '*.csv' -o -name '*.txt' \) -size -64k \
                -exec cp {} "$dir/" \;
            ;;
        excel_rows)
            find tests/bad-inputs tests/fixtures sample-inputs -type f \
                \( -name '*.xlsx' -o -name '*.xls' -o -name '*.ods' \) -size -64k -exec cp {} "$dir/" \;
            ;;
    esac
}

found=0
for t in "${targets[@]}"; do
    seed "$t"
    echo "== fuzzing $t for ${secs}s"
    artifacts="$root/fuzz/artifacts/$t"
    mkdir -p "$artifacts"
    if ! (cd fuzz && cargo +nightly fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" \
        -- -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -timeout=30 \
        -artifact_prefix="$artifacts/"); then
        found=1
    fi
    shopt -s nullglob
    for a in "$artifacts"/crash-* "$artifacts"/oom-* "$artifacts"/timeout-* "$artifacts"/leak-*; do
        mkdir -p "$root/fuzz/regressions/$t"
        cp "$a" "$root/fuzz/regressions/$t/"
        echo "!! $t: $(basename "$a") copied to fuzz/regressions/$t/ (replay: cargo +nightly fuzz run $t $a)"
        found=1
    done
    shopt -u nullglob
done
exit "$found"
