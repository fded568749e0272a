#!/usr/bin/env bash
# Time to a target FID: runs a preset headless and reports how long the one-step student takes to
# reach RATIO × its teacher's FID (the teacher scored by the run itself, Heun with
# eval.teacher_steps steps on the same noise and labels), stopping the run there or at MINUTES.
#
#   bench/time_to_fid.sh [PRESET] [RATIO] [MINUTES] [--set KEY=VALUE …]
#   e.g. bench/time_to_fid.sh presets/digits_sim.toml 1.10 10
#
# Times are the run's own wall clock (metrics.jsonl `wall_s`): training and the evaluations in
# between, as a user waiting for the result sees them. SIM_WORKBENCH: the binary (default
# target/release/sim-workbench); RAYON_NUM_THREADS is passed through.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-presets/digits_sim.toml}
ratio=${2:-1.10}
minutes=${3:-10}
shift $(($# < 3 ? $# : 3))
bin=${SIM_WORKBENCH:-target/release/sim-workbench}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release, or set SIM_WORKBENCH"; exit 2; }
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
"$bin" run "$preset" --out "$out" --set eval.teacher_metrics=true "$@" >"$out/log" 2>&1 &
pid=$!
deadline=$((SECONDS + 60 * minutes))
seen=0 teacher=""
echo "time to ${ratio}× the teacher's FID: $preset, at most $minutes min"
while true; do
  running=1
  kill -0 "$pid" 2>/dev/null || running=0
  metrics=$(find "$out" -name metrics.jsonl | head -n 1)
  if [ -n "$metrics" ]; then
    lines=$(grep -E '"event":"(teacher_)?eval"' "$metrics" || true)
    count=$(printf '%s' "$lines" | grep -c . || true)
    if [ "$count" -gt "$seen" ]; then
      while IFS= read -r line; do
        fid=$(sed -n 's/.*"fid":\([0-9.e+-]*\).*/\1/p' <<<"$line")
        step=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' <<<"$line")
        if [[ $line == *teacher_eval* ]]; then
          teacher=$fid
          nfe=$(sed -n 's/.*"nfe":\([0-9]*\).*/\1/p' <<<"$line")
          printf 'teacher (%s NFE) FID %.2f; target %.2f\n' "$nfe" "$fid" \
            "$(awk -v f="$fid" -v r="$ratio" 'BEGIN {print f * r}')"
          continue
        fi
        wall=$(sed -n 's/.*"wall_s":\([0-9.e+-]*\).*/\1/p' <<<"$line")
        rel=$(awk -v f="$fid" -v t="${teacher:-nan}" 'BEGIN {printf "%.3f", f / t}')
        printf 'step %6s  %6.1f min  FID %7.2f  (%s× teacher)\n' "$step" \
          "$(awk -v w="$wall" 'BEGIN {print w / 60}')" "$fid" "$rel"
        if [ -n "$teacher" ] && awk -v x="$rel" -v r="$ratio" 'BEGIN {exit !(x <= r)}'; then
          printf 'reached %s× the teacher at step %s after %.1f min\n' "$rel" "$step" \
            "$(awk -v w="$wall" 'BEGIN {print w / 60}')"
          exit 0
        fi
      done < <(printf '%s\n' "$lines" | tail -n "+$((seen + 1))")
      seen=$count
    fi
  fi
  [ "$running" = 1 ] || break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "not reached within $minutes min"
    exit 1
  fi
  sleep 5
done
echo "the run ended before reaching ${ratio}× the teacher:"
tail -n 5 "$out/log"
exit 1
