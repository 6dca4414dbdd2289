//! Offline evaluation: does a method put the missing item of a real basket
//! in its top k?
//!
//! This module implements the protocol of the shared `EVAL.md` exactly, so
//! that cartwise's figures stand next to the peers' (popularity, SAR-style
//! co-occurrence, mlxtend and Spark association rules, EASE):
//!
//! * **Split.** With `n` orders (in first-appearance order, see
//!   [`OrderLog`]), the first `n_train = 4n/5` (integer division) are
//!   TRAIN, the rest TEST. No shuffling, no time sort: [`split_point`].
//! * **Cases.** For every TEST order with at least 2 distinct items, and for
//!   each of its items `t` in order: the cart is the order's other items
//!   (order kept), the target is `t`. An order of m items yields m cases.
//!   Targets never seen in TRAIN stay in the case set and count as misses.
//! * **Contract.** A method returns a ranked list of at most k distinct
//!   items, none in the cart. Cart items unseen in TRAIN are to be ignored
//!   by the models. The evaluator checks the contract and counts
//!   violations ([`MethodReport::violations`]); it scores only the first k
//!   entries.
//! * **Metrics.** HR@k = the fraction of cases whose target is in the list;
//!   MRR@k = the mean of 1/rank (rank from 1; 0 when absent); coverage =
//!   |distinct items recommended in any case and seen in TRAIN| / |distinct
//!   TRAIN items|.
//!
//! A method is anything implementing [`Ranker`], closures included: it gets
//! the cart's item ids (ids of the [`OrderLog`]) and `k`, and writes its
//! ranked list into a caller-owned `Vec`. [`Evaluation::run`] fits it on
//! TRAIN, times the fit and the answers, and returns a [`MethodReport`].
//!
//! The two reference baselines of `EVAL.md` live here too, implemented
//! exactly as defined there: [`Popularity`] (TRAIN order count descending,
//! then SKU ascending by bytes) and [`CoOccurrence`] (SAR-style sums of
//! Jaccard, lift or conditional-probability similarities in `f64`, summed in
//! cart order, ties by SKU, filled with popularity).
//!
//! ```
//! use cartwise::eval::{Evaluation, Popularity};
//! use cartwise::OrderLog;
//! let rows = [("1", "a"), ("1", "b"), ("2", "a"), ("2", "c"), ("3", "a"), ("3", "b"),
//!             ("4", "a"), ("4", "b"), ("5", "a"), ("5", "b")];
//! let log = OrderLog::from_rows(rows)?;
//! let eval = Evaluation::new(&log, 10)?;
//! assert_eq!((eval.train().len(), eval.test().len(), eval.n_cases()), (4, 1, 2));
//! let report = eval.run("popularity", |train| Ok(Popularity::fit(train)))?;
//! assert_eq!(report.hr, 1.0); // cart [a] -> b first; cart [b] -> a first
//! assert_eq!(report.mrr, 1.0);
//! # Ok::<(), cartwise::Error>(())
//! ```

use std::time::Instant;

use crate::cooc::CoCounts;
use crate::error::{Error, Result};
use crate::orders::{OrderLog, OrdersView};

/// A recommendation method under evaluation.
///
/// # Contract
/// `rank` clears nothing: it appends to `out`, which the caller hands over
/// empty. It writes at most `k` distinct item ids, best first, none of them
/// in `cart`, each `< n_items` of the log. Cart items the method knows
/// nothing about must be ignored, not rejected. Breaking the contract does
/// not panic the evaluator: the report counts the violating cases and
/// scores only the first `k` entries.
///
/// Closures `FnMut(&[u32], usize, &mut Vec<u32>)` are rankers.
pub trait Ranker {
    /// Writes the ranked list for `cart` (item ids, distinct, in cart order)
    /// into `out`.
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>);
}

impl<F: FnMut(&[u32], usize, &mut Vec<u32>)> Ranker for F {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        self(cart, k, out)
    }
}

/// The number of TRAIN orders for `n` orders: `4n/5` in integers, as
/// `EVAL.md` defines.
pub const fn split_point(n: usize) -> usize {
    // 4 * n cannot overflow for any n a log can hold (< 2^32 orders).
    4 * n / 5
}

/// The result of one method on one dataset.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MethodReport {
    /// The method's name.
    pub name: String,
    /// HR@k: the fraction of cases whose target is in the list.
    pub hr: f64,
    /// MRR@k: the mean of 1/rank of the target, 0 when absent.
    pub mrr: f64,
    /// Distinct recommended TRAIN items / distinct TRAIN items.
    pub coverage: f64,
    /// The number of cases.
    pub cases: usize,
    /// The number of cases whose target was in the list.
    pub hits: usize,
    /// The list length asked for.
    pub k: usize,
    /// Wall-clock seconds spent fitting on TRAIN.
    pub fit_seconds: f64,
    /// Wall-clock microseconds per case to produce the list (one thread,
    /// cart building included).
    pub micros_per_cart: f64,
    /// Cases whose list broke the [`Ranker`] contract (too long, duplicates,
    /// cart items, unknown ids). 0 for a correct method.
    pub violations: usize,
}

