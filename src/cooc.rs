//! Item and pair counts over a set of orders, stored sparse.
//!
//! [`CoCounts`] holds, for a set of orders (usually the training part of a
//! split), `c(i)` = the number of orders containing item `i` and
//! `c(i, j)` = the number of orders containing both `i` and `j`, for every
//! pair that occurs at least once. It is the common input of the
//! co-occurrence baselines ([`crate::eval`]) and of the learned model
//! ([`crate::learn`]).
//!
//! # How it is counted
//!
//! No dense n x n matrix: the pair counts are a symmetric CSR matrix (each
//! row's neighbours sorted by item id). They are built row by row from an
//! inverted index (item -> orders holding it): for item `i`, walk the orders
//! holding `i` and add one to a dense per-thread accumulator for each other
//! item, remembering the touched items. Each row is independent, so rows
//! are split between threads by estimated work (the sum of the sizes of the
//! orders each row walks), and the result does not depend on the thread
//! count. Time is O(sum over orders of m^2) for orders of m items; pairs come
//! from [`OrdersView::pair_items`], so an order counts at most
//! [`MAX_ITEMS_PER_ORDER`](crate::MAX_ITEMS_PER_ORDER) items.
//!
//! # Memory
//!
//! 8 bytes per stored (row, neighbour) entry, i.e. 16 bytes per distinct
//! co-occurring pair (both directions), plus 4 bytes per order line for the
//! inverted index while counting and 12 bytes per item per thread for the
//! accumulator. The number of distinct pairs is at most the number of pair
//! occurrences, sum of m(m-1)/2 over orders. A row or total above `u32`
//! offsets is an [`Error::CapExceeded`].

use crate::error::{Error, Result};
use crate::orders::OrdersView;

/// A row touching at least `n / DENSE_SCAN_RATIO` of the `n` items is
/// emitted by scanning the dense accumulator rather than by sorting its
/// touched list (a sort costs about d log d for d touched items, the scan
/// n). Chosen by the break-even estimate log2(d) ~ 12 on retail_fimi's
/// 16k items; not tuned further.
const DENSE_SCAN_RATIO: usize = 12;

/// Below this many pair increments (sum of m^2 over orders) counting stays
/// on the calling thread: spawning costs tens of microseconds, which
/// dominates small logs (bakery_breadbasket has about 40k).
const THREAD_MIN_WORK: u64 = 1 << 18;

/// The most stored pair entries (both directions): offsets are `u32`.
pub const MAX_PAIR_ENTRIES: usize = u32::MAX as usize;

/// Item counts and sparse symmetric pair counts. See the [module docs](self).
///
/// ```
/// use cartwise::{CoCounts, OrderLog};
/// let log = OrderLog::from_rows([("1", "a"), ("1", "b"), ("2", "a"), ("2", "b"), ("2", "c")])?;
/// let cc = CoCounts::count(log.view(), 1)?;
/// let (a, b, c) = (0, 1, 2);
/// assert_eq!(cc.count_of(a), 2);
/// assert_eq!(cc.pair(a, b), 2);
/// assert_eq!(cc.pair(b, c), 1);
/// assert_eq!(cc.neighbours(a), (&[1, 2][..], &[2, 1][..]));
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoCounts {
    /// `c(i)`, indexed by item id.
    item_counts: Vec<u32>,
    /// Number of orders counted.
    n_orders: usize,
    /// `offsets[i]..offsets[i + 1]` is row `i`; `n_items + 1` entries.
    offsets: Vec<u32>,
    /// Neighbour ids, sorted ascending within a row, never the row itself.
    targets: Vec<u32>,
    /// `c(i, j) >= 1`, parallel to `targets`.
    counts: Vec<u32>,
}

