//! Item and pair counts over a set of orders, stored sparse.
//!
//! [`CoCounts`] holds, for a set of orders (usually the training part of a
//! split), `c(i)` = the number of orders containing item `i` and
//! `c(i, j)` = the number of orders containing both `i` and `j`, for every
//! pair that occurs at least once. It is the common input of the
//! co-occurrence baselines ([`crate::eval`]) and of the learned model
//! (the `learn` module).
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
//! Rows are cut into a few chunks per thread (at least
//! [`MIN_CHUNKS`]); the threads take chunks from a shared counter, so one
//! slow chunk does not hold the others up. The calling thread counts
//! chunks too, and reports progress ([`CoCounts::count_with_progress`]) as
//! it finishes each of its chunks and learns of the others'. Chunks
//! are put back in row order, so the result is the same for any thread
//! count and any finishing order.
//! [`CoCounts`] keeps the counted chunks as they are (one array pair per
//! chunk, found through a per-row chunk index) instead of copying them into
//! one array, which on a first fit mostly cost fresh pages.
//!
//! # Weighted counts
//!
//! [`CoCounts::count_weighted`] counts the same pairs with a weight per
//! order (time decay) and per line (event type), into a
//! [`WeightedCoCounts`]: `c(i) = Σ_o w_o·e_oi`, `c(i, j) = Σ_o
//! w_o·e_oi·e_oj`, and a weighted order total `n = Σ_o w_o·max_l e_ol`.
//! With every weight 1 these are the integer counts. It is a separate
//! function with its own accumulator (`f64`) rather than a generic one, so
//! the unweighted path keeps its `u32` adds; a line of weight 0 is left
//! out, as if it were not in the order.
//!
//! # Memory
//!
//! 8 bytes per stored (row, neighbour) entry, i.e. 16 bytes per distinct
//! co-occurring pair (both directions), in both the `u32` and the weighted
//! form (weighted counts are summed in `f64` and stored as `f32`), plus 4
//! bytes per order line for the inverted index while counting (8 more for
//! the weighted form's per-entry weight) and per thread about 8 bytes per
//! item for the accumulator and its touched list, plus one bit per item
//! (weighted: 16). The number of distinct pairs is at
//! most the number of pair occurrences, sum of m(m-1)/2 over orders. A row
//! or total above `u32` offsets is an [`Error::CapExceeded`].
//!
//! The learner counts into `CoCounts<u16, u16>` (see [`PairInt`]) when the
//! log has at most 65,536 items and no item is in more than 65,535 orders:
//! 4 bytes per stored entry. The counts are the same; on retail_fimi a
//! process that reads the log and fits once peaks at 59 MB instead of 84 MB
//! and takes about 18,100 page faults instead of 24,200 (each costs 1.4-2.9
//! µs on the cloud guests measured).

use std::fmt;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::orders::OrdersView;

/// A row whose touched items number at least `n / BITMAP_SCAN_RATIO` is
/// emitted through a bitmap of the items instead of sorting the touched
/// list: reading the `n / 64` words costs about as much as the sort's
/// `log2(nt)` steps per item at `nt = n / 256` (a rough break-even, not
/// tuned). The widest rows go through the bitmap too: a scan of the whole
/// dense accumulator, which they used to take from `nt >= n / 12`, is a
/// loop-carried step per item of the catalog, where the bitmap costs a few
/// steps per touched item and one per 64 of the catalog (single-threaded
/// counts of online_retail_fr_de, minimum of 40, 3.6-4.0 ms -> 2.7-3.1 ms;
/// retail_fimi 123-148 -> 105-125 ms).
const BITMAP_SCAN_RATIO: usize = 256;

/// Below this many pair increments (sum of m^2 over orders) counting stays
/// on the calling thread: starting a thread costs tens of microseconds,
/// which dominates small logs (bakery_breadbasket has about 40k and fits
/// in under a millisecond). From the learn branch; a rough estimate.
pub(crate) const THREAD_MIN_WORK: u64 = 1 << 18;

/// How many orders ahead the pair count prefetches an order's items.
///
/// A row walks the orders holding its item, scattered over the flattened
/// log (37 MB for a million orders, more than the L3): each order's items
/// were a cache miss that the row waited for. Prefetching them four orders
/// ahead took the row pass of the mine bench's million orders from
/// 1.3-1.5 s to 0.75-0.85 s on the Zen 3 guest (fourteenth round; 8 and 16
/// ahead measured no better, within that host's noise).
const PREFETCH_ORDERS_AHEAD: usize = 4;

/// The most stored pair entries (both directions): offsets are `u32`.
pub const MAX_PAIR_ENTRIES: usize = u32::MAX as usize;

/// The fewest chunks the rows are cut into, whatever the thread count, so
/// that even a single-threaded count reports progress in steps of a few
/// percent. More chunks cost a little merging; not measured as significant.
pub const MIN_CHUNKS: usize = 16;

/// Chunks per thread: enough that a thread finishing early picks up more
/// work instead of idling.
const CHUNKS_PER_THREAD: usize = 8;

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
///
/// The neighbour ids and counts are stored as `T` and `C`: `u32` for the
/// counts this crate hands out, `u16` inside the learner where the catalog
/// and the item counts allow (see [`PairInt`]).
#[derive(Clone, Debug)]
pub struct CoCounts<T: PairInt = u32, C: PairInt = u32> {
    /// `c(i)`, indexed by item id.
    item_counts: Vec<u32>,
    /// Number of orders counted.
    n_orders: usize,
    /// `offsets[i]..offsets[i + 1]` is row `i` in the concatenation of the
    /// blocks; `n_items + 1` entries.
    offsets: Vec<u32>,
    /// The block holding row `i`, `n_items` entries.
    row_block: Vec<u32>,
    /// The rows as counted, one block per chunk in row order, each row
    /// whole in one block. They are kept as counted rather than copied
    /// into one array: on retail_fimi the copy moved 48 MB into fresh
    /// pages, a tenth of a cold fit.
    blocks: Vec<PairBlock<T, C>>,
}