/// The evaluation protocol bound to one order log. See the [module
/// docs](self).
#[derive(Clone, Debug)]
pub struct Evaluation<'a> {
    log: &'a OrderLog,
    n_train: usize,
    k: usize,
    train_counts: Vec<u32>,
    n_train_items: usize,
    n_cases: usize,
}

impl<'a> Evaluation<'a> {
    /// Splits `log` as the protocol says, for lists of length `k`.
    ///
    /// # Errors
    /// [`Error::InvalidLimit`] unless `1 <= k <= MAX_LIMIT`.
    pub fn new(log: &'a OrderLog, k: usize) -> Result<Self> {
        if k == 0 || k > crate::MAX_LIMIT {
            return Err(Error::InvalidLimit {
                limit: k,
                max: crate::MAX_LIMIT,
            });
        }
        let n_train = split_point(log.len());
        let train_counts = log.slice(0..n_train).item_counts();
        let n_train_items = train_counts.iter().filter(|&&c| c > 0).count();
        let n_cases = log
            .slice(n_train..log.len())
            .iter()
            .map(|o| if o.len() >= 2 { o.len() } else { 0 })
            .sum();
        Ok(Evaluation {
            log,
            n_train,
            k,
            train_counts,
            n_train_items,
            n_cases,
        })
    }

    /// The log.
    pub fn log(&self) -> &'a OrderLog {
        self.log
    }

    /// The TRAIN orders.
    pub fn train(&self) -> OrdersView<'a> {
        self.log.slice(0..self.n_train)
    }

    /// The TEST orders.
    pub fn test(&self) -> OrdersView<'a> {
        self.log.slice(self.n_train..self.log.len())
    }

    /// The list length.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of cases.
    pub fn n_cases(&self) -> usize {
        self.n_cases
    }

    /// The number of distinct items in TRAIN (the coverage denominator).
    pub fn n_train_items(&self) -> usize {
        self.n_train_items
    }

    /// Calls `f(cart, target)` for every case, in protocol order.
    pub fn for_each_case(&self, mut f: impl FnMut(&[u32], u32)) {
        let mut cart = Vec::new();
        for order in self.test().iter().filter(|o| o.len() >= 2) {
            for (t, &target) in order.iter().enumerate() {
                cart.clear();
                cart.extend_from_slice(&order[..t]);
                cart.extend_from_slice(&order[t + 1..]);
                f(&cart, target);
            }
        }
    }

    /// Fits a method on TRAIN with `fit` (timed), then scores it.
    ///
    /// # Errors
    /// Whatever `fit` returns.
    pub fn run<R, F>(&self, name: &str, fit: F) -> Result<MethodReport>
    where
        R: Ranker,
        F: FnOnce(OrdersView<'a>) -> Result<R>,
    {
        let start = Instant::now();
        let mut ranker = fit(self.train())?;
        let fit_seconds = start.elapsed().as_secs_f64();
        Ok(self.score(name, fit_seconds, &mut ranker))
    }

    /// Scores an already fitted method. `fit_seconds` is copied into the
    /// report.
    pub fn score<R: Ranker + ?Sized>(
        &self,
        name: &str,
        fit_seconds: f64,
        ranker: &mut R,
    ) -> MethodReport {
        // Pass 1, timed: produce every list. Only the answers are kept, so
        // that checking does not count as answering time.
        let mut lists: Vec<u32> = Vec::with_capacity(self.n_cases * self.k);
        let mut ends: Vec<usize> = Vec::with_capacity(self.n_cases);
        let mut out = Vec::with_capacity(self.k);
        let k = self.k;
        let start = Instant::now();
        self.for_each_case(|cart, _| {
            out.clear();
            ranker.rank(cart, k, &mut out);
            lists.extend_from_slice(&out);
            ends.push(lists.len());
        });
        let elapsed = start.elapsed().as_secs_f64();
        // Pass 2: check and score.
        let n_items = self.log.n_items();
        let mut recommended = vec![false; n_items];
        let mut stamp = vec![u32::MAX; n_items];
        let (mut hits, mut rr, mut violations) = (0usize, 0.0f64, 0usize);
        let mut case = 0usize;
        self.for_each_case(|cart, target| {
            let begin = if case == 0 { 0 } else { ends[case - 1] };
            let list = &lists[begin..ends[case]];
            // Mark the cart with this case's stamp, then check the list.
            let tag = case as u32;
            for &c in cart {
                stamp[c as usize] = tag;
            }
            let mut bad = list.len() > k;
            let list = &list[..list.len().min(k)];
            for &item in list {
                match stamp.get_mut(item as usize) {
                    Some(s) if *s != tag => *s = tag,
                    _ => bad = true, // unknown id, cart item or duplicate
                }
            }
            violations += usize::from(bad);
            for &item in list {
                if let Some(r) = recommended.get_mut(item as usize) {
                    *r = true;
                }
            }
            if self.train_counts[target as usize] > 0 {
                if let Some(p) = list.iter().position(|&i| i == target) {
                    hits += 1;
                    rr += 1.0 / (p + 1) as f64;
                }
            }
            case += 1;
        });
        let covered = recommended
            .iter()
            .zip(&self.train_counts)
            .filter(|(&r, &c)| r && c > 0)
            .count();
        let cases = self.n_cases;
        let div = |x: f64, d: usize| if d == 0 { 0.0 } else { x / d as f64 };
        MethodReport {
            name: name.to_owned(),
            hr: div(hits as f64, cases),
            mrr: div(rr, cases),
            coverage: div(covered as f64, self.n_train_items),
            cases,
            hits,
            k,
            fit_seconds,
            micros_per_cart: div(elapsed * 1e6, cases),
            violations,
        }
    }
}

