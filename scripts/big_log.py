#!/usr/bin/env python3
"""Writes a large synthetic order log (order_id,sku CSV) to stdout, to check
that the learned model fits catalogs far beyond a dense item-by-item matrix.

    python3 scripts/big_log.py ITEMS ORDERS > orders.csv

Deterministic (seed 7). Item popularity is heavy-tailed: a draw takes rank
floor(ITEMS^u) - 1 for u uniform in [0, 1), a Zipf-like law whose top item
is in about 7% of the draws, and ranks are shuffled over the ids. Each order
starts from one item drawn by popularity; its size is 1 + an exponential
draw of mean 4 (about 4.5 lines); every further line is, with probability
0.6, one of six items fixed per starting item (its complements), else
another item drawn by popularity. With ITEMS = ORDERS = 2,000,000 it writes
about 9 million lines over about 1.3 million distinct SKUs, in about 20 s.
The figures it was used for are in EVALUATION.md ("Scale").
"""

import random
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, orders = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(7)
    perm = list(range(n))
    rng.shuffle(perm)

    def popular():
        return perm[int(n ** rng.random()) - 1]

    out = sys.stdout
    out.write("order_id,sku\n")
    for o in range(orders):
        first = popular()
        items = {first}
        # The complements of `first`: the same six for every order it starts.
        own = random.Random(first)
        complements = [own.randrange(n) for _ in range(6)]
        size = min(1 + int(rng.expovariate(1 / 4)), n)
        while len(items) < size:
            items.add(rng.choice(complements) if rng.random() < 0.6 else popular())
        # Sorted, so that the file does not depend on set iteration order.
        for i in sorted(items):
            out.write(f"{o},S{i}\n")


if __name__ == "__main__":
    main()