/// An unsigned integer type that [`CoCounts`] can store neighbour ids and
/// pair counts in: `u32`, or `u16` where every value fits (the learner
/// counts that way when the catalog has at most 65,536 items and no item
/// is in more than 65,535 orders: half the bytes per stored pair, and half
/// the fresh pages a first fit faults in for them). Sealed.
pub trait PairInt:
    Copy + Default + Ord + Send + Sync + fmt::Debug + Into<u32> + sealed::Sealed + 'static
{
    /// The largest value the type holds.
    const MAX: u32;
    /// `x` in this type; `x` must be at most [`MAX`](Self::MAX) (the
    /// counting code checks that before choosing the type).
    fn narrow(x: u32) -> Self;
}

impl PairInt for u16 {
    const MAX: u32 = u16::MAX as u32;
    #[inline(always)]
    fn narrow(x: u32) -> Self {
        debug_assert!(x <= <Self as PairInt>::MAX);
        x as u16
    }
}

impl PairInt for u32 {
    const MAX: u32 = u32::MAX;
    #[inline(always)]
    fn narrow(x: u32) -> Self {
        x
    }
}

mod sealed {
    /// Keeps [`super::PairInt`] to the two types the counting code checks for.
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
}

/// Consecutive rows of [`CoCounts`].
#[derive(Clone, Debug, Default)]
struct PairBlock<T, C> {
    /// The offset (in the concatenation) of the block's first entry.
    base: u32,
    /// Neighbour ids, sorted ascending within a row, never the row itself.
    targets: Vec<T>,
    /// `c(i, j) >= 1`, parallel to `targets`.
    counts: Vec<C>,
}

/// Equal when they hold the same counts, however the rows are cut into
/// blocks (which depends on the thread count).
impl<T: PairInt, C: PairInt> PartialEq for CoCounts<T, C> {
    fn eq(&self, other: &CoCounts<T, C>) -> bool {
        self.item_counts == other.item_counts
            && self.n_orders == other.n_orders
            && self.offsets == other.offsets
            && (0..self.n_items() as u32).all(|i| self.neighbours(i) == other.neighbours(i))
    }
}

impl<T: PairInt, C: PairInt> Eq for CoCounts<T, C> {}

/// One chunk of rows, counted: the length of each row, and the rows'
/// neighbours and counts concatenated.
type Block<T> = (Vec<u32>, Vec<u32>, Vec<T>);

/// [`Block`] with neighbour ids of type `T`.
type RowsBlock<T, C> = (Vec<u32>, Vec<T>, Vec<C>);

impl CoCounts {
    /// Counts items and pairs over `orders`, on up to `threads` threads
    /// (0 or 1 = the calling thread only). Results do not depend on
    /// `threads`.
    ///
    /// # Errors
    /// [`Error::CapExceeded`] when the pair entries exceed
    /// [`MAX_PAIR_ENTRIES`].
    pub fn count(orders: OrdersView<'_>, threads: usize) -> Result<CoCounts> {
        Self::count_with_progress(orders, threads, &mut |_| {})
    }

    /// As [`count`](Self::count), calling `progress` on the calling thread
    /// with the fraction of the pair-counting work done (non-decreasing,
    /// ending at 1.0) each time a chunk of rows finishes.
    ///
    /// # Errors
    /// As [`count`](Self::count).
    pub fn count_with_progress(
        orders: OrdersView<'_>,
        threads: usize,
        progress: &mut dyn FnMut(f64),
    ) -> Result<CoCounts> {
        count_rows(orders, orders.item_counts(), threads, progress)
    }
}

impl CoCounts<u16, u16> {
    /// As [`CoCounts::count`], with ids and counts stored as `u16` when
    /// they all fit: `None` when the view has more than 65,536 items or an
    /// item in more than 65,535 orders (a pair count is at most the smaller
    /// item count).
    pub(crate) fn count_compact(orders: OrdersView<'_>, threads: usize) -> Result<Option<Self>> {
        let item_counts = orders.item_counts();
        let fits = orders.n_items() <= u16::MAX as usize + 1
            && item_counts.iter().all(|&c| c <= u16::MAX.into());
        if !fits {
            return Ok(None);
        }
        count_rows(orders, item_counts, threads, &mut |_| {}).map(Some)
    }
}

/// The arrays of a chunk of counted rows from `before` on, with room for at
/// least `room` entries: extended (zero-filled) only where no earlier row
/// has reached, so stale entries of earlier rows beyond the written length
/// stay and the caller writes its row over them by index.
#[inline]
fn row_slots<'v, T: PairInt, C: PairInt>(
    targets: &'v mut Vec<T>,
    counts: &'v mut Vec<C>,
    before: usize,
    room: usize,
) -> (&'v mut [T], &'v mut [C]) {
    if targets.len() < before + room {
        targets.resize(before + room, T::default());
        counts.resize(before + room, C::default());
    }
    (&mut targets[before..], &mut counts[before..])
}