/// The popularity list of a set of orders: items seen at least once, by
/// order count descending, then SKU ascending in byte order.
pub fn popularity_list(orders: OrdersView<'_>) -> Vec<u32> {
    let counts = orders.item_counts();
    let ranks = orders.log().sku_ranks();
    let mut list: Vec<u32> = (0..counts.len() as u32)
        .filter(|&i| counts[i as usize] > 0)
        .collect();
    list.sort_unstable_by(|&a, &b| {
        counts[b as usize]
            .cmp(&counts[a as usize])
            .then(ranks[a as usize].cmp(&ranks[b as usize]))
    });
    list
}

/// Appends to `out` the first items of `list` that are not marked in
/// `taken` (cart and already listed items), until `out` holds `k`. Marks
/// what it adds.
fn fill_from(list: &[u32], taken: &mut Marks, k: usize, out: &mut Vec<u32>) {
    for &i in list {
        if out.len() >= k {
            break;
        }
        if taken.insert(i) {
            out.push(i);
        }
    }
}

/// A set of item ids with O(1) clear: a stamp per item.
#[derive(Clone, Debug)]
struct Marks {
    stamp: Vec<u32>,
    now: u32,
}

impl Marks {
    fn new(n: usize) -> Self {
        Marks {
            stamp: vec![0; n],
            now: 1,
        }
    }

    fn clear(&mut self) {
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
    }

    /// Adds `i`; false if it was there already or is out of range.
    fn insert(&mut self, i: u32) -> bool {
        match self.stamp.get_mut(i as usize) {
            Some(s) if *s != self.now => {
                *s = self.now;
                true
            }
            _ => false,
        }
    }

    fn contains(&self, i: u32) -> bool {
        self.stamp.get(i as usize) == Some(&self.now)
    }
}

/// The popularity baseline of `EVAL.md`: the TRAIN popularity list minus the
/// cart.
#[derive(Clone, Debug)]
pub struct Popularity {
    list: Vec<u32>,
    taken: Marks,
}

impl Popularity {
    /// Counts TRAIN orders per item.
    pub fn fit(train: OrdersView<'_>) -> Self {
        Popularity {
            list: popularity_list(train),
            taken: Marks::new(train.n_items()),
        }
    }

    /// The full list, best first.
    pub fn list(&self) -> &[u32] {
        &self.list
    }
}

impl Ranker for Popularity {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        self.taken.clear();
        for &c in cart {
            self.taken.insert(c);
        }
        fill_from(&self.list, &mut self.taken, k, out);
    }
}

/// The item-item similarity of a [`CoOccurrence`] baseline, for cart item
/// `i` and candidate `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    /// `c(i,j) / (c(i) + c(j) - c(i,j))`.
    Jaccard,
    /// `c(i,j) / (c(i) c(j))`.
    Lift,
    /// `c(i,j) / c(i)`.
    Conditional,
}

impl Similarity {
    /// The name used in `EVAL.md` (`sar_jaccard`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Similarity::Jaccard => "sar_jaccard",
            Similarity::Lift => "sar_lift",
            Similarity::Conditional => "sar_cond",
        }
    }

    #[inline]
    fn of(self, cij: u32, ci: u32, cj: u32) -> f64 {
        let (cij, ci, cj) = (f64::from(cij), f64::from(ci), f64::from(cj));
        match self {
            Similarity::Jaccard => cij / (ci + cj - cij),
            Similarity::Lift => cij / (ci * cj),
            Similarity::Conditional => cij / ci,
        }
    }
}

