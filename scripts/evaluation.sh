#!/usr/bin/env bash
# Regenerates EVALUATION.md: runs the evaluate example on every shared
# dataset and puts cartwise's rows next to the peers' figures of EVAL.md,
# with a summary table (default vs best peer) built from the runs.
#
#   bash scripts/evaluation.sh            # from anywhere in the repository
#
# Needs ../shared/data and ../shared/EVAL.md (relative to the repository
# root). Prose lives in scripts/evaluation_head.md; SUMMARY_ROWS there is
# replaced by the summary. Timings depend on the machine and its load;
# quality figures do not.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --example evaluate
bin="$CARGO_TARGET_DIR/release/examples/evaluate"
tables=$(mktemp)
trap 'rm -f "$tables"' EXIT
for d in bakery_breadbasket completejourney_sample groceries market_basket_optimisation \
         online_retail_fr_de retail_fimi synthetic_t10i4d100k; do
  "$bin" --orders "$shared/data/$d/orders.csv" --markdown --peers "$shared/EVAL.md" >> "$tables"
done
summary=$(grep '^<!-- summary: ' "$tables" | sed -e 's/^<!-- summary: //' -e 's/ -->$//')
{
  while IFS= read -r line; do
    if [ "$line" = "SUMMARY_ROWS" ]; then printf '%s\n' "$summary"; else printf '%s\n' "$line"; fi
  done < scripts/evaluation_head.md
  echo
  grep -v '^<!-- summary: ' "$tables"
} > EVALUATION.md
echo "wrote EVALUATION.md"
