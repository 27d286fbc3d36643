#!/usr/bin/env bash
# `make fuzz`: builds the fuzz package (Fuzz/Package.swift) into .build-fuzz and runs each
# fuzz target (Sources/MoatFuzzTargets) for SECONDS, one after the other.
#
#   Fuzz/fuzz.sh SECONDS [TARGET...]     (every target when none is named)
#
# Each target's corpus is .build-fuzz/corpus/<target>, seeded on every run with the test
# fixtures of what it reads (copied, never moved: the fixtures stay where the tests want
# them), Fuzz/seeds/<target> where the tree has no such fixture, and Fuzz/regressions/<target>;
# the JSON, YAML and iptables targets mutate with a dictionary of Fuzz/dictionaries.
# A crash, hang (-timeout) or memory blowup (-rss_limit_mb) leaves its input in
# .build-fuzz/artifacts/<target>/ and makes the script exit 1, naming target and file.
# SWIFT picks the toolchain; FUZZ_FLAGS adds libFuzzer flags (e.g. -max_len=65536).
set -u
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
swift=${SWIFT:-swift}
scratch=.build-fuzz
build=("$swift" build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize=fuzzer)

"${build[@]}" || exit 1
fuzzer=$("${build[@]}" --show-bin-path)/moat-fuzz || exit 1
# Swift's own backtracer would take the crash signal from libFuzzer, which then keeps no input.
export SWIFT_BACKTRACE=enable=no

mapfile -t all < <("$fuzzer" --list)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
for target in "${targets[@]}"; do
    case " ${all[*]} " in *" $target "*) ;; *) echo "fuzz: unknown target $target (targets: ${all[*]})" >&2; exit 64 ;; esac
done

# The fixtures each target starts from, one path a line.
fixtures() {
    case $1 in
        config) find examples Tests/MoatConfigTests/Fixtures Tests/MoatReconcileTests/Fixtures/diff -name '*.yaml' ;;
        ip-addr) find Tests -path '*/Fixtures/*' -name ip-addr.json ;;
        ip-route) find Tests -path '*/Fixtures/*' -name ip-route.json ;;
        iptables-save) find Tests -path '*/Fixtures/*' -name iptables-save.txt ;;
        listeners) find Tests/MoatHostTests/Fixtures/captured/proc-net -type f ;;
        journal) find Tests -path '*/Fixtures/*' -name journal.json ;;
        interface-record) find Tests -path '*/Fixtures/*' -name interface.json ;;
        *) ;;
    esac
    for folder in "Fuzz/seeds/$1" "Fuzz/regressions/$1"; do
        if [ -d "$folder" ]; then find "$folder" -type f ! -name '.*'; fi
    done
}

# The dictionary of tokens each target's mutations may insert (Fuzz/dictionaries).
dictionary() {
    case $1 in
        config) echo Fuzz/dictionaries/yaml.dict ;;
        iptables-save) echo Fuzz/dictionaries/iptables.dict ;;
        ip-addr | ip-route | journal | interface-record | saved-plan | nft-ruleset) echo Fuzz/dictionaries/json.dict ;;
        *) ;;
    esac
}

mkdir -p "$scratch/logs"
failed=()
summary=()
for target in "${targets[@]}"; do
    corpus=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    log=$scratch/logs/$target.log
    mkdir -p "$corpus" "$artifacts"
    while IFS= read -r file; do
        cp "$file" "$corpus/seed-$(echo "$file" | tr '/' '_')"
    done < <(fixtures "$target")
    if [ "$target" = saved-plan ]; then
        # No saved plan is kept in the tree: the target writes one per valid config fixture.
        mapfile -t configs < <(fixtures config)
        "$fuzzer" --write-plan-seeds="$corpus" "${configs[@]}" || exit 1
    fi
    echo "fuzz: $target for ${seconds}s, $(find "$corpus" -type f | wc -l) inputs in $corpus"
    dict=$(dictionary "$target")
    before=$(find "$artifacts" -type f | wc -l)
    # shellcheck disable=SC2086
    "$fuzzer" --target="$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/" ${dict:+-dict="$dict"} ${FUZZ_FLAGS:-} "$corpus" > "$log" 2>&1
    status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    line="$target: ${executions:-?} executions, cov ${coverage:-?}"
    if [ "$status" -ne 0 ] || [ "$(find "$artifacts" -type f | wc -l)" -ne "$before" ]; then
        artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
        line="$line, FAILED (exit $status): ${artifact:-see $log}"
        failed+=("$target")
        grep -m1 -E 'Fatal error|fuzz property broken|ERROR: libFuzzer|ALARM|out-of-memory' "$log" | sed 's/^/  /'
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "fuzz summary (${seconds}s each; logs in $scratch/logs):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; inputs under $scratch/artifacts/<target>/" >&2
    exit 1
fi