/// The SAR-style co-occurrence baseline of `EVAL.md` (a reference, not a
/// tuned method): `score(j) = sum over cart items i of sim(i, j)` in `f64`,
/// summed in cart order; candidates with a positive score, not in the cart,
/// by (score descending, SKU ascending); filled with popularity.
///
/// A cart whose items co-occur with few others is scored by summing their
/// whole rows. When the rows are long (best sellers co-occur with much of
/// a large catalog), the k best are first sought with the threshold
/// algorithm (Fagin, Lotem and Naor): each cart item's row is read in
/// order of similarity (put in that order lazily, a chunk at a time), every
/// item met is scored in full (a binary search per cart item), and reading
/// stops once the k-th best score is above the sum of the similarities at
/// the rows' read positions, which bounds every item not met yet. It gives
/// up for the rows when its searches cost more than summing the rows
/// would, and which way a case takes follows their measured costs. Both
/// ways give the same list, ties and floating-point sums included
/// (property tests hold them equal).
#[derive(Clone, Debug)]
pub struct CoOccurrence {
    counts: CoCounts,
    similarity: Similarity,
    popular: Vec<u32>,
    sku_rank: Vec<u32>,
    score: Vec<f64>,
    touched: Vec<u32>,
    taken: Marks,
    /// Per item met in a cart with long rows: its row's positions, of
    /// which the first `.1` are sorted by similarity descending (ties by
    /// position) and the rest follow them in that order, unsorted; sorted
    /// further as the threshold algorithm reads on (see `sorted_up_to`).
    by_similarity: ahash::AHashMap<u32, (Box<[u32]>, usize)>,
    /// Items the threshold algorithm has met in this case.
    seen: Marks,
    /// The threshold algorithm's k best so far: (score, SKU rank, item),
    /// best first.
    best: Vec<(f64, u32, u32)>,
    /// The threshold algorithm's lists, one per cart item seen in TRAIN,
    /// in cart order: (item, its count, read position).
    lists: Vec<(u32, u32, usize)>,
    /// Recent cost per row entry of a long case, in nanoseconds, when its
    /// rows are summed and when the threshold algorithm is tried first
    /// (its time on giving up included); NaN until measured. See
    /// `rank_adaptively`.
    rows_ns: f64,
    threshold_ns: f64,
    /// Long cases ranked so far.
    long_cases: u64,
}

/// One long case in this many is ranked the way that has recently been
/// slower, so that a change in the cases is noticed: a few percent of the
/// time where the threshold algorithm never pays.
const EXPLORE_EVERY: u64 = 32;

/// Below this many row entries over a cart's items, summing the whole rows
/// is cheap enough: the threshold algorithm is not tried. (At 4096 it was
/// tried on most of online_retail_fr_de's carts of about 20 items, and
/// the reference rows there took 18% longer; at this size 11%, while
/// retail_fimi's conditional-probability row keeps its gain.)
const THRESHOLD_MIN_WORK: usize = 16384;

/// Binary-search steps that cost about what summing one row entry does
/// (a division and two scattered reads): the threshold algorithm gives up
/// once its steps exceed the rows' entries times this.
const THRESHOLD_STEPS_PER_ENTRY: usize = 3;

/// Entries the threshold algorithm reads from each row per round, before
/// it checks whether it may stop.
const THRESHOLD_STEP: usize = 8;

impl CoOccurrence {
    /// Counts TRAIN items and pairs (on `threads` threads).
    ///
    /// # Errors
    /// As [`CoCounts::count`].
    pub fn fit(train: OrdersView<'_>, similarity: Similarity, threads: usize) -> Result<Self> {
        let counts = CoCounts::count(train, threads)?;
        let n = train.n_items();
        Ok(CoOccurrence {
            counts,
            similarity,
            popular: popularity_list(train),
            sku_rank: train.log().sku_ranks(),
            score: vec![0.0; n],
            touched: Vec::new(),
            taken: Marks::new(n),
            by_similarity: ahash::AHashMap::new(),
            seen: Marks::new(n),
            best: Vec::new(),
            lists: Vec::new(),
            rows_ns: f64::NAN,
            threshold_ns: f64::NAN,
            long_cases: 0,
        })
    }

    /// The k best of a cart with `work` row entries, by whichever of the
    /// two ways has been cheaper on this log and similarity. Whether the
    /// threshold algorithm stops early depends on both (on retail_fimi it
    /// paid for conditional probability and not for Jaccard, on a larger
    /// synthetic log 5-10x for both), and a model of the two costs
    /// mispredicted which, so both are timed (per row entry, a recent
    /// average) and the faster is taken, the other once per
    /// [`EXPLORE_EVERY`] long cases. Only the time taken depends on the
    /// clock: both ways give the same list.
    fn rank_adaptively(&mut self, cart: &[u32], k: usize, work: usize, out: &mut Vec<u32>) {
        let case = self.long_cases;
        self.long_cases += 1;
        let faster = if self.threshold_ns.is_nan() || self.rows_ns.is_nan() {
            // The first two long cases measure one way each.
            case == 0
        } else {
            self.threshold_ns <= self.rows_ns
        };
        let threshold = faster != (case % EXPLORE_EVERY == EXPLORE_EVERY - 1);
        let start = Instant::now();
        let done = threshold
            && self
                .rank_by_threshold(cart, k, work * THRESHOLD_STEPS_PER_ENTRY, out)
                .0;
        if !done {
            self.rank_by_rows(cart, k, out);
        }
        let per_entry = start.elapsed().as_nanos() as f64 / work as f64;
        let recent = if threshold {
            &mut self.threshold_ns
        } else {
            &mut self.rows_ns
        };
        *recent = if recent.is_nan() {
            per_entry
        } else {
            *recent + (per_entry - *recent) / 8.0
        };
    }

