#!/usr/bin/env python3
"""Regenerate the Spark MLlib FPGrowth fixture in tests/fixtures/spark/.

What it does
    Reads an order log (CSV with a header holding `order_id` and `sku`
    columns, found by name), groups it into orders (an order is its distinct
    SKUs in first-appearance order; orders come in first-appearance order of
    their order_id), keeps the first --max-orders orders, and fits
    `pyspark.ml.fpm.FPGrowth(itemsCol="items", minSupport=..., minConfidence=0.0)`
    (--min-confidence changes the last; the committed fixture uses 0.0)
    on them in a local Spark (`local[2]`, UI off). It writes into --out:

    orders.csv               the orders used, as `order_id,sku` (same format as
                             the input), so a test can rebuild the catalog;
    association_rules.jsonl  `model.associationRules`, one JSON object per line,
                             serialised by Spark itself (`DataFrame.toJSON`, the
                             same encoder `write.json` uses), every column Spark
                             produces, sorted by (antecedent, consequent);
    transform.jsonl          a few baskets taken from the orders and what
                             `model.transform` predicts for them, one
                             `{"basket": [...], "prediction": [...]}` per line;
    README.md                Spark version, parameters, command, rule counts.

    The Spark run is not part of CI: the outputs are committed and the Rust
    tests read them. Rerun this script only to refresh the fixture (for
    example after a Spark upgrade) and commit the result.

How to run (from the repository root)
    pip install pyspark numpy          # needs Java 17+ (JAVA_HOME or java on PATH)
    python3 scripts/spark_fpgrowth.py \\
        --orders ../shared/data/groceries/orders.csv \\
        --max-orders 2000 --min-support 0.01 --out tests/fixtures/spark

    It takes under a minute on two cores.
"""

import argparse
import csv
import json
import os
import shlex
import sys

# Baskets picked for transform.jsonl: how many of each size.
BASKETS_PER_SIZE = {1: 6, 2: 5, 3: 4}


def read_orders(path):
    """Returns [(order_id, [sku, ...]), ...] in first-appearance order."""
    orders = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            sys.exit(f"{path}: empty file")
        try:
            oi, si = header.index("order_id"), header.index("sku")
        except ValueError:
            sys.exit(f"{path}: header {header!r} lacks order_id or sku")
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= max(oi, si):
                sys.exit(f"{path}:{lineno}: short row {row!r}")
            skus = orders.setdefault(row[oi], [])
            if row[si] not in skus:
                skus.append(row[si])
    return list(orders.items())