/// The counting of [`CoCounts::count_with_progress`], storing ids as `T`
/// and counts as `C`; the caller has checked that they fit (ids below
/// `n_items`, counts at most the largest of `item_counts`).
fn count_rows<T: PairInt, C: PairInt>(
    orders: OrdersView<'_>,
    item_counts: Vec<u32>,
    threads: usize,
    progress: &mut dyn FnMut(f64),
) -> Result<CoCounts<T, C>> {
    let n = orders.n_items();
    let inv = Inverted::build(orders, |_, _| true)?;
    // The pair-counted orders, flattened: the walk below then reads one
    // contiguous array through one offset table, without the view's
    // bounds checks and truncation per order (ported from the learn
    // branch, where it was part of a 1.3x faster count on retail_fimi).
    let mut ord_off = Vec::with_capacity(orders.len() + 1);
    ord_off.push(0u32);
    let mut ord_items = Vec::with_capacity(inv.orders.len());
    for order in orders.pair_orders() {
        ord_items.extend_from_slice(order);
        // Fits: `Inverted::build` checked the lines against `u32`.
        ord_off.push(ord_items.len() as u32);
    }
    let (ord_off, ord_items) = (&ord_off[..], &ord_items[..]);
    let sizes: Vec<u32> = ord_off.windows(2).map(|w| w[1] - w[0]).collect();
    let work = inv.work(&sizes);
    let threads = if work.iter().sum::<u64>() < THREAD_MIN_WORK {
        1
    } else {
        threads
    };
    let row_block = |range: Range<usize>| -> RowsBlock<T, C> {
        let mut acc = vec![0u32; n];
        // Branch-free "push if new": every item is written at `nt`, and
        // `nt` advances only when the item was not yet touched, which
        // avoids a mispredicted branch per increment. Each item enters
        // at most once per row, so `n + 1` slots suffice.
        let mut touched = vec![0u32; n + 1];
        // One bit per item, for all but the narrowest rows (see below);
        // all clear between rows.
        let mut seen = vec![0u64; n.div_ceil(64)];
        let mut lens = Vec::with_capacity(range.len());
        // Room for every row reserved up front (a row has at most
        // min(its work, n) slots): growing by doubling copied the rows
        // into fresh pages again and again, most of a small log's page
        // faults. Untouched reserved pages cost nothing.
        let bound = range
            .clone()
            .map(|i| work[i].min(n as u64) as usize)
            .sum::<usize>();
        // The arrays are written by index up to `len`, and extended
        // (zero-filled) only where no row has reached yet.
        let mut targets: Vec<T> = Vec::with_capacity(bound);
        let mut counts: Vec<C> = Vec::with_capacity(bound);
        let mut len = 0usize;
        for i in range {
            let mut nt = 0usize;
            let row_orders = inv.orders(i);
            for (p, &o) in row_orders.iter().enumerate() {
                if let Some(&ahead) = row_orders.get(p + PREFETCH_ORDERS_AHEAD) {
                    // In bounds: order `ahead` holds item `i`, so it has
                    // items.
                    crate::prefetch::prefetch(&ord_items[ord_off[ahead as usize] as usize]);
                }
                let (a, b) = (
                    ord_off[o as usize] as usize,
                    ord_off[o as usize + 1] as usize,
                );
                for &j in &ord_items[a..b] {
                    let slot = &mut acc[j as usize];
                    touched[nt] = j;
                    nt += usize::from(*slot == 0);
                    *slot += 1;
                }
            }
            let touched = &mut touched[..nt];
            let before = len;
            if nt * BITMAP_SCAN_RATIO >= n {
                // Its touched items marked in a bitmap and read back in id
                // order, `n / 64` words plus a few steps per item, where
                // sorting the list took about `log2(nt)` comparisons per
                // item (see `BITMAP_SCAN_RATIO`). The same entries as the
                // sort.
                for &j in touched.iter() {
                    seen[j as usize / 64] |= 1 << (j % 64);
                }
                seen[i / 64] &= !(1 << (i % 64));
                acc[i] = 0;
                let (t, c) = row_slots(&mut targets, &mut counts, before, nt);
                let mut at = 0usize;
                for (w, word) in seen.iter_mut().enumerate() {
                    let mut bits = std::mem::take(word);
                    while bits != 0 {
                        let j = w * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        t[at] = T::narrow(j as u32);
                        c[at] = C::narrow(std::mem::take(&mut acc[j]));
                        at += 1;
                    }
                }
                len += at;
            } else {
                touched.sort_unstable();
                let (t, c) = row_slots(&mut targets, &mut counts, before, nt);
                let mut at = 0usize;
                for &j in touched.iter() {
                    if j as usize != i {
                        t[at] = T::narrow(j);
                        c[at] = C::narrow(acc[j as usize]);
                        at += 1;
                    }
                    acc[j as usize] = 0;
                }
                len += at;
            }
            lens.push((len - before) as u32);
        }
        // Hand back the reserve beyond the rows (in place: a shrinking
        // realloc does not copy).
        targets.truncate(len);
        counts.truncate(len);
        targets.shrink_to_fit();
        counts.shrink_to_fit();
        (lens, targets, counts)
    };
    let blocks = run_chunks(&work, threads, row_block, progress);
    CoCounts::from_blocks(item_counts, orders.len(), blocks)
}

impl<T: PairInt, C: PairInt> CoCounts<T, C> {
    /// Counts from their counted chunks, in row order, kept as they are.
    fn from_blocks(
        item_counts: Vec<u32>,
        n_orders: usize,
        chunks: Vec<RowsBlock<T, C>>,
    ) -> Result<CoCounts<T, C>> {
        let n = item_counts.len();
        check_pair_entries(&chunks)?;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut row_block = Vec::with_capacity(n);
        let mut blocks = Vec::with_capacity(chunks.len());
        let mut end = 0u32;
        for (b, (lens, targets, counts)) in chunks.into_iter().enumerate() {
            blocks.push(PairBlock {
                base: end,
                targets,
                counts,
            });
            for l in lens {
                end += l;
                offsets.push(end);
                row_block.push(b as u32);
            }
        }
        debug_assert_eq!(offsets.len(), n + 1);
        Ok(CoCounts {
            item_counts,
            n_orders,
            offsets,
            row_block,
            blocks,
        })
    }
}