    /// The k best by summing every cart item's whole row: appended to
    /// `out` and marked taken.
    fn rank_by_rows(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        let cc = &self.counts;
        for &i in cart {
            let Some(&ci) = cc.item_counts().get(i as usize) else {
                continue;
            };
            if ci == 0 {
                continue;
            }
            let (targets, counts) = cc.neighbours(i);
            for (&j, &cij) in targets.iter().zip(counts) {
                let s = &mut self.score[j as usize];
                if *s == 0.0 {
                    self.touched.push(j);
                }
                *s += self.similarity.of(cij, ci, cc.count_of(j));
            }
        }
        let score = &self.score;
        let rank = &self.sku_rank;
        let taken = &self.taken;
        self.touched
            .retain(|&j| !taken.contains(j) && score[j as usize] > 0.0);
        // (score desc, SKU asc) is a total order, so selecting the k best
        // first and sorting only them gives the same list as a full sort.
        let cmp = |a: &u32, b: &u32| {
            score[*b as usize]
                .total_cmp(&score[*a as usize])
                .then(rank[*a as usize].cmp(&rank[*b as usize]))
        };
        if self.touched.len() > k && k > 0 {
            self.touched.select_nth_unstable_by(k - 1, cmp);
            self.touched.truncate(k);
        }
        self.touched.sort_unstable_by(cmp);
        for &j in self.touched.iter().take(k) {
            out.push(j);
            self.taken.insert(j);
        }
        // Reset every touched score, including those filtered out above.
        for &i in cart {
            if let Some(&ci) = cc.item_counts().get(i as usize) {
                if ci > 0 {
                    for &j in cc.neighbours(i).0 {
                        self.score[j as usize] = 0.0;
                    }
                }
            }
        }
        self.touched.clear();
    }

    /// The k best by the threshold algorithm (see the type's docs), or
    /// false, with nothing written, once its binary-search steps exceed
    /// `budget` before it may stop; and the steps spent. On success they
    /// are appended to `out` and marked taken.
    fn rank_by_threshold(
        &mut self,
        cart: &[u32],
        k: usize,
        budget: usize,
        out: &mut Vec<u32>,
    ) -> (bool, usize) {
        let CoOccurrence {
            counts: cc,
            similarity,
            sku_rank: rank,
            taken,
            by_similarity,
            seen,
            best,
            lists,
            ..
        } = self;
        let sim = |cij: u32, ci: u32, j: u32| similarity.of(cij, ci, cc.count_of(j));
        lists.clear();
        // Steps of one item's binary searches in every row.
        let mut steps = 0usize;
        for &i in cart {
            let ci = cc.item_counts().get(i as usize).copied().unwrap_or(0);
            if ci == 0 {
                continue;
            }
            lists.push((i, ci, 0));
            let targets = cc.neighbours(i).0;
            steps += (usize::BITS - targets.len().leading_zeros()) as usize;
            by_similarity
                .entry(i)
                .or_insert_with(|| ((0..targets.len() as u32).collect(), 0));
        }
        let better = |a: &(f64, u32, u32), b: &(f64, u32, u32)| {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).is_lt()
        };
        seen.clear();
        best.clear();
        let mut spent = 0usize;
        loop {
            let mut exhausted = true;
            for (i, ci, at) in lists.iter_mut() {
                let (targets, counts) = cc.neighbours(*i);
                let row = by_similarity.entry(*i).or_default();
                // This step's entries and the next one, read for the bound.
                sorted_up_to(row, *at + THRESHOLD_STEP + 1, |p| {
                    sim(counts[p as usize], *ci, targets[p as usize])
                });
                let order = &row.0;
                let end = (*at + THRESHOLD_STEP).min(order.len());
                for &p in &order[*at..end] {
                    let j = targets[p as usize];
                    if !seen.insert(j) || taken.contains(j) {
                        continue;
                    }
                    // j's full score, summed in cart order as the rows
                    // are: an item whose row lacks j adds nothing.
                    let mut s = 0.0f64;
                    for &q in cart {
                        let cq = cc.item_counts().get(q as usize).copied().unwrap_or(0);
                        if cq == 0 {
                            continue;
                        }
                        let (tq, nq) = cc.neighbours(q);
                        if let Ok(x) = tq.binary_search(&j) {
                            s += sim(nq[x], cq, j);
                        }
                    }
                    spent += steps;
                    let entry = (s, rank[j as usize], j);
                    if s > 0.0 && (best.len() < k || better(&entry, &best[best.len() - 1])) {
                        let at = best.partition_point(|b| better(b, &entry));
                        best.insert(at, entry);
                        best.truncate(k);
                    }
                }
                *at = end;
                exhausted &= end == order.len();
            }
            if exhausted {
                break;
            }
            // An item not met yet has, in each row, at most the similarity
            // at the row's read position (or none); summed in cart order,
            // as its score is, those bounds bound its score, since rounding
            // is monotone.
            let mut bound = 0.0f64;
            for &(i, ci, at) in lists.iter() {
                if let Some(&p) = by_similarity[&i].0.get(at) {
                    let (targets, counts) = cc.neighbours(i);
                    bound += sim(counts[p as usize], ci, targets[p as usize]);
                }
            }
            // Strictly above: an item scoring the bound could still win its
            // tie by SKU.
            if best.len() == k && best[k - 1].0 > bound {
                break;
            }
            if spent > budget {
                return (false, spent);
            }
        }
        for &(_, _, j) in best.iter() {
            out.push(j);
            taken.insert(j);
        }
        (true, spent)
    }
}