impl CoCounts {
    /// Counts items and pairs over `orders`, on up to `threads` threads
    /// (0 or 1 = the calling thread only). Results do not depend on
    /// `threads`.
    ///
    /// # Errors
    /// [`Error::CapExceeded`] when the pair entries exceed
    /// [`MAX_PAIR_ENTRIES`].
    pub fn count(orders: OrdersView<'_>, threads: usize) -> Result<CoCounts> {
        let n = orders.n_items();
        let item_counts = orders.item_counts();
        // Inverted index over the pair-counted prefix of each order.
        let mut inv_off = vec![0u32; n + 1];
        let mut lines = 0usize;
        for order in orders.pair_orders() {
            for &i in order {
                inv_off[i as usize + 1] += 1;
            }
            lines += order.len();
        }
        if lines > u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "order lines counted",
                cap: u32::MAX as u64,
                got: lines as u64,
            });
        }
        for i in 0..n {
            inv_off[i + 1] += inv_off[i];
        }
        let mut inv = vec![0u32; lines];
        let mut fill = inv_off.clone();
        for (o, order) in orders.pair_orders().enumerate() {
            for &i in order {
                inv[fill[i as usize] as usize] = o as u32;
                fill[i as usize] += 1;
            }
        }
        drop(fill);
        // The pair-counted orders, flattened: contiguous for the walk below.
        let mut ord_off = Vec::with_capacity(orders.len() + 1);
        ord_off.push(0u32);
        let mut ord_items = Vec::with_capacity(lines);
        for order in orders.pair_orders() {
            ord_items.extend_from_slice(order);
            ord_off.push(ord_items.len() as u32);
        }
        let (ord_off, ord_items) = (&ord_off[..], &ord_items[..]);
        // Work per row: the summed sizes of the orders it walks.
        let sizes: Vec<u32> = orders.pair_orders().map(|o| o.len() as u32).collect();
        let work: Vec<u64> = (0..n)
            .map(|i| {
                inv[inv_off[i] as usize..inv_off[i + 1] as usize]
                    .iter()
                    .map(|&o| u64::from(sizes[o as usize]))
                    .sum()
            })
            .collect();
        let total_work: u64 = work.iter().sum();
        let threads = if total_work < THREAD_MIN_WORK {
            1
        } else {
            threads.max(1)
        };
        let row_block = |range: std::ops::Range<usize>| -> (Vec<u32>, Vec<u32>, Vec<u32>) {
            let mut acc = vec![0u32; n];
            // Branch-free "push if new": every item is written at `nt`, and
            // `nt` advances only when the item was not yet touched. Each
            // item enters at most once per row, so `n + 1` slots suffice.
            let mut touched_buf = vec![0u32; n + 1];
            let mut touched: Vec<u32> = Vec::new();
            let mut lens = Vec::with_capacity(range.len());
            let mut targets = Vec::new();
            let mut counts = Vec::new();
            for i in range {
                let mut nt = 0usize;
                for &o in &inv[inv_off[i] as usize..inv_off[i + 1] as usize] {
                    let (a, b) = (
                        ord_off[o as usize] as usize,
                        ord_off[o as usize + 1] as usize,
                    );
                    for &j in &ord_items[a..b] {
                        let slot = &mut acc[j as usize];
                        touched_buf[nt] = j;
                        nt += usize::from(*slot == 0);
                        *slot += 1;
                    }
                }
                touched.clear();
                touched.extend_from_slice(&touched_buf[..nt]);
                let before = targets.len();
                if touched.len() * DENSE_SCAN_RATIO >= n {
                    // A dense row: scanning the accumulator in id order is
                    // cheaper than sorting the touched list.
                    for (j, a) in acc.iter_mut().enumerate() {
                        if *a != 0 {
                            if j != i {
                                targets.push(j as u32);
                                counts.push(*a);
                            }
                            *a = 0;
                        }
                    }
                } else {
                    touched.sort_unstable();
                    for &j in &touched {
                        if j as usize != i {
                            targets.push(j);
                            counts.push(acc[j as usize]);
                        }
                        acc[j as usize] = 0;
                    }
                }
                let len = (targets.len() - before) as u32;
                touched.clear();
                lens.push(len);
            }
            (lens, targets, counts)
        };
        let blocks: Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> = par_chunks(&work, threads, row_block);
        let total: usize = blocks.iter().map(|b| b.1.len()).sum();
        if total > MAX_PAIR_ENTRIES {
            return Err(Error::CapExceeded {
                what: "pair entries",
                cap: MAX_PAIR_ENTRIES as u64,
                got: total as u64,
            });
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut targets = Vec::with_capacity(total);
        let mut counts = Vec::with_capacity(total);
        let mut end = 0u32;
        for (lens, t, c) in blocks {
            for l in lens {
                end += l;
                offsets.push(end);
            }
            targets.extend_from_slice(&t);
            counts.extend_from_slice(&c);
        }
        Ok(CoCounts {
            item_counts,
            n_orders: orders.len(),
            offsets,
            targets,
            counts,
        })
    }

    /// The number of items (ids `0..n_items()`).
    pub fn n_items(&self) -> usize {
        self.item_counts.len()
    }

    /// The number of orders counted.
    pub fn n_orders(&self) -> usize {
        self.n_orders
    }

    /// `c(i)` for every item, indexed by item id.
    pub fn item_counts(&self) -> &[u32] {
        &self.item_counts
    }

    /// `c(i)`: the number of orders containing `i`.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn count_of(&self, i: u32) -> u32 {
        self.item_counts[i as usize]
    }

    /// Row `i`: the items that co-occur with `i` (sorted by id) and the
    /// counts `c(i, j)`.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    #[inline]
    pub fn neighbours(&self, i: u32) -> (&[u32], &[u32]) {
        let (a, b) = (
            self.offsets[i as usize] as usize,
            self.offsets[i as usize + 1] as usize,
        );
        (&self.targets[a..b], &self.counts[a..b])
    }

    /// `c(i, j)` (0 when they never co-occur, or `i == j`). Runs in
    /// O(log degree).
    pub fn pair(&self, i: u32, j: u32) -> u32 {
        let (t, c) = self.neighbours(i);
        t.binary_search(&j).map_or(0, |p| c[p])
    }

    /// The number of stored entries (twice the number of distinct pairs).
    pub fn n_entries(&self) -> usize {
        self.targets.len()
    }
}

