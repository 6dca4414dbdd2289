#!/usr/bin/env bash
# Regenerates EVALUATION.md: runs the evaluate example on every shared
# dataset and puts cartwise's rows next to the peers' figures of EVAL.md.
#
#   bash scripts/evaluation.sh            # from the repository root
#
# Needs ../shared/data and ../shared/EVAL.md (relative to the repository).
# Timings depend on the machine and on its load; quality figures do not.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --example evaluate
bin="$CARGO_TARGET_DIR/release/examples/evaluate"
out=EVALUATION.md
{
  sed -n '1,/^<!-- tables -->$/p' scripts/evaluation_head.md
  for d in bakery_breadbasket completejourney_sample groceries market_basket_optimisation \
           online_retail_fr_de retail_fimi synthetic_t10i4d100k; do
    "$bin" --orders "$shared/data/$d/orders.csv" --markdown --peers "$shared/EVAL.md"
  done
  sed -n '/^<!-- tables -->$/,$p' scripts/evaluation_head.md | tail -n +2
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