def pick_baskets(predicted, two_item_antecedents):
    """Picks baskets with a non-empty prediction, deterministically.

    `predicted` is [(basket, prediction)] in order-log order. Takes the first
    distinct baskets of each size in BASKETS_PER_SIZE. For sizes 2 and 3 it
    prefers baskets that hold a two-item antecedent, so the fixture exercises
    itemset rules and not only pair rules.
    """
    chosen, seen = [], set()
    for size, want in BASKETS_PER_SIZE.items():
        pool = [(b, p) for b, p in predicted if len(b) == size and p]
        if size >= 2:
            hits = [x for x in pool if any(a <= set(x[0]) for a in two_item_antecedents)]
            pool = hits + [x for x in pool if x not in hits]
        n = 0
        for basket, prediction in pool:
            key = frozenset(basket)
            if key in seen:
                continue
            seen.add(key)
            chosen.append((basket, prediction))
            n += 1
            if n == want:
                break
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", required=True, help="CSV with order_id,sku columns")
    ap.add_argument("--max-orders", type=int, default=2000)
    ap.add_argument("--min-support", type=float, default=0.01)
    ap.add_argument(
        "--min-confidence", type=float, default=0.0,
        help="FPGrowth minConfidence (default 0.0: keep every rule, as the fixture does)",
    )
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()

    orders = read_orders(args.orders)[: args.max_orders]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "orders.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["order_id", "sku"])
        for oid, skus in orders:
            for sku in skus:
                w.writerow([oid, sku])

    from pyspark.sql import SparkSession
    from pyspark.ml.fpm import FPGrowth

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("cartwise-fpgrowth-fixture")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = spark.createDataFrame(
            [(i, skus) for i, (_, skus) in enumerate(orders)], ["row", "items"]
        )
        fp = FPGrowth(
            itemsCol="items", minSupport=args.min_support, minConfidence=args.min_confidence
        )
        model = fp.fit(df)

        rules_df = model.associationRules
        columns = rules_df.columns
        lines = rules_df.toJSON().collect()
        lines.sort(key=lambda s: (json.loads(s)["antecedent"], json.loads(s)["consequent"]))
        with open(os.path.join(args.out, "association_rules.jsonl"), "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        rules = [json.loads(s) for s in lines]
        two_item = [set(r["antecedent"]) for r in rules if len(r["antecedent"]) == 2]

        rows = model.transform(df).orderBy("row").collect()
        predicted = [(list(r["items"]), list(r["prediction"])) for r in rows]
        chosen = pick_baskets(predicted, two_item)
        with open(os.path.join(args.out, "transform.jsonl"), "w", encoding="utf-8") as f:
            for basket, prediction in chosen:
                f.write(json.dumps({"basket": basket, "prediction": prediction}) + "\n")

        by_len = {}
        for r in rules:
            by_len[len(r["antecedent"])] = by_len.get(len(r["antecedent"]), 0) + 1
        itemsets = model.freqItemsets.count()
        write_readme(args, spark.version, columns, len(orders), itemsets, rules, by_len, chosen)
    finally:
        spark.stop()
    print(f"{len(orders)} orders, {len(rules)} rules, {len(chosen)} baskets -> {args.out}")


def write_readme(args, version, columns, n_orders, n_itemsets, rules, by_len, chosen):
    command = "python3 scripts/spark_fpgrowth.py " + " ".join(
        [
            "--orders", shlex.quote(args.orders),
            "--max-orders", str(args.max_orders),
            "--min-support", str(args.min_support),
        ]
        + (["--min-confidence", str(args.min_confidence)] if args.min_confidence else [])
        + [
            "--out", shlex.quote(args.out),
        ]
    )
    lens = ", ".join(f"{n} with {k}-item antecedents" for k, n in sorted(by_len.items()))
    text = f"""# Spark MLlib FPGrowth fixture

Produced by a real Spark run of `scripts/spark_fpgrowth.py`; do not edit by hand.
The Spark run is not part of CI: rerun the command below and commit the result to refresh it.

- Spark: {version} (pyspark, `local[2]`, UI off), Python {sys.version.split()[0]}
- Model: `FPGrowth(itemsCol="items", minSupport={args.min_support}, minConfidence={args.min_confidence})`
- Input: the first {n_orders} orders of `{os.path.basename(args.orders)}`
  (an order is its distinct SKUs in first-appearance order)
- Result: {n_itemsets} frequent itemsets, {len(rules)} association rules ({lens})
- Rule columns, as Spark produces them: {", ".join(f"`{c}`" for c in columns)}

Command (from the repository root):

```
{command}
```

Files:

- `orders.csv`: the {n_orders} orders used, `order_id,sku`, same format as the input.
- `association_rules.jsonl`: `model.associationRules` serialised by Spark (`DataFrame.toJSON`,
  the encoder `write.json` uses), one rule per line, sorted by (antecedent, consequent).
  Spark keeps antecedent items in its own (FP-tree) order, not sorted.
- `transform.jsonl`: {len(chosen)} baskets from `orders.csv` with what `model.transform` predicts
  for them: the consequents of every rule whose antecedent lies inside the basket, minus the
  basket's own items. The prediction is a set; its order is Spark's and means nothing.
  With `minConfidence=0.0` every rule counts, however weak. A consequence worth knowing when
  testing: then a rule with a two-item antecedent `{{a, b}} -> c` never adds to a prediction,
  because `{{a, c}}` is frequent too, so `a -> c` fires already. The itemset rules matter for
  ranking (their confidence and lift differ), not for what `transform` predicts.
"""
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