impl CoCounts {
    /// Counts items and pairs over `orders` with order and line weights
    /// (see the [module docs](self#weighted-counts)), on up to `threads`
    /// threads, reporting progress as
    /// [`count_with_progress`](Self::count_with_progress) does. Results do
    /// not depend on `threads`.
    ///
    /// ```
    /// use cartwise::cooc::{CoCounts, Weights};
    /// use cartwise::OrderLog;
    /// let log = OrderLog::from_rows([("1", "a"), ("1", "b"), ("2", "a"), ("2", "b")])?;
    /// // The second order counts half.
    /// let w = Weights { order: vec![1.0, 0.5], line: Vec::new() };
    /// let cc = CoCounts::count_weighted(log.view(), &w, 1, &mut |_| {})?;
    /// assert_eq!(cc.pair(0, 1), 1.5);
    /// assert_eq!(cc.total(), 1.5);
    /// # Ok::<(), cartwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a weight array has the wrong length or
    /// holds a negative or non-finite weight; as [`count`](Self::count).
    pub fn count_weighted(
        orders: OrdersView<'_>,
        weights: &Weights,
        threads: usize,
        progress: &mut dyn FnMut(f64),
    ) -> Result<WeightedCoCounts> {
        weights.validate(orders)?;
        let n = orders.n_items();
        // Item counts and the total, over whole orders.
        let mut item_counts = vec![0f64; n];
        let mut total = 0f64;
        for (o, order) in orders.iter().enumerate() {
            let w = weights.order_weight(o);
            let lw = weights.lines_of(orders, o);
            let mut most = 0f64;
            for (k, &i) in order.iter().enumerate() {
                let e = lw.map_or(1.0, |l| f64::from(l[k]));
                item_counts[i as usize] += w * e;
                most = most.max(e);
            }
            total += w * most;
        }
        // Entry weights w_o * e_oi, parallel to the inverted index.
        let (inv, entry_w) = Inverted::build_weighted(orders, |o, k| {
            weights.order_weight(o) * weights.lines_of(orders, o).map_or(1.0, |l| f64::from(l[k]))
        })?;
        let sizes: Vec<u32> = orders.pair_orders().map(|o| o.len() as u32).collect();
        let work = inv.work(&sizes);
        let row_block = |range: Range<usize>| -> Block<f32> {
            let mut acc = vec![0f64; n];
            // `stamp[j] == row + 1` once `j` is touched in this row: a sum
            // of tiny weights may round to 0, so `acc == 0` cannot say.
            let mut stamp = vec![0u32; n];
            let mut touched: Vec<u32> = Vec::new();
            let mut lens = Vec::with_capacity(range.len());
            let mut targets = Vec::new();
            let mut counts = Vec::new();
            for i in range {
                let mark = i as u32 + 1;
                for x in inv.range(i) {
                    let o = inv.orders[x] as usize;
                    let wi = entry_w[x];
                    let lw = weights.lines_of(orders, o);
                    for (k, &j) in orders.pair_items(o).iter().enumerate() {
                        let e = lw.map_or(1.0, |l| f64::from(l[k]));
                        if e > 0.0 {
                            if stamp[j as usize] != mark {
                                stamp[j as usize] = mark;
                                touched.push(j);
                            }
                            acc[j as usize] += wi * e;
                        }
                    }
                }
                touched.sort_unstable();
                let mut len = 0u32;
                for &j in &touched {
                    let c = acc[j as usize] as f32;
                    if j as usize != i && c > 0.0 {
                        targets.push(j);
                        counts.push(c);
                        len += 1;
                    }
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                lens.push(len);
            }
            (lens, targets, counts)
        };
        let blocks = run_chunks(&work, threads, row_block, progress);
        let (offsets, targets, counts) = assemble(n, blocks, threads)?;
        Ok(WeightedCoCounts {
            item_counts,
            total,
            n_orders: orders.len(),
            offsets,
            targets,
            counts,
        })
    }
}

impl<T: PairInt, C: PairInt> CoCounts<T, C> {
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
    pub fn neighbours(&self, i: u32) -> (&[T], &[C]) {
        let block = &self.blocks[self.row_block[i as usize] as usize];
        let (a, b) = (
            (self.offsets[i as usize] - block.base) as usize,
            (self.offsets[i as usize + 1] - block.base) as usize,
        );
        (&block.targets[a..b], &block.counts[a..b])
    }

    /// `c(i, j)` (0 when they never co-occur, or `i == j`). Runs in
    /// O(log degree).
    pub fn pair(&self, i: u32, j: u32) -> u32 {
        if j > T::MAX {
            return 0;
        }
        let (t, c) = self.neighbours(i);
        t.binary_search(&T::narrow(j)).map_or(0, |p| c[p].into())
    }

    /// The number of stored entries (twice the number of distinct pairs).
    pub fn n_entries(&self) -> usize {
        self.offsets[self.offsets.len() - 1] as usize
    }
}

/// Weights for [`CoCounts::count_weighted`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    /// The weight of each order of the view, finite and `>= 0`, indexed
    /// like the view; empty = every order weighs 1.
    pub order: Vec<f64>,
    /// The weight of each line of the view's orders, finite and `>= 0`:
    /// the lines of order 0 in [`OrdersView::order`] order, then those of
    /// order 1, and so on ([`OrdersView::n_lines`] in all); empty = every
    /// line weighs 1.
    pub line: Vec<f32>,
}