/// Splits `0..work.len()` into at most `parts` contiguous ranges of about
/// equal summed work.
pub(crate) fn split_by_work(work: &[u64], parts: usize) -> Vec<std::ops::Range<usize>> {
    let n = work.len();
    let total: u64 = work.iter().sum();
    if parts <= 1 || n < 2 || total == 0 {
        return std::iter::once(0..n).collect();
    }
    let mut ranges = Vec::with_capacity(parts);
    let mut start = 0;
    let mut acc = 0u64;
    let mut k = 1u64;
    for (i, &w) in work.iter().enumerate() {
        acc += w;
        if ranges.len() + 1 < parts && acc * parts as u64 >= total * k && i + 1 < n {
            ranges.push(start..i + 1);
            start = i + 1;
            k += 1;
        }
    }
    ranges.push(start..n);
    ranges
}

/// Runs `f` over `0..work.len()` cut into contiguous chunks of about equal
/// estimated work, on up to `threads` threads that each take the next chunk
/// when done (so a misestimated chunk does not leave a core idle), and
/// returns the results in chunk order: the output does not depend on the
/// thread count or on scheduling.
pub(crate) fn par_chunks<T, F>(work: &[u64], threads: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(std::ops::Range<usize>) -> T + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    // 16 chunks per thread: enough to balance, few enough that per-chunk
    // setup (a dense accumulator per chunk when counting) stays negligible.
    let parts = if threads <= 1 { 1 } else { threads * 16 };
    let ranges = split_by_work(work, parts);
    if threads <= 1 || ranges.len() == 1 {
        return ranges.into_iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut mine = Vec::new();
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            let Some(r) = ranges.get(c) else { break };
            mine.push((c, f(r.clone())));
        }
        mine
    };
    let mut all: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads.min(ranges.len()))
            .map(|_| s.spawn(worker))
            .collect();
        let mut all = worker();
        for h in handles {
            // A panic in a worker is a bug, not bad input: propagate it.
            all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        all
    });
    all.sort_unstable_by_key(|x| x.0);
    all.into_iter().map(|x| x.1).collect()
}

/// The number of threads to fit with by default: the machine's available
/// parallelism, at most 8 (counting is memory-bound past that; not measured
/// beyond 2 cores).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrderLog;
    use proptest::prelude::*;

    fn brute(log: &OrderLog) -> (Vec<u32>, Vec<Vec<u32>>) {
        let n = log.n_items();
        let mut c = vec![0u32; n];
        let mut p = vec![vec![0u32; n]; n];
        for order in log.orders() {
            for &i in order {
                c[i as usize] += 1;
                for &j in order {
                    if i != j {
                        p[i as usize][j as usize] += 1;
                    }
                }
            }
        }
        (c, p)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_brute_force(rows in prop::collection::vec((0u8..12, 0u8..9), 1..80), threads in 1usize..4) {
            let rows: Vec<(String, String)> = rows.iter().map(|(o, s)| (o.to_string(), format!("s{s}"))).collect();
            let log = OrderLog::from_rows(rows).unwrap();
            let cc = CoCounts::count(log.view(), threads).unwrap();
            let (c, p) = brute(&log);
            prop_assert_eq!(cc.item_counts(), &c[..]);
            for i in 0..log.n_items() as u32 {
                let (t, _) = cc.neighbours(i);
                prop_assert!(t.windows(2).all(|w| w[0] < w[1]));
                for j in 0..log.n_items() as u32 {
                    prop_assert_eq!(cc.pair(i, j), p[i as usize][j as usize]);
                }
            }
        }
    }

    #[test]
    fn split_by_work_covers_everything() {
        assert_eq!(split_by_work(&[1, 1, 1, 1], 2), vec![0..2, 2..4]);
        assert_eq!(split_by_work(&[10, 1, 1, 1], 2), vec![0..1, 1..4]);
        assert_eq!(split_by_work(&[0, 0], 2), vec![0..2]);
        assert_eq!(split_by_work(&[5], 3), vec![0..1]);
        let r = split_by_work(&[3, 1, 4, 1, 5, 9, 2, 6], 3);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, 8);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
    }
}
