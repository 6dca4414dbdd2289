"""Times mlxtend's fit on a shared dataset's TRAIN orders, as ../shared/EVAL.md defines it.

    pip install mlxtend pandas
    python3 scripts/mlxtend_fit.py ../shared/data/online_retail_fr_de/orders.csv 0.01 3

The fit is the one-hot encoding, `fpgrowth` at the relative MIN_SUPPORT, `association_rules`
(confidence, min_threshold 0) and an index of the single-consequent rules by antecedent;
reading the CSV and the split (first 4n/5 orders, in first-appearance order, duplicate lines
dropped) are not timed. Prints one line per repetition. Used to compare cartwise's fit with
the peer's on the same machine (EVALUATION.md, twelfth-round note); not part of CI.
"""
import csv
import sys
import time
from collections import OrderedDict

import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

path, min_support = sys.argv[1], float(sys.argv[2])
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
orders = OrderedDict()
with open(path, newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        order = orders.setdefault(row["order_id"], [])
        if row["sku"] not in order:
            order.append(row["sku"])
baskets = list(orders.values())
train = baskets[: 4 * len(baskets) // 5]
for _ in range(reps):
    start = time.perf_counter()
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(train).transform(train), columns=encoder.columns_)
    itemsets = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    rules = association_rules(itemsets, metric="confidence", min_threshold=0)
    rules = rules[rules["consequents"].apply(len) == 1]
    index = {}
    for a, c, conf, lift in zip(
        rules["antecedents"], rules["consequents"], rules["confidence"], rules["lift"]
    ):
        index.setdefault(a, []).append((next(iter(c)), conf, lift))
    elapsed = time.perf_counter() - start
    print(f"fit {elapsed:.3f} s, {len(itemsets)} itemsets, {len(rules)} rules", flush=True)