impl Weights {
    /// The weight of view order `o`.
    #[inline]
    fn order_weight(&self, o: usize) -> f64 {
        self.order.get(o).copied().unwrap_or(1.0)
    }

    /// The line weights of view order `o` (whole order), if any. Only
    /// after [`validate`](Self::validate).
    #[inline]
    fn lines_of<'w>(&'w self, view: OrdersView<'_>, o: usize) -> Option<&'w [f32]> {
        if self.line.is_empty() {
            return None;
        }
        self.line.get(view.line_range(o))
    }

    fn validate(&self, orders: OrdersView<'_>) -> Result<()> {
        let bad = |field: &'static str, value: String, hint: &'static str| {
            Err(Error::InvalidConfig { field, value, hint })
        };
        if !self.order.is_empty() && self.order.len() != orders.len() {
            return bad(
                "weights.order",
                format!("{} weights", self.order.len()),
                "one weight per order of the view, or none",
            );
        }
        if !self.line.is_empty() && self.line.len() != orders.n_lines() {
            return bad(
                "weights.line",
                format!("{} weights", self.line.len()),
                "one weight per line of the view's orders, or none",
            );
        }
        if let Some(w) = self.order.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return bad("weights.order", w.to_string(), "finite and >= 0");
        }
        if let Some(w) = self.line.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return bad("weights.line", w.to_string(), "finite and >= 0");
        }
        Ok(())
    }
}

/// Weighted item counts and sparse symmetric pair counts, from
/// [`CoCounts::count_weighted`]. The same layout as [`CoCounts`], with
/// `f64` item counts and `f32` pair counts.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightedCoCounts {
    /// `c(i) = Σ_o w_o·e_oi`, indexed by item id.
    item_counts: Vec<f64>,
    /// `n = Σ_o w_o·max_l e_ol`.
    total: f64,
    /// Number of orders in the view counted.
    n_orders: usize,
    /// `offsets[i]..offsets[i + 1]` is row `i`; `n_items + 1` entries.
    offsets: Vec<u32>,
    /// Neighbour ids, sorted ascending within a row, never the row itself.
    targets: Vec<u32>,
    /// `c(i, j) > 0`, parallel to `targets`.
    counts: Vec<f32>,
}

impl WeightedCoCounts {
    /// The number of items (ids `0..n_items()`).
    pub fn n_items(&self) -> usize {
        self.item_counts.len()
    }

    /// The number of orders in the view (whatever their weight).
    pub fn n_orders(&self) -> usize {
        self.n_orders
    }

    /// The weighted order total `n`, the denominator of support.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// `c(i)` for every item, indexed by item id.
    pub fn item_counts(&self) -> &[f64] {
        &self.item_counts
    }

    /// Row `i`: the items that co-occur with `i` (sorted by id) and the
    /// weighted counts `c(i, j)`.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    #[inline]
    pub fn neighbours(&self, i: u32) -> (&[u32], &[f32]) {
        let (a, b) = (
            self.offsets[i as usize] as usize,
            self.offsets[i as usize + 1] as usize,
        );
        (&self.targets[a..b], &self.counts[a..b])
    }

    /// `c(i, j)` (0 when they never co-occur, or `i == j`). Runs in
    /// O(log degree).
    pub fn pair(&self, i: u32, j: u32) -> f32 {
        let (t, c) = self.neighbours(i);
        t.binary_search(&j).map_or(0.0, |p| c[p])
    }

    /// The number of stored entries (twice the number of distinct pairs).
    pub fn n_entries(&self) -> usize {
        self.targets.len()
    }
}

impl CoCounts {
    /// Counts from their parts, for counts kept outside an order log
    /// ([`MinerState`](crate::incremental::MinerState)). The caller keeps
    /// the field invariants: `offsets` of `item_counts.len() + 1` entries
    /// from 0 to `targets.len()`, rows sorted, no self-pairs, counts `>= 1`.
    pub(crate) fn from_parts(
        item_counts: Vec<u32>,
        n_orders: usize,
        offsets: Vec<u32>,
        targets: Vec<u32>,
        counts: Vec<u32>,
    ) -> CoCounts {
        debug_assert_eq!(offsets.len(), item_counts.len() + 1);
        debug_assert_eq!(targets.len(), counts.len());
        CoCounts {
            row_block: vec![0; item_counts.len()],
            item_counts,
            n_orders,
            offsets,
            blocks: vec![PairBlock {
                base: 0,
                targets,
                counts,
            }],
        }
    }
}

impl WeightedCoCounts {
    /// Weighted counts from their parts; as [`CoCounts::from_parts`], with
    /// counts `> 0`.
    pub(crate) fn from_parts(
        item_counts: Vec<f64>,
        total: f64,
        n_orders: usize,
        offsets: Vec<u32>,
        targets: Vec<u32>,
        counts: Vec<f32>,
    ) -> WeightedCoCounts {
        debug_assert_eq!(offsets.len(), item_counts.len() + 1);
        debug_assert_eq!(targets.len(), counts.len());
        WeightedCoCounts {
            item_counts,
            total,
            n_orders,
            offsets,
            targets,
            counts,
        }
    }
}

/// The inverted index item -> orders (indexes into the view) holding it,
/// over the pair-counted prefix of each order; each item's orders
/// ascending.
#[derive(Debug)]
pub(crate) struct Inverted {
    /// `offsets[i]..offsets[i + 1]` is item `i`'s run; `n_items + 1`.
    pub(crate) offsets: Vec<u32>,
    /// View order indexes.
    pub(crate) orders: Vec<u32>,
}

