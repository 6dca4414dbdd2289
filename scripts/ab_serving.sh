#!/usr/bin/env bash
# Compares the serving speed of two builds of cartwise, paired by round.
#
#   bash scripts/ab_serving.sh OLD_BIN NEW_BIN [ROUNDS] [PRODUCTS] [PASSES]
#
# OLD_BIN and NEW_BIN are copies of target/release/examples/profile_serving
# built from the two versions (build one, copy it aside, switch, build the
# other). Each round runs OLD_BIN then NEW_BIN once (`PRODUCTS PASSES`,
# default 8 rounds of `1000000 3`), and the script prints, per cart size,
# cold and cached, both builds' medians and the median and range of the
# per-round ratios new / old. On a shared machine the host's speed drifts
# by ±10% within minutes; a ratio taken within one round cancels most of
# that, two medians taken minutes apart do not. It also checks that both
# builds answered every cart identically (the checksums). With `LINES=20`
# in the environment (read by profile_serving) it compares one cart size.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
old=$1 new=$2 rounds=${3:-8} products=${4:-1000000} passes=${5:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  for build in old new; do
    bin=$old
    [ "$build" = new ] && bin=$new
    "$bin" "$products" "$passes" 2>&1 | grep '^lines' | sed "s/^/$round $build /" >> "$out"
  done
done
python3 - "$out" <<'PY'
import collections, re, statistics, sys
times, checksums = {}, collections.defaultdict(set)
pattern = r'(\d+) (old|new) lines +(\d+): cold ([\d.]+) us, cached ([\d.]+) us, checksum (\w+)'
for line in open(sys.argv[1]):
    m = re.match(pattern, line)
    if not m:
        continue
    rnd, build, lines, cold, cached, checksum = m.groups()
    times[(rnd, build, lines, 'cold')] = float(cold)
    times[(rnd, build, lines, 'cached')] = float(cached)
    checksums[lines].add(checksum)
rounds = sorted({k[0] for k in times})
for lines in sorted({k[2] for k in times}, key=int):
    for kind in ['cold', 'cached']:
        old = [times[(r, 'old', lines, kind)] for r in rounds]
        new = [times[(r, 'new', lines, kind)] for r in rounds]
        ratios = [n / o for n, o in zip(new, old)]
        print(f"{lines:>2} lines {kind:6}  old {statistics.median(old):8.3f} us  "
              f"new {statistics.median(new):8.3f} us  new/old x{statistics.median(ratios):.3f} "
              f"({min(ratios):.2f}-{max(ratios):.2f})")
same = all(len(c) == 1 for c in checksums.values())
print('answers identical' if same else 'ANSWERS DIFFER between the builds')
PY