/// Smallest share of a row put in order at a time: selecting it costs a
/// pass over the rest of the row, sorting it `c log c`.
const SORT_CHUNK: usize = 64;

/// Extends the sorted prefix of `row` (see `CoOccurrence::by_similarity`)
/// to at least `upto` entries (or the whole row), `sim` giving an entry's
/// similarity from its position. A chunk at a time, each twice the last
/// (at least [`SORT_CHUNK`]), selected from the unsorted rest and sorted:
/// where the threshold algorithm stops after a few entries, which is when
/// it pays, a row costs about one pass instead of a full sort.
fn sorted_up_to(row: &mut (Box<[u32]>, usize), upto: usize, sim: impl Fn(u32) -> f64) {
    let (order, sorted) = row;
    let cmp = |a: &u32, b: &u32| sim(*b).total_cmp(&sim(*a)).then(a.cmp(b));
    while *sorted < upto.min(order.len()) {
        let rest = &mut order[*sorted..];
        let chunk = (*sorted).max(SORT_CHUNK).min(rest.len());
        if chunk < rest.len() {
            rest.select_nth_unstable_by(chunk - 1, cmp);
        }
        rest[..chunk].sort_unstable_by(cmp);
        *sorted += chunk;
    }
}

impl Ranker for CoOccurrence {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        self.taken.clear();
        for &c in cart {
            self.taken.insert(c);
        }
        let cc = &self.counts;
        let work: usize = cart
            .iter()
            .filter(|&&i| cc.item_counts().get(i as usize).is_some_and(|&c| c > 0))
            .map(|&i| cc.neighbours(i).0.len())
            .sum();
        if k == 0 || work < THRESHOLD_MIN_WORK {
            self.rank_by_rows(cart, k, out);
        } else {
            self.rank_adaptively(cart, k, work, out);
        }
        fill_from(&self.popular, &mut self.taken, k, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_integer_four_fifths() {
        assert_eq!(split_point(0), 0);
        assert_eq!(split_point(1), 0);
        assert_eq!(split_point(4), 3);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(9), 7);
        assert_eq!(split_point(10), 8);
        assert_eq!(split_point(9835), 7868);
    }

    /// TRAIN: 8 orders; TEST: 2 orders (10 orders in all).
    fn fixture() -> OrderLog {
        let orders: [&[&str]; 10] = [
            &["a", "b"],
            &["a", "b", "c"],
            &["a", "c"],
            &["b", "d"],
            &["a", "b"],
            &["c", "d"],
            &["a"],
            &["e", "a"],
            // TEST
            &["a", "b", "x"], // x unseen in TRAIN
            &["d"],           // one item: no case
        ];
        let rows: Vec<(String, &str)> = orders
            .iter()
            .enumerate()
            .flat_map(|(o, skus)| skus.iter().map(move |s| (o.to_string(), *s)))
            .collect();
        OrderLog::from_rows(rows).unwrap()
    }