impl Inverted {
    /// Builds the index, keeping the pair-counted line `k` of view order
    /// `o` when `keep(o, k)`.
    pub(crate) fn build(
        view: OrdersView<'_>,
        keep: impl Fn(usize, usize) -> bool,
    ) -> Result<Inverted> {
        let n = view.n_items();
        let mut offsets = vec![0u32; n + 1];
        let mut lines = 0usize;
        for (o, order) in view.pair_orders().enumerate() {
            for (k, &i) in order.iter().enumerate() {
                if keep(o, k) {
                    offsets[i as usize + 1] += 1;
                    lines += 1;
                }
            }
            if lines > u32::MAX as usize {
                return Err(Error::CapExceeded {
                    what: "order lines counted",
                    cap: u32::MAX as u64,
                    got: lines as u64,
                });
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut orders = vec![0u32; lines];
        let mut fill = offsets.clone();
        for (o, order) in view.pair_orders().enumerate() {
            for (k, &i) in order.iter().enumerate() {
                if keep(o, k) {
                    orders[fill[i as usize] as usize] = o as u32;
                    fill[i as usize] += 1;
                }
            }
        }
        Ok(Inverted { offsets, orders })
    }

    /// As [`build`](Self::build), keeping the lines of positive weight
    /// `weight(o, k)`, and returning their weights parallel to `orders`.
    pub(crate) fn build_weighted(
        view: OrdersView<'_>,
        weight: impl Fn(usize, usize) -> f64,
    ) -> Result<(Inverted, Vec<f64>)> {
        let inv = Inverted::build(view, |o, k| weight(o, k) > 0.0)?;
        let mut weights = vec![0f64; inv.orders.len()];
        let mut fill = inv.offsets.clone();
        for (o, order) in view.pair_orders().enumerate() {
            for (k, &i) in order.iter().enumerate() {
                let w = weight(o, k);
                if w > 0.0 {
                    weights[fill[i as usize] as usize] = w;
                    fill[i as usize] += 1;
                }
            }
        }
        Ok((inv, weights))
    }

    /// Where item `i`'s orders are in `orders`.
    #[inline]
    pub(crate) fn range(&self, i: usize) -> Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// The orders holding item `i`.
    #[inline]
    pub(crate) fn orders(&self, i: usize) -> &[u32] {
        &self.orders[self.range(i)]
    }

    /// Work per row: the summed sizes of the orders it walks.
    pub(crate) fn work(&self, sizes: &[u32]) -> Vec<u64> {
        (0..self.offsets.len() - 1)
            .map(|i| {
                self.orders(i)
                    .iter()
                    .map(|&o| u64::from(sizes[o as usize]))
                    .sum()
            })
            .collect()
    }
}

/// Runs `f` over contiguous chunks of `0..work.len()` of about equal summed
/// work on up to `threads` threads (the calling thread one of them),
/// calling `progress` on the calling thread with the fraction of work done
/// as chunks finish (others' between its own), and returns the results in
/// chunk (row) order.
pub(crate) fn run_chunks<T, F>(
    work: &[u64],
    threads: usize,
    f: F,
    progress: &mut dyn FnMut(f64),
) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
{
    let threads = threads.max(1);
    let ranges = split_by_work(work, (threads * CHUNKS_PER_THREAD).max(MIN_CHUNKS));
    let total: u64 = work.iter().sum();
    let chunk_work: Vec<u64> = ranges
        .iter()
        .map(|r| work[r.clone()].iter().sum())
        .collect();
    let mut done = 0u64;
    let mut report = |w: u64| {
        done += w;
        progress(if total == 0 {
            1.0
        } else {
            done as f64 / total as f64
        });
    };
    if threads == 1 || ranges.len() == 1 {
        let mut out = Vec::with_capacity(ranges.len());
        for (r, &w) in ranges.iter().zip(&chunk_work) {
            out.push(f(r.clone()));
            report(w);
        }
        return out;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..ranges.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, T)>();
        // The calling thread is one of the workers: one thread fewer to
        // start (tens of microseconds each in a fresh process, where a
        // small log counts in about a millisecond).
        let handles: Vec<_> = (1..threads.min(ranges.len()))
            .map(|_| {
                let tx = tx.clone();
                let (next, ranges, f) = (&next, &ranges, &f);
                s.spawn(move || loop {
                    let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(r) = ranges.get(c) else { break };
                    if tx.send((c, f(r.clone()))).is_err() {
                        break;
                    }
                })
            })
            .collect();
        drop(tx);
        // Between its own chunks, the calling thread reports the others'.
        loop {
            let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(r) = ranges.get(c) else { break };
            let block = f(r.clone());
            report(chunk_work[c]);
            slots[c] = Some(block);
            while let Ok((c, block)) = rx.try_recv() {
                report(chunk_work[c]);
                slots[c] = Some(block);
            }
        }
        // Ends when every worker has dropped its sender: all chunks sent,
        // or a worker panicked (re-raised below).
        for (c, block) in rx {
            report(chunk_work[c]);
            slots[c] = Some(block);
        }
        for h in handles {
            // A panic in a worker is a bug in this module, not bad input:
            // propagate it.
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
    });
    slots.into_iter().flatten().collect()
}

/// The number of pair entries in counted chunks, or
/// [`Error::CapExceeded`] above [`MAX_PAIR_ENTRIES`] (row offsets are `u32`).
fn check_pair_entries<T, C>(chunks: &[RowsBlock<T, C>]) -> Result<usize> {
    let total: usize = chunks.iter().map(|b| b.1.len()).sum();
    if total > MAX_PAIR_ENTRIES {
        return Err(Error::CapExceeded {
            what: "pair entries",
            cap: MAX_PAIR_ENTRIES as u64,
            got: total as u64,
        });
    }
    Ok(total)
}

/// One block's copy in [`assemble`]: destinations, then sources.
type CopyJob<'a, T> = (&'a mut [u32], &'a mut [T], &'a [u32], &'a [T]);

/// Concatenates counted chunks into CSR arrays over `n` rows, copying on up
/// to `threads` threads: on retail_fimi the copy moves 48 MB and took about
/// a fifth of the counting time on one thread.
fn assemble<T: Copy + Default + Send + Sync>(
    n: usize,
    blocks: Vec<Block<T>>,
    threads: usize,
) -> Result<(Vec<u32>, Vec<u32>, Vec<T>)> {
    let total = check_pair_entries(&blocks)?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u32);
    let mut end = 0u32;
    for (lens, _, _) in &blocks {
        for &l in lens {
            end += l;
            offsets.push(end);
        }
    }
    debug_assert_eq!(offsets.len(), n + 1);
    // Zero-filled, so that the copy below can write through disjoint
    // slices (a large zeroed allocation is fresh pages, not a memset).
    let mut targets = vec![0u32; total];
    let mut counts = vec![T::default(); total];
    // Each block's destination, cut off the front in block order.
    let mut jobs = Vec::with_capacity(blocks.len());
    let (mut t_rest, mut c_rest) = (&mut targets[..], &mut counts[..]);
    for (_, t, c) in &blocks {
        let (t_dst, t_tail) = std::mem::take(&mut t_rest).split_at_mut(t.len());
        let (c_dst, c_tail) = std::mem::take(&mut c_rest).split_at_mut(c.len());
        (t_rest, c_rest) = (t_tail, c_tail);
        jobs.push((t_dst, c_dst, &t[..], &c[..]));
    }
    let copy = |jobs: &mut [CopyJob<'_, T>]| {
        for (t_dst, c_dst, t, c) in jobs.iter_mut() {
            t_dst.copy_from_slice(t);
            c_dst.copy_from_slice(c);
        }
    };
    // Below a few MB a thread costs more than the copy (rough estimate).
    if threads <= 1 || total < 1 << 19 {
        copy(&mut jobs);
    } else {
        // Halves of about equal size, whole blocks each.
        let mut split = 0;
        let mut acc = 0usize;
        while split < jobs.len() && 2 * acc < total {
            acc += jobs[split].2.len();
            split += 1;
        }
        let (first, second) = jobs.split_at_mut(split);
        std::thread::scope(|s| {
            s.spawn(|| copy(first));
            copy(second);
        });
    }
    drop(jobs);
    Ok((offsets, targets, counts))
}