    #[test]
    fn cases_follow_the_protocol() {
        let log = fixture();
        let eval = Evaluation::new(&log, 2).unwrap();
        assert_eq!(eval.train().len(), 8);
        assert_eq!(eval.n_cases(), 3);
        assert_eq!(eval.n_train_items(), 5);
        let mut seen = Vec::new();
        eval.for_each_case(|cart, t| {
            seen.push((
                cart.iter()
                    .map(|&i| log.sku(i).to_owned())
                    .collect::<Vec<_>>(),
                log.sku(t).to_owned(),
            ))
        });
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            vec![
                (s(&["b", "x"]), "a".into()),
                (s(&["a", "x"]), "b".into()),
                (s(&["a", "b"]), "x".into())
            ]
        );
    }

    #[test]
    fn popularity_hr_mrr_by_hand() {
        // TRAIN counts: a 6, b 4, c 3, d 2, e 1. Lists (k = 2):
        //   cart [b, x] -> [a, c]: target a at rank 1
        //   cart [a, x] -> [b, c]: target b at rank 1
        //   cart [a, b] -> [c, d]: target x unseen, miss
        // HR = 2/3, MRR = (1 + 1 + 0) / 3; recommended {a, b, c, d} of 5.
        let log = fixture();
        let eval = Evaluation::new(&log, 2).unwrap();
        let r = eval.run("popularity", |t| Ok(Popularity::fit(t))).unwrap();
        assert_eq!(r.hits, 2);
        assert_eq!(r.hr, 2.0 / 3.0);
        assert_eq!(r.mrr, 2.0 / 3.0);
        assert_eq!(r.coverage, 4.0 / 5.0);
        assert_eq!(r.violations, 0);
    }

    #[test]
    fn conditional_hr_mrr_by_hand() {
        // c(a)=6 c(b)=4 c(c)=3 c(d)=2 c(e)=1; c(a,b)=3 c(a,c)=2 c(a,e)=1
        // c(b,c)=1 c(b,d)=1 c(c,d)=1.
        // cart [b, x]: cond(b, j) = c(b,j)/4: a .75, c .25, d .25 -> [a, c] (c < d by SKU)
        // cart [a, x]: c(a,j)/6: b .5, c .333, e .167 -> [b, c]
        // cart [a, b]: c: 2/6 + 1/4, d: 1/4, e: 1/6 -> [c, d]; target x misses.
        let log = fixture();
        let eval = Evaluation::new(&log, 2).unwrap();
        let r = eval
            .run("cond", |t| CoOccurrence::fit(t, Similarity::Conditional, 2))
            .unwrap();
        assert_eq!((r.hits, r.mrr), (2, 2.0 / 3.0));
        // With k = 1 the same two hits at rank 1.
        let eval = Evaluation::new(&log, 1).unwrap();
        let r = eval
            .run("cond", |t| CoOccurrence::fit(t, Similarity::Conditional, 1))
            .unwrap();
        assert_eq!(r.hits, 2);
        assert_eq!(r.coverage, 3.0 / 5.0);
    }

    #[test]
    fn rank_two_scores_half() {
        let log = fixture();
        let eval = Evaluation::new(&log, 3).unwrap();
        let a = log.item("a").unwrap();
        let b = log.item("b").unwrap();
        let c = log.item("c").unwrap();
        // Always answers [c, a, b] minus the cart: a at rank 2 for cart [b, x],
        // b at rank 2 for cart [a, x].
        let r = eval.score(
            "fixed",
            0.0,
            &mut |cart: &[u32], _k: usize, out: &mut Vec<u32>| {
                out.extend([c, a, b].into_iter().filter(|i| !cart.contains(i)))
            },
        );
        assert_eq!(r.hits, 2);
        assert_eq!(r.mrr, (0.5 + 0.5) / 3.0);
        assert_eq!(r.violations, 0);
    }

    #[test]
    fn violations_are_counted_not_fatal() {
        let log = fixture();
        let eval = Evaluation::new(&log, 2).unwrap();
        let r = eval.score(
            "bad",
            0.0,
            &mut |cart: &[u32], _k: usize, out: &mut Vec<u32>| {
                out.extend_from_slice(cart); // cart items: forbidden
                out.push(u32::MAX); // unknown id
            },
        );
        assert_eq!(r.violations, 3);
        assert_eq!(r.hits, 0);
    }

    /// An order log from `orders` (lists of item numbers), SKUs "i<n>".
    fn log_of<T: std::fmt::Display>(orders: &[Vec<T>]) -> OrderLog {
        let rows: Vec<(String, String)> = orders
            .iter()
            .enumerate()
            .flat_map(|(o, items)| items.iter().map(move |i| (o.to_string(), format!("i{i}"))))
            .collect();
        OrderLog::from_rows(rows).unwrap()
    }

    /// What `CoOccurrence::rank` answers when it sums whole rows.
    fn by_rows(r: &mut CoOccurrence, cart: &[u32], k: usize) -> Vec<u32> {
        let mut out = Vec::new();
        r.taken.clear();
        for &c in cart {
            r.taken.insert(c);
        }
        r.rank_by_rows(cart, k, &mut out);
        fill_from(&r.popular, &mut r.taken, k, &mut out);
        out
    }

    const SIMILARITIES: [Similarity; 3] = [
        Similarity::Jaccard,
        Similarity::Lift,
        Similarity::Conditional,
    ];

    proptest::proptest! {
        /// The threshold algorithm, given budget enough to finish, picks
        /// the same k best as summing rows, in the same order: ties by SKU
        /// and sums in cart order included (few items and orders make for
        /// many equal scores). Carts may repeat items or hold unknown ids.
        #[test]
        fn threshold_algorithm_equals_summing_rows(
            orders in proptest::collection::vec(proptest::collection::vec(0u8..12, 1..7), 1..40),
            carts in proptest::collection::vec(proptest::collection::vec(0u32..14, 0..6), 1..8),
            k in 1usize..7,
            sim in 0usize..3,
        ) {
            let log = log_of(&orders);
            let train = log.view();
            let mut r = CoOccurrence::fit(train, SIMILARITIES[sim], 1).unwrap();
            for cart in &carts {
                let want = by_rows(&mut r, cart, k);
                r.taken.clear();
                for &c in cart {
                    r.taken.insert(c);
                }
                let mut got = Vec::new();
                let (done, _) = r.rank_by_threshold(cart, k, usize::MAX, &mut got);
                proptest::prop_assert!(done);
                fill_from(&r.popular, &mut r.taken, k, &mut got);
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    proptest::proptest! {
        /// A row sorted a chunk at a time, to whatever lengths are asked
        /// for, has the prefix a full sort gives (similarity descending,
        /// ties by position), and every entry once.
        #[test]
        fn rows_sorted_in_chunks_match_a_full_sort(
            sims in proptest::collection::vec(0u8..6, 0..300),
            asks in proptest::collection::vec(0usize..320, 1..6),
        ) {
            let sim = |p: u32| f64::from(sims[p as usize]) / 4.0;
            let mut full: Vec<u32> = (0..sims.len() as u32).collect();
            full.sort_by(|a, b| sim(*b).total_cmp(&sim(*a)).then(a.cmp(b)));
            let mut row: (Box<[u32]>, usize) = ((0..sims.len() as u32).collect(), 0);
            for upto in asks {
                sorted_up_to(&mut row, upto, sim);
                proptest::prop_assert!(row.1 >= upto.min(sims.len()));
                proptest::prop_assert_eq!(&row.0[..row.1], &full[..row.1]);
                let mut all = row.0.to_vec();
                all.sort_unstable();
                proptest::prop_assert_eq!(all, (0..sims.len() as u32).collect::<Vec<_>>());
            }
        }
    }

    /// Out of budget, the threshold algorithm gives up having written
    /// nothing and taken nothing, and summing rows answers as usual.
    #[test]
    fn threshold_algorithm_gives_up_cleanly() {
        // Item 0 with every other item, the others in varied pairs: 0's
        // row is long and its similarities are spread.
        let mut orders: Vec<Vec<u32>> = (1..40).map(|i| vec![0, i]).collect();
        orders.extend((1..30).map(|i| vec![i, (i * 7) % 40, (i * 11) % 40]));
        let log = log_of(&orders);
        let mut r = CoOccurrence::fit(log.view(), Similarity::Jaccard, 1).unwrap();
        let cart = [log.item("i0").unwrap(), log.item("i1").unwrap()];
        // 20 best of about 40: the first round's 16 reads cannot settle it.
        r.taken.clear();
        let mut out = Vec::new();
        let (done, spent) = r.rank_by_threshold(&cart, 20, 0, &mut out);
        assert!(!done && spent > 0);
        assert!(out.is_empty());
        assert!((0..log.n_items() as u32).all(|i| !r.taken.contains(i)));
        let mut adaptive = Vec::new();
        r.rank(&cart, 20, &mut adaptive);
        assert_eq!(adaptive, by_rows(&mut r, &cart, 20));
        assert_eq!(adaptive.len(), 20);
    }

    /// On a log whose rows are long enough for the threshold algorithm to
    /// be tried, every such case's list is the one summing rows gives,
    /// whichever way the timing sends it.
    #[test]
    fn long_rows_rank_as_summed_rows() {
        // 1500 items, 4000 orders of 2-31 items from a fixed generator,
        // popularity skewed to low ids (a product of three uniform draws):
        // the best sellers' rows hold most of the catalog.
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        let orders: Vec<Vec<u32>> = (0..4000)
            .map(|_| {
                let m = 2 + next() % 30;
                (0..m)
                    .map(|_| {
                        let a = (next() % 1500) * (next() % 1500) / 1500;
                        a * (next() % 1500) / 1500
                    })
                    .collect()
            })
            .collect();
        let log = log_of(&orders);
        let eval = Evaluation::new(&log, 10).unwrap();
        for sim in SIMILARITIES {
            let mut fast = CoOccurrence::fit(eval.train(), sim, 1).unwrap();
            let mut slow = fast.clone();
            let mut long = 0;
            eval.for_each_case(|cart, _| {
                let work: usize = cart
                    .iter()
                    .map(|&i| slow.counts.neighbours(i).0.len())
                    .sum();
                if work < THRESHOLD_MIN_WORK {
                    return; // summed rows, the other way
                }
                let mut got = Vec::new();
                fast.rank(cart, 10, &mut got);
                assert_eq!(got, by_rows(&mut slow, cart, 10), "{sim:?} cart {cart:?}");
                long += 1;
            });
            assert!(long > 1000, "{long} long cases");
        }
    }

    #[test]
    fn invalid_k() {
        let log = fixture();
        assert!(matches!(
            Evaluation::new(&log, 0),
            Err(Error::InvalidLimit { limit: 0, .. })
        ));
        assert!(matches!(
            Evaluation::new(&log, 101),
            Err(Error::InvalidLimit { limit: 101, .. })
        ));
    }
}