/// Splits `0..work.len()` into at most `parts` contiguous ranges of about
/// equal summed work.
pub(crate) fn split_by_work(work: &[u64], parts: usize) -> Vec<Range<usize>> {
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Rows of every width: many one-line orders make the catalog
        /// large, so rows touching a few items are sorted and wider ones go
        /// through the bitmap (the log above is too small for the first).
        #[test]
        fn every_row_path_matches_brute_force(
            rows in prop::collection::vec((0u8..40, 0u16..90), 1..400),
            singles in 0usize..1500,
            threads in 1usize..4,
        ) {
            let mut all: Vec<(String, String)> = rows.iter().map(|(o, s)| (o.to_string(), format!("s{s}"))).collect();
            all.extend((0..singles).map(|k| (format!("single{k}"), format!("f{k}"))));
            let log = OrderLog::from_rows(all).unwrap();
            let cc = CoCounts::count(log.view(), threads).unwrap();
            let n = log.n_items();
            let mut want: Vec<std::collections::BTreeMap<u32, u32>> = vec![Default::default(); n];
            for order in log.orders() {
                for &i in order {
                    for &j in order {
                        if i != j {
                            *want[i as usize].entry(j).or_default() += 1;
                        }
                    }
                }
            }
            // The learner's compact form (u16 ids and counts) holds the
            // same rows.
            let compact = CoCounts::count_compact(log.view(), threads).unwrap().expect("fits u16");
            prop_assert_eq!(compact.item_counts(), cc.item_counts());
            prop_assert_eq!(compact.n_entries(), cc.n_entries());
            for i in 0..n as u32 {
                let want: Vec<(u32, u32)> = want[i as usize].iter().map(|(&j, &c)| (j, c)).collect();
                let (t, c) = cc.neighbours(i);
                let got: Vec<(u32, u32)> = t.iter().copied().zip(c.iter().copied()).collect();
                prop_assert_eq!(&got, &want, "row {}", i);
                let (t, c) = compact.neighbours(i);
                let got: Vec<(u32, u32)> = t.iter().map(|&x| x.into()).zip(c.iter().map(|&x| x.into())).collect();
                prop_assert_eq!(&got, &want, "compact row {}", i);
                for &(j, c) in &want {
                    prop_assert_eq!(compact.pair(i, j), c);
                }
                prop_assert_eq!(compact.pair(i, u32::from(u16::MAX) + 1), 0);
            }
        }
    }

    /// The compact form is used only when every id and count fits `u16`:
    /// at most 65,536 items, no item in more than 65,535 orders.
    #[test]
    fn compact_counts_only_where_they_fit() {
        let many_items =
            OrderLog::from_rows((0..=65_536u32).map(|k| (k.to_string(), format!("s{k}")))).unwrap();
        assert_eq!(many_items.n_items(), 65_537);
        assert!(CoCounts::count_compact(many_items.view(), 1)
            .unwrap()
            .is_none());
        let just_fits =
            OrderLog::from_rows((0..=65_535u32).map(|k| (k.to_string(), format!("s{k}")))).unwrap();
        assert!(CoCounts::count_compact(just_fits.view(), 1)
            .unwrap()
            .is_some());

        let pair_rows = |orders: u32| {
            (0..orders).flat_map(|k| {
                [
                    (k.to_string(), "a".to_string()),
                    (k.to_string(), "b".to_string()),
                ]
            })
        };
        let at_max = OrderLog::from_rows(pair_rows(65_535)).unwrap();
        let compact = CoCounts::count_compact(at_max.view(), 2)
            .unwrap()
            .expect("fits u16");
        assert_eq!(compact.pair(0, 1), 65_535);
        assert_eq!(compact.count_of(0), 65_535);
        let over = OrderLog::from_rows(pair_rows(65_536)).unwrap();
        assert!(CoCounts::count_compact(over.view(), 2).unwrap().is_none());
        assert_eq!(CoCounts::count(over.view(), 2).unwrap().pair(0, 1), 65_536);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn weighted_matches_brute_force(
            rows in prop::collection::vec((0u8..10, 0u8..8, 0u8..4), 1..60),
            threads in 1usize..4,
            from in 0usize..3,
        ) {
            let rows: Vec<(String, String)> = rows.iter().map(|(o, s, _)| (o.to_string(), format!("s{s}"))).collect();
            let log = OrderLog::from_rows(rows).unwrap();
            let from = from.min(log.len() - 1);
            let view = log.slice(from..log.len());
            // Weights in quarters, so every sum is exact.
            let order_w: Vec<f64> = (0..view.len()).map(|o| (o % 5) as f64 * 0.25).collect();
            let line: Vec<f32> = (0..view.n_lines()).map(|k| ((k * 7) % 5) as f32 * 0.25).collect();
            let w = Weights { order: order_w, line: line.clone() };
            let cc = CoCounts::count_weighted(view, &w, threads, &mut |_| {}).unwrap();
            let n = log.n_items();
            let (mut c, mut p, mut total) = (vec![0f64; n], vec![vec![0f64; n]; n], 0f64);
            let mut k0 = 0;
            for o in 0..view.len() {
                let order = view.order(o);
                let e = |k: usize| f64::from(line[k0 + k]);
                let mut most = 0f64;
                for (a, &i) in order.iter().enumerate() {
                    c[i as usize] += w.order[o] * e(a);
                    most = most.max(e(a));
                    for (b, &j) in order.iter().enumerate() {
                        if i != j {
                            p[i as usize][j as usize] += w.order[o] * e(a) * e(b);
                        }
                    }
                }
                total += w.order[o] * most;
                k0 += order.len();
            }
            prop_assert_eq!(cc.item_counts(), &c[..]);
            prop_assert_eq!(cc.total(), total);
            prop_assert_eq!(cc.n_orders(), view.len());
            for i in 0..n as u32 {
                let (t, counts) = cc.neighbours(i);
                prop_assert!(t.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(counts.iter().all(|&x| x > 0.0));
                for j in 0..n as u32 {
                    prop_assert_eq!(f64::from(cc.pair(i, j)), p[i as usize][j as usize]);
                }
            }
        }
    }

    #[test]
    fn unit_weights_equal_the_integer_counts() {
        let log = OrderLog::from_rows([("1", "a"), ("1", "b"), ("2", "a"), ("2", "c"), ("2", "b")])
            .unwrap();
        let plain = CoCounts::count(log.view(), 2).unwrap();
        let w = CoCounts::count_weighted(log.view(), &Weights::default(), 2, &mut |_| {}).unwrap();
        assert_eq!(w.total(), 2.0);
        for i in 0..3 {
            assert_eq!(w.item_counts()[i as usize], f64::from(plain.count_of(i)));
            let (t, c) = plain.neighbours(i);
            let (wt, wc) = w.neighbours(i);
            assert_eq!(t, wt);
            assert!(c.iter().zip(wc).all(|(&a, &b)| a as f32 == b));
        }
    }

    #[test]
    fn bad_weights_are_rejected() {
        let log = OrderLog::from_rows([("1", "a"), ("1", "b")]).unwrap();
        let bad =
            |w: Weights| CoCounts::count_weighted(log.view(), &w, 1, &mut |_| {}).unwrap_err();
        let short = Weights {
            order: vec![1.0, 1.0],
            line: Vec::new(),
        };
        assert!(matches!(
            bad(short),
            Error::InvalidConfig {
                field: "weights.order",
                ..
            }
        ));
        let nan = Weights {
            order: Vec::new(),
            line: vec![1.0, f32::NAN],
        };
        assert!(matches!(
            bad(nan),
            Error::InvalidConfig {
                field: "weights.line",
                ..
            }
        ));
        let negative = Weights {
            order: vec![-1.0],
            line: Vec::new(),
        };
        assert!(matches!(
            bad(negative),
            Error::InvalidConfig {
                field: "weights.order",
                ..
            }
        ));
    }

    #[test]
    fn progress_rises_to_one() {
        let rows: Vec<(String, String)> = (0..400)
            .map(|k| ((k / 5).to_string(), format!("s{}", k % 37)))
            .collect();
        let log = OrderLog::from_rows(rows).unwrap();
        for threads in [1, 2, 3] {
            let mut seen = Vec::new();
            let cc =
                CoCounts::count_with_progress(log.view(), threads, &mut |f| seen.push(f)).unwrap();
            assert_eq!(cc, CoCounts::count(log.view(), 1).unwrap());
            assert!(seen.len() >= 2, "{seen:?}");
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
            assert_eq!(seen.last(), Some(&1.0));
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
