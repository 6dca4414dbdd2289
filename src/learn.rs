//! The learned cross-sell model: a sparse item -> item weight graph fitted
//! on order history, plus popularity for fill.
//!
//! # The model
//!
//! [`LearnedModel::fit`] learns, from a set of orders, a weight `w(i -> j)`
//! for pairs of items, keeps each item's strongest out-edges in a CSR
//! graph, and scores a cart by summing:
//!
//! ```text
//! score(j) = prior * pop(j) + sum over cart items i of w(i -> j)
//! ```
//!
//! over candidates `j` not in the cart; the top k are returned by
//! (score descending, then popularity descending, then total count
//! descending, then SKU ascending in byte order). Every item seen in
//! training is a candidate through its prior, so a cart with no known edges
//! gets the popularity list, and a short list is always filled.
//!
//! # How the weights are learned
//!
//! The weights are those of EASE (Steck, "Embarrassingly Shallow
//! Autoencoders for Sparse Data", WWW 2019), the strongest peer on the
//! shared datasets, computed in a way that scales. EASE's item-item matrix
//! with a zero diagonal is, column by column, a ridge regression of item
//! `j` on all other items: with `G = X^T X` the co-occurrence counts
//! (`G_ii = c(i)`, `G_ij = c(i, j)`),
//!
//! ```text
//! w(. -> j) = (G_NN + diag(Lambda_N))^-1 G_Nj,   Lambda_i = lambda + rho * c(i)
//! ```
//!
//! where `N` is the set of regressors. Two solvers:
//!
//! * **Dense** (small catalogs, at most [`LearnConfig::dense_max_items`]
//!   active items): `N` = all other items; one Cholesky inverse `P` of
//!   `G + Lambda` gives every column at once as `w(i -> j) = -P_ij / P_jj`.
//!   O(n^3) time, O(n^2) memory.
//! * **Local** (any size): `N` = the [`LearnConfig::neighbours`] items that
//!   co-occur most with `j` (at least [`LearnConfig::min_pair_count`]
//!   times), a K x K system per target, solved in parallel. O(n K^3) time,
//!   O(n K) memory for the edges (12 bytes per (target, regressor) weight
//!   before pruning, 8 bytes per kept edge), plus the sparse pair counts
//!   ([`CoCounts`], stored as `u16` where ids and counts fit) and a dense
//!   table of pair counts among the (at most [`HUB_ITEMS`]) most frequent
//!   items whose rows are too long to scan.
//!   No n x n matrix.
//!
//! # Scoring
//!
//! A cart's scores are summed from the CSR rows of its items, tracking the
//! touched items, or with a dense pass when its edges cover a good part of
//! the catalog. When the edge matrix is dense enough that a full
//! `n x n` matrix of `f32` costs at most twice the CSR (small catalogs with
//! most pairs linked), the model also keeps it, ordered by popularity rank,
//! and a cart adds whole rows (SIMD) and picks the k best in one pass.
//! All paths give the same list.
//!
//! Three choices depart from plain EASE, each measured on the shared
//! datasets (see EVALUATION.md at the repository root):
//!
//! * **Per-item penalty** `rho * c(i)` on top of a small absolute `lambda`:
//!   the closed form of EASE trained with input dropout (Steck, "Autoencoders
//!   that don't overfit towards the identity", NeurIPS 2020). It scales with
//!   the data, where EASE's fixed `lambda = 200` over-shrinks small logs and
//!   under-shrinks frequent items.
//! * **Negative weights are kept** (edges pruned by magnitude): EASE's
//!   negative weights demote items the cart already "explains"; dropping
//!   them cost about 1 point of HR@10 on the larger datasets.
//! * **A popularity prior from multi-item orders**: `pop(j)` = the share of
//!   training orders with at least two items that contain `j`. Only such
//!   orders can yield a "which item is missing from this cart" question, so
//!   their item distribution is the right prior. It also decides ties.
//!
//! The local solver also ignores pairs seen only once by default
//! (`min_pair_count = 2`): a single co-purchase is no evidence of a
//! complement, and on logs whose baskets carry little co-purchase signal
//! (completejourney_sample, sampled lines) such pairs otherwise push the
//! genuinely popular items out of the list.
//!
//! # Ids and remapping
//!
//! The model is keyed by the dense item ids of the [`OrderLog`] it was
//! fitted on, and carries that log's SKU table ([`LearnedModel::sku`]), so
//! it can be remapped onto a catalog's product ids in one pass over
//! [`LearnedModel::edges`].
//!
//! ```
//! use cartwise::learn::{LearnConfig, LearnedModel};
//! use cartwise::OrderLog;
//! let rows = [("1", "tent"), ("1", "stakes"), ("2", "tent"), ("2", "stakes"),
//!             ("3", "tent"), ("3", "lamp"), ("4", "stove"), ("4", "gas")];
//! let log = OrderLog::from_rows(rows)?;
//! let model = LearnedModel::fit(log.view(), &LearnConfig::default())?;
//! let mut scratch = model.scratch();
//! let mut out = Vec::new();
//! let tent = log.item("tent").unwrap();
//! model.recommend_into(&mut scratch, &[tent], 2, &mut out);
//! assert_eq!(model.sku(out[0]), "stakes");
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! [`OrderLog`]: crate::OrderLog

use crate::cooc::{default_threads, par_chunks, CoCounts, PairInt};
use crate::error::{Error, Result};
use crate::eval::Ranker;
use crate::orders::OrdersView;

/// How the regressors of a target are chosen by the local solver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NeighbourRank {
    /// By co-occurrence count `c(i, j)`, descending (ties by item id).
    #[default]
    Count,
    /// By `c(i, j) / sqrt(c(i))`, descending: favours items specific to the
    /// target over items frequent everywhere.
    CountOverSqrt,
}

/// Which solver computes the weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Solver {
    /// Dense when at most [`LearnConfig::dense_max_items`] items are active,
    /// local otherwise.
    #[default]
    Auto,
    /// Always the local, per-target solver.
    Local,
}

/// Which out-edges of an item are kept, up to [`LearnConfig::max_edges`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pruning {
    /// The largest by magnitude, negative weights included.
    #[default]
    Magnitude,
    /// The largest positive weights only.
    Positive,
}

/// Configuration of [`LearnedModel::fit`]. The defaults are the
/// configuration evaluated as `learned` in EVALUATION.md; they were chosen
/// once for all datasets.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LearnConfig {
    /// Absolute ridge penalty, added to every item's. Default 50. Must be
    /// finite and > 0 (it keeps every system positive definite).
    pub lambda: f64,
    /// Ridge penalty per order containing the item: `Lambda_i = lambda +
    /// rho * c(i)`. Default 0.1 (input dropout with probability 1/11). Finite,
    /// >= 0.
    pub rho: f64,
    /// Weight of the popularity prior, in units of "share of multi-item
    /// orders". Default 0.2. Finite, >= 0.
    pub prior: f64,
    /// Regressors per target for the local solver (K). Default 48; cost
    /// grows as K^3 per target. 1..=[`MAX_NEIGHBOURS`].
    pub neighbours: usize,
    /// Out-edges kept per item (M). Default 256; a cart costs
    /// O(cart size x M) to score. At least 1.
    pub max_edges: usize,
    /// Local solver: a regressor must co-occur with the target in at least
    /// this many orders. Default 2.
    pub min_pair_count: u32,
    /// [`Solver::Auto`] uses the dense solver up to this many active items.
    /// Default 1024 (about 10^9 flops). At most [`MAX_DENSE_ITEMS`].
    pub dense_max_items: usize,
    /// Solver choice. Default [`Solver::Auto`].
    pub solver: Solver,
    /// Regressor choice for the local solver. Default
    /// [`NeighbourRank::CountOverSqrt`].
    pub rank: NeighbourRank,
    /// Edge pruning. Default [`Pruning::Magnitude`].
    pub pruning: Pruning,
    /// Threads for fitting; 0 = the available parallelism (at most 8).
    /// Results do not depend on it.
    pub threads: usize,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            lambda: 50.0,
            rho: 0.1,
            prior: 0.2,
            neighbours: 48,
            max_edges: 256,
            min_pair_count: 2,
            dense_max_items: 1024,
            solver: Solver::Auto,
            rank: NeighbourRank::CountOverSqrt,
            pruning: Pruning::Magnitude,
            threads: 0,
        }
    }
}

/// The largest [`LearnConfig::neighbours`]: a 512 x 512 system per target.
pub const MAX_NEIGHBOURS: usize = 512;

/// The largest [`LearnConfig::dense_max_items`]: the dense solver holds
/// three n x n `f64` matrices, 400 MiB at 4096 items.
pub const MAX_DENSE_ITEMS: usize = 4096;

/// The most frequent items whose pair counts the local solver copies into a
/// dense table (the upper triangle of `HUB_ITEMS x HUB_ITEMS` bytes, 8 MiB
/// at most; counts of 255 or more are looked up exactly): a lookup between
/// two of them, the common case inside a neighbourhood, is then one load
/// instead of a binary search in a row of thousands. 4096 rather than 2048
/// (a `u16` square table of the same size) cut the local solver's time on
/// retail_fimi by about a fifth: fewer pairs fall back to searching rows.
pub const HUB_ITEMS: usize = 4096;

impl LearnConfig {
    fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, value: String, hint: &'static str| {
            Err(Error::InvalidConfig { field, value, hint })
        };
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return bad("lambda", self.lambda.to_string(), "must be finite and > 0");
        }
        if !(self.rho.is_finite() && self.rho >= 0.0) {
            return bad("rho", self.rho.to_string(), "must be finite and >= 0");
        }
        if !(self.prior.is_finite() && self.prior >= 0.0) {
            return bad("prior", self.prior.to_string(), "must be finite and >= 0");
        }
        if self.neighbours == 0 || self.neighbours > MAX_NEIGHBOURS {
            return bad(
                "neighbours",
                self.neighbours.to_string(),
                "must be between 1 and MAX_NEIGHBOURS (512)",
            );
        }
        if self.max_edges == 0 {
            return bad("max_edges", "0".into(), "must be at least 1");
        }
        if self.dense_max_items > MAX_DENSE_ITEMS {
            return bad(
                "dense_max_items",
                self.dense_max_items.to_string(),
                "must be at most MAX_DENSE_ITEMS (4096)",
            );
        }
        Ok(())
    }
}

/// A fitted model: out-edges per item (CSR), popularity and the SKU table.
///
/// Immutable once fitted; scoring takes `&self` and a caller-owned
/// [`Scratch`].
#[derive(Clone, Debug)]
pub struct LearnedModel {
    /// `offsets[i]..offsets[i + 1]` is item `i`'s row; `n_items + 1`
    /// entries.
    offsets: Vec<u32>,
    /// Edge targets, sorted by id within a row, never the row's item.
    targets: Vec<u32>,
    /// Finite, non-zero edge weights, parallel to `targets`.
    weights: Vec<f32>,
    /// `prior * pop(j)`, non-negative, indexed by item.
    prior: Vec<f32>,
    /// Rank of each item in `popular` (`u32::MAX` for unseen items).
    tie_rank: Vec<u32>,
    /// Items seen in training, by (multi-item-order count desc, order count
    /// desc, SKU asc).
    popular: Vec<u32>,
    /// SKU of each item id.
    skus: Vec<Box<str>>,
    /// The same edges as a row-major `n_items x popular.len()` matrix, row
    /// by source item id, column by target's rank in `popular` (0 where
    /// there is no edge), kept only when it costs at most twice the CSR
    /// form (see [`DENSE_ROWS_FILL`]); empty otherwise.
    dense: Vec<f32>,
    /// `prior` in `popular` order when `dense` is kept; empty otherwise.
    rank_prior: Vec<f32>,
}

/// The edges are also kept as dense rows when `n_items^2 <=
/// DENSE_ROWS_FILL x n_edges`, i.e. when a matrix of 4-byte cells costs at
/// most twice the CSR's 8 bytes per edge. On such catalogs (small, with
/// most pairs linked: synthetic_t10i4d100k keeps 29% of its 870 x 870
/// pairs) a cart is scored by adding whole rows, which the compiler turns
/// into SIMD adds, instead of one scattered add per edge. Bounded by
/// `4 x max_edges` items, since `n_edges <= n_items x max_edges`.
const DENSE_ROWS_FILL: usize = 4;

impl LearnedModel {
    /// Fits the model on `train` (usually the training part of a split, or
    /// a whole [`OrderLog`](crate::OrderLog) via `log.view()`).
    ///
    /// Runs in O(sum of m^2 over orders) for the counts plus O(n^3) (dense)
    /// or O(n K^3) (local) for the weights, on [`LearnConfig::threads`]
    /// threads. Deterministic: the same orders and configuration give the
    /// same model whatever the thread count.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a setting out of its documented range;
    /// [`Error::CapExceeded`] as [`CoCounts::count`].
    pub fn fit(train: OrdersView<'_>, config: &LearnConfig) -> Result<LearnedModel> {
        config.validate()?;
        let threads = if config.threads == 0 {
            default_threads()
        } else {
            config.threads
        };
        // Ids and counts as `u16` where they fit: half the bytes per stored
        // pair, so half the fresh pages counting faults in (777 of them on
        // online_retail_fr_de with `u32`, at 1.4-2.9 µs each on the cloud
        // guests measured); the same counts, so the same model.
        match CoCounts::count_compact(train, threads)? {
            Some(cc) => Self::fit_counts(train, config, threads, &cc),
            None => Self::fit_counts(train, config, threads, &CoCounts::count(train, threads)?),
        }
    }

    /// The rest of [`fit`](Self::fit), from the training orders' counts.
    fn fit_counts<T: PairInt, C: PairInt>(
        train: OrdersView<'_>,
        config: &LearnConfig,
        threads: usize,
        cc: &CoCounts<T, C>,
    ) -> Result<LearnedModel> {
        let n = cc.n_items();
        let penalty: Vec<f64> = cc
            .item_counts()
            .iter()
            .map(|&c| {
                let c = f64::from(c);
                config.lambda + config.rho * c
            })
            .collect();
        let active: Vec<u32> = (0..n as u32).filter(|&i| cc.count_of(i) > 0).collect();
        let dense = config.solver == Solver::Auto && active.len() <= config.dense_max_items;
        let triples = if dense {
            vec![dense_edges(cc, &active, &penalty, config.pruning)]
        } else {
            local_edges(cc, &penalty, config, threads)
        };
        let (offsets, targets, weights) = to_csr(n, triples, config.max_edges, config.pruning)?;

        // Popularity among the orders a missing-item question can come
        // from: those with at least two items.
        let mut multi = vec![0u32; n];
        let mut n_multi = 0usize;
        for order in train.iter().filter(|o| o.len() >= 2) {
            n_multi += 1;
            for &i in order {
                multi[i as usize] += 1;
            }
        }
        // SKUs (distinct, so the order is total) are compared only to
        // break a tie of both counts, rather than ranking every SKU of the
        // log first (`sku_ranks` sorts them all): the same order.
        let log = train.log();
        let all = cc.item_counts();
        let mut popular = active;
        popular.sort_unstable_by(|&a, &b| {
            let (ua, ub) = (a as usize, b as usize);
            multi[ub]
                .cmp(&multi[ua])
                .then(all[ub].cmp(&all[ua]))
                .then_with(|| log.sku(a).as_bytes().cmp(log.sku(b).as_bytes()))
        });
        let mut tie_rank = vec![u32::MAX; n];
        for (r, &i) in popular.iter().enumerate() {
            tie_rank[i as usize] = r as u32;
        }
        let scale = config.prior / n_multi.max(1) as f64;
        let prior: Vec<f32> = multi
            .iter()
            .map(|&c| (scale * f64::from(c)) as f32)
            .collect();
        let skus = train.log().skus().map(Box::from).collect();
        let (mut dense, mut rank_prior) = (Vec::new(), Vec::new());
        let m = popular.len();
        if n.saturating_mul(m) <= DENSE_ROWS_FILL.saturating_mul(targets.len()) {
            dense = vec![0.0f32; n * m];
            for i in 0..n {
                let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
                let row = &mut dense[i * m..(i + 1) * m];
                for (&j, &w) in targets[a..b].iter().zip(&weights[a..b]) {
                    // Edges only lead to items seen in training, which
                    // all have a rank.
                    if let Some(x) = row.get_mut(tie_rank[j as usize] as usize) {
                        *x = w;
                    }
                }
            }
            rank_prior = popular.iter().map(|&j| prior[j as usize]).collect();
        }
        Ok(LearnedModel {
            offsets,
            targets,
            weights,
            prior,
            tie_rank,
            popular,
            skus,
            dense,
            rank_prior,
        })
    }

    /// The number of items (ids `0..n_items()`, those of the fitted log).
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// The number of edges kept.
    pub fn n_edges(&self) -> usize {
        self.targets.len()
    }

    /// The out-edges of item `i`: targets (sorted by id) and weights.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn edges(&self, i: u32) -> (&[u32], &[f32]) {
        let (a, b) = (
            self.offsets[i as usize] as usize,
            self.offsets[i as usize + 1] as usize,
        );
        (&self.targets[a..b], &self.weights[a..b])
    }

    /// Every edge as `(from, to, weight)`, by source then target id: the
    /// form to remap onto catalog ids in one pass (look each item's SKU up
    /// with [`sku`](Self::sku)).
    pub fn triples(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        (0..self.n_items() as u32).flat_map(move |i| {
            let (t, w) = self.edges(i);
            t.iter().zip(w).map(move |(&j, &wj)| (i, j, wj))
        })
    }

    /// The SKU of an item.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn sku(&self, i: u32) -> &str {
        &self.skus[i as usize]
    }

    /// The prior score of item `i` (`prior * pop(i)`), 0 for unseen items.
    ///
    /// # Panics
    /// Panics if `i >= n_items()`.
    pub fn prior(&self, i: u32) -> f32 {
        self.prior[i as usize]
    }

    /// Items seen in training, most popular first (the tie and fill order).
    pub fn popular(&self) -> &[u32] {
        &self.popular
    }

    /// Fresh scratch space for [`recommend_into`](Self::recommend_into).
    pub fn scratch(&self) -> Scratch {
        let n = self.n_items();
        Scratch {
            score: vec![0.0; n],
            seen: vec![0; n],
            cart: vec![0; n],
            now: 0,
            touched: Vec::new(),
            cands: Vec::new(),
            block_max: Vec::new(),
            block_sel: Vec::new(),
        }
    }

    /// Writes the top `k` for `cart` into `out` (appending): at most `k`
    /// distinct items seen in training, none in the cart, best first.
    ///
    /// Cart items unknown to the model (ids `>= n_items()` or unseen in
    /// training) are ignored. Costs O(cart size x max_edges + k log k)
    /// (O(cart size x n_items) SIMD adds when dense rows are kept) and
    /// allocates nothing once `scratch` has warmed up; `scratch` must come
    /// from this model ([`scratch`](Self::scratch)).
    pub fn recommend_into(&self, s: &mut Scratch, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        if k == 0 {
            return;
        }
        debug_assert_eq!(s.seen.len(), self.n_items(), "scratch from another model");
        let n = self.n_items();
        let edges = self.cart_edges(cart);
        let rows = !self.dense.is_empty();
        if rows || edges * DENSE_SCORING_RATIO >= n {
            // Compiled for AVX2 where the processor has it (the crate's
            // baseline is SSE2), so the row additions, block maxima and
            // comparisons use 8-wide vectors. Elementwise additions in the
            // same order: the same sums.
            pulp::Arch::new().dispatch(DensePass {
                model: self,
                s,
                cart,
                k,
                rows,
                out,
            });
        } else {
            self.recommend_sparse(s, cart, k, edges, out);
        }
    }

    /// The number of edges out of the cart's known items.
    fn cart_edges(&self, cart: &[u32]) -> usize {
        let n = self.n_items();
        cart.iter()
            .filter(|&&i| (i as usize) < n)
            .map(|&i| (self.offsets[i as usize + 1] - self.offsets[i as usize]) as usize)
            .sum()
    }

    /// The sparse path of [`recommend_into`](Self::recommend_into): scores
    /// only the items the cart's edges touch, plus the k most popular
    /// untouched ones.
    ///
    /// `edges` is [`cart_edges`](Self::cart_edges), which sizes the touched
    /// list. Whether an edge's target is new to this cart is as good as
    /// random, so the touched list is written for every edge and advanced
    /// only for a new item, without a branch; and the k best are kept in a buffer of
    /// up to 2k cut back when it fills, so most candidates cost one
    /// comparison with the k-th best so far instead of a place in a
    /// selection over all of them (retail_fimi: about a thousand touched
    /// items per cart).
    fn recommend_sparse(
        &self,
        s: &mut Scratch,
        cart: &[u32],
        k: usize,
        edges: usize,
        out: &mut Vec<u32>,
    ) {
        let n = self.n_items();
        let tag = s.next_tag();
        for &c in cart {
            if let Some(m) = s.cart.get_mut(c as usize) {
                *m = tag;
            }
        }
        if s.touched.len() < edges {
            s.touched.resize(edges, 0);
        }
        let mut len = 0;
        for &i in cart {
            if (i as usize) >= n {
                continue;
            }
            let (t, w) = self.edges(i);
            len = accumulate(
                &mut s.seen,
                &mut s.score,
                &mut s.touched[len..],
                &self.prior,
                tag,
                t,
                w,
            ) + len;
        }
        // Cart items never enter: -inf is below every floor.
        for &c in cart {
            if let Some(x) = s.score.get_mut(c as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        s.cands.clear();
        let mut floor = Cand {
            score: f32::NEG_INFINITY,
            rank: u32::MAX,
            item: u32::MAX,
        };
        for &j in &s.touched[..len] {
            let score = s.score[j as usize];
            if score < floor.score || score == f32::NEG_INFINITY {
                continue;
            }
            let c = Cand {
                score,
                rank: self.tie_rank[j as usize],
                item: j,
            };
            offer(&mut s.cands, &mut floor, c, k);
        }
        // Untouched items score their prior alone, which never increases
        // along `popular`: the first k of them not in the cart are the only
        // ones that can make the list.
        let mut added = 0;
        for &j in &self.popular {
            if added == k {
                break;
            }
            if s.seen[j as usize] != tag && s.cart[j as usize] != tag {
                added += 1;
                let c = Cand {
                    score: self.prior[j as usize],
                    rank: self.tie_rank[j as usize],
                    item: j,
                };
                offer(&mut s.cands, &mut floor, c, k);
            }
        }
        if s.cands.len() > k {
            s.cands.select_nth_unstable_by(k - 1, Cand::cmp);
            s.cands.truncate(k);
        }
        s.cands.sort_unstable_by(Cand::cmp);
        out.extend(s.cands.iter().map(|c| c.item));
    }
}

/// Offers `c` to the sparse path's buffer of at most 2k candidates: it
/// enters when it beats `floor`, the k-th best once the buffer has been cut
/// back; a full buffer is cut back to its k best.
#[inline(always)]
fn offer(cands: &mut Vec<Cand>, floor: &mut Cand, c: Cand, k: usize) {
    if Cand::cmp(&c, floor).is_lt() {
        cands.push(c);
        if cands.len() == 2 * k {
            cands.select_nth_unstable_by(k - 1, Cand::cmp);
            cands.truncate(k);
            *floor = cands[k - 1];
        }
    }
}

/// Adds the edges `(t, w)` to the scores of the sparse path, writing the
/// targets new to this cart (their `seen` not yet `tag`) to the front of
/// `touched`; returns how many were new. A target's first edge starts its
/// sum at its prior, so the sums are `prior + w1 + w2 + ...` in edge order.
///
/// The slices come as arguments, not through the scratch, so that the
/// compiler knows a score written does not move the arrays: it reloaded
/// each array's address per edge (retail_fimi, scoring ×0.86 with this).
/// Keeping each item's tag and sum side by side in 8 bytes measured the
/// same (×0.95 and ×1.08 in two runs) and costs 4 more bytes per item.
#[inline(always)]
fn accumulate(
    seen: &mut [u32],
    score: &mut [f32],
    touched: &mut [u32],
    prior: &[f32],
    tag: u32,
    t: &[u32],
    w: &[f32],
) -> usize {
    let mut len = 0;
    for (&j, &wj) in t.iter().zip(w) {
        let ju = j as usize;
        let new = seen[ju] != tag;
        let base = if new { prior[ju] } else { score[ju] };
        score[ju] = base + wj;
        seen[ju] = tag;
        touched[len] = j;
        len += usize::from(new);
    }
    len
}

impl LearnedModel {
    /// The dense path of [`recommend_into`](Self::recommend_into), for
    /// carts whose edges touch a good part of the catalog: every score
    /// starts at its prior, edges are added without bookkeeping, and one
    /// sequential pass over the scores keeps the k best
    /// ([`top_k_scan`](Self::top_k_scan), in id order). Same scores (same
    /// additions in the same order) and same tie rule as the sparse path,
    /// so the same list.
    ///
    /// The pass used to walk the items in popularity order, reading each
    /// one's cart marker and score at scattered places (online_retail_fr_de,
    /// 2k items and 20-item carts: scoring x0.60 without that walk).
    #[inline(always)]
    fn recommend_dense(&self, s: &mut Scratch, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        let n = self.n_items();
        let score = &mut s.score[..n];
        score.copy_from_slice(&self.prior);
        for &i in cart {
            if (i as usize) < n {
                let (t, w) = self.edges(i);
                for (&j, &wj) in t.iter().zip(w) {
                    score[j as usize] += wj;
                }
            }
        }
        for &i in cart {
            if let Some(x) = score.get_mut(i as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        let tie_rank = &self.tie_rank;
        self.top_k_scan(s, n, k, |p| tie_rank[p], |p| p as u32, out);
    }
}

impl LearnedModel {
    /// The path of [`recommend_into`](Self::recommend_into) for models
    /// keeping dense rows: scores are indexed by popularity rank, start at
    /// the prior, and each cart item adds its whole row (SIMD adds; adding
    /// 0 where there is no edge leaves a score unchanged, since scores
    /// start at a prior >= +0 and weights are non-zero, so these are the
    /// sparse path's sums); then [`top_k_scan`](Self::top_k_scan) in rank
    /// order.
    #[inline(always)]
    fn recommend_dense_rows(&self, s: &mut Scratch, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        let (n, m) = (self.n_items(), self.popular.len());
        let score = &mut s.score[..m];
        // Column block by column block, each block's sums kept in
        // registers while every cart row is added to them: the same
        // additions in the same order per score as row after row, without
        // loading and storing every score once per row.
        const W: usize = SCAN_BLOCK;
        let mut blocks = score.chunks_exact_mut(W);
        for (b, block) in blocks.by_ref().enumerate() {
            let mut acc = [0.0f32; W];
            acc.copy_from_slice(&self.rank_prior[b * W..(b + 1) * W]);
            for &i in cart {
                let i = i as usize;
                if i < n {
                    let at = i * m + b * W;
                    for (x, &w) in acc.iter_mut().zip(&self.dense[at..at + W]) {
                        *x += w;
                    }
                }
            }
            block.copy_from_slice(&acc);
        }
        let tail = blocks.into_remainder();
        let done = m - tail.len();
        tail.copy_from_slice(&self.rank_prior[done..]);
        for &i in cart {
            let i = i as usize;
            if i < n {
                for (x, &w) in tail.iter_mut().zip(&self.dense[i * m + done..(i + 1) * m]) {
                    *x += w;
                }
            }
        }
        for &i in cart {
            if let Some(x) = self
                .tie_rank
                .get(i as usize)
                .and_then(|&r| score.get_mut(r as usize))
            {
                *x = f32::NEG_INFINITY;
            }
        }
        let popular = &self.popular;
        self.top_k_scan(s, m, k, |p| p as u32, |p| popular[p], out);
    }

    /// The k best of `s.score[..len]` for both dense paths, into `out`:
    /// position `p` holds the score of item `item_of(p)`, whose tie rank is
    /// `rank_of(p)` (`u32::MAX`: not seen in training, never listed); cart
    /// items hold -inf. One sequential pass keeps the k best so far.
    #[inline(always)]
    fn top_k_scan(
        &self,
        s: &mut Scratch,
        len: usize,
        k: usize,
        rank_of: impl Fn(usize) -> u32,
        item_of: impl Fn(usize) -> u32,
        out: &mut Vec<u32>,
    ) {
        let Scratch {
            score,
            cands,
            block_max: maxima,
            block_sel,
            ..
        } = s;
        let score = &score[..len];
        // The k best block maxima are k distinct items, so the k-th best
        // score is at least the k-th best block maximum: nothing below it
        // can win, and whole blocks below it are skipped. Only when that
        // maximum is above 0: an item unseen in training scores exactly 0
        // (no prior, no edge leads to it) and is never listed, so a bound
        // of 0 or less may come from such items and cut listable ones
        // (cart items are -inf, never a block's maximum unless the whole
        // block is the cart's).
        maxima.clear();
        for block in score.chunks(SCAN_BLOCK) {
            maxima.push(block_max(block));
        }
        let mut at_least = f32::NEG_INFINITY;
        if maxima.len() >= k {
            block_sel.clear();
            block_sel.extend_from_slice(maxima);
            let (_, kth, _) = block_sel.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            if *kth > 0.0 {
                at_least = *kth;
            }
        }
        // `cands` holds the k best so far, sorted; `floor` is the k-th
        // once k are held. A score below the floor never enters, one above
        // it always does, and one equal to it only with a better tie rank
        // (in rank order, never: ranks ascend along the pass). A block
        // whose maximum is below the floor is skipped. -inf (cart items)
        // never enters. For the k of a shop's list, an insertion into k
        // sorted entries costs less than cutting a 2k buffer back with a
        // selection (market_basket_optimisation: those selections were a
        // third of a call; ×0.8 per cart there and on groceries).
        cands.clear();
        let mut floor = Cand {
            score: f32::NEG_INFINITY,
            rank: u32::MAX,
            item: u32::MAX,
        };
        for (b, block) in score.chunks(SCAN_BLOCK).enumerate() {
            let top = maxima[b];
            if top < at_least || top < floor.score {
                continue;
            }
            // The positions that may enter, as bits: one vector comparison
            // per eight scores instead of a branch per score, which
            // mispredicted wherever candidates and losers alternate.
            let bar = if floor.score > at_least {
                floor.score
            } else {
                at_least
            };
            let mut hits = 0u32;
            for (l, &sc) in block.iter().enumerate() {
                hits |= u32::from(sc >= bar && sc > f32::NEG_INFINITY) << l;
            }
            while hits != 0 {
                let l = hits.trailing_zeros() as usize;
                hits &= hits - 1;
                let (p, sc) = (b * SCAN_BLOCK + l, block[l]);
                if sc < floor.score {
                    continue;
                }
                let c = Cand {
                    score: sc,
                    rank: rank_of(p),
                    item: item_of(p),
                };
                if c.rank == u32::MAX || !Cand::cmp(&c, &floor).is_lt() {
                    continue;
                }
                if cands.len() == k {
                    cands.pop();
                }
                let at = cands.partition_point(|x| Cand::cmp(x, &c).is_lt());
                cands.insert(at, c);
                if cands.len() == k {
                    floor = cands[k - 1];
                }
            }
        }
        out.extend(s.cands.iter().map(|c| c.item));
    }
}

/// The two dense paths of [`LearnedModel::recommend_into`] as a
/// [`pulp::WithSimd`], so that [`pulp::Arch::dispatch`] compiles them for
/// the best instruction set the processor has.
struct DensePass<'a> {
    model: &'a LearnedModel,
    s: &'a mut Scratch,
    cart: &'a [u32],
    k: usize,
    /// Whole rows (`recommend_dense_rows`), or edges (`recommend_dense`).
    rows: bool,
    out: &'a mut Vec<u32>,
}

impl pulp::WithSimd for DensePass<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let DensePass {
            model,
            s,
            cart,
            k,
            rows,
            out,
        } = self;
        if rows {
            model.recommend_dense_rows(s, cart, k, out);
        } else {
            model.recommend_dense(s, cart, k, out);
        }
    }
}

/// Scores per block in the dense paths' top-k pass: one SIMD maximum decides
/// whether the block can hold a winner. A few vector widths; not tuned.
const SCAN_BLOCK: usize = 32;
// The dense pass marks a block's candidates in the bits of a `u32`.
const _: () = assert!(SCAN_BLOCK <= 32);

/// The largest of `xs` (-inf if empty), in eight independent lanes so that
/// it compiles to SIMD maxima (a single running maximum is a dependency
/// chain). Scores are never NaN.
#[inline(always)]
fn block_max(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = if x > *l { x } else { *l };
        }
    }
    // Halving the lanes: three dependent maxima instead of eight.
    let max = |a: f32, b: f32| if a > b { a } else { b };
    let mut width = 4;
    while width > 0 {
        for l in 0..width {
            lanes[l] = max(lanes[l], lanes[l + width]);
        }
        width /= 2;
    }
    rest.iter().fold(lanes[0], |m, &x| max(m, x))
}

/// The dense scoring path is used when the cart's edges number at least
/// `n_items / DENSE_SCORING_RATIO`: resetting and scanning n scores then
/// costs less than tracking touched items edge by edge. Chosen by estimate
/// (a scan step is a few times cheaper than a tracked edge), not tuned.
const DENSE_SCORING_RATIO: usize = 4;

#[derive(Clone, Copy, Debug)]
struct Cand {
    score: f32,
    rank: u32,
    item: u32,
}

impl Cand {
    /// Best first: score descending, then tie rank ascending (ranks are
    /// distinct for seen items, so the order is total).
    fn cmp(a: &Cand, b: &Cand) -> std::cmp::Ordering {
        b.score.total_cmp(&a.score).then(a.rank.cmp(&b.rank))
    }
}

/// Per-call scratch space for [`LearnedModel::recommend_into`]: dense score
/// and marker arrays (O(1) reset by tagging) and the touched list. About 12
/// bytes per item. Reuse one per thread; it exists so that serving a cart
/// allocates nothing.
#[derive(Clone, Debug)]
pub struct Scratch {
    score: Vec<f32>,
    seen: Vec<u32>,
    cart: Vec<u32>,
    now: u32,
    touched: Vec<u32>,
    cands: Vec<Cand>,
    /// The dense passes' block maxima, and a copy to select in.
    block_max: Vec<f32>,
    block_sel: Vec<f32>,
}

impl Scratch {
    fn next_tag(&mut self) -> u32 {
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.cart.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
        self.now
    }
}

/// A model with its scratch, as an evaluation [`Ranker`].
#[derive(Debug)]
pub struct LearnedRanker {
    model: LearnedModel,
    scratch: Scratch,
}

impl LearnedRanker {
    /// Wraps a model.
    pub fn new(model: LearnedModel) -> Self {
        let scratch = model.scratch();
        LearnedRanker { model, scratch }
    }

    /// The model.
    pub fn model(&self) -> &LearnedModel {
        &self.model
    }
}

impl Ranker for LearnedRanker {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        self.model.recommend_into(&mut self.scratch, cart, k, out)
    }
}

/// `(source, target, weight)`.
type Triple = (u32, u32, f32);

fn keep(w: f64, pruning: Pruning) -> bool {
    w.is_finite() && (w > 0.0 || (pruning == Pruning::Magnitude && w != 0.0))
}

/// The dense solver: one inverse of `G + Lambda` over the active items.
fn dense_edges<T: PairInt, C: PairInt>(
    cc: &CoCounts<T, C>,
    active: &[u32],
    penalty: &[f64],
    pruning: Pruning,
) -> Vec<Triple> {
    let m = active.len();
    let mut pos = vec![u32::MAX; cc.n_items()];
    for (p, &i) in active.iter().enumerate() {
        pos[i as usize] = p as u32;
    }
    let mut a = vec![0.0f64; m * m];
    for (p, &i) in active.iter().enumerate() {
        a[p * m + p] = f64::from(cc.count_of(i)) + penalty[i as usize];
        let (t, c) = cc.neighbours(i);
        for (&j, &cij) in t.iter().zip(c) {
            let q = pos[j.into() as usize];
            if q != u32::MAX {
                a[p * m + q as usize] = f64::from(cij.into());
            }
        }
    }
    // G + Lambda is positive definite for lambda > 0; a failure can only
    // come from overflow to infinity, and then there is nothing to learn.
    let Some(inv) = pulp::Arch::new().dispatch(Inverse { a: &mut a, n: m }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (p, &i) in active.iter().enumerate() {
        for (q, &j) in active.iter().enumerate() {
            if p != q {
                let w = -inv[p * m + q] / inv[q * m + q];
                if keep(w, pruning) {
                    out.push((i, j, w as f32));
                }
            }
        }
    }
    out
}

/// The local solver: one K x K ridge regression per target, in parallel.
/// The triples come in the solver's chunks, which [`to_csr`] reads as they
/// are (concatenating them cost a copy into fresh pages).
fn local_edges<T: PairInt, C: PairInt>(
    cc: &CoCounts<T, C>,
    penalty: &[f64],
    config: &LearnConfig,
    threads: usize,
) -> Vec<Vec<Triple>> {
    let n = cc.n_items();
    let min_degree = HUB_ROW_FACTOR * config.neighbours;

    // The neighbourhoods and the pair table depend only on the counts. When
    // the neighbourhoods are chosen on one thread (small logs, see
    // `neighbourhoods`), the table is built at the same time on a second
    // one, on one thread as well: on online_retail_fr_de (365k entries and
    // items) they took about 1.4 and 1.2 ms one after the other, a third of
    // a cold fit. Not on the smallest logs, where starting the thread costs
    // more: completejourney_sample (111k) fitted 0.3 ms slower cold.
    let work = (cc.n_entries() + n) as u64;
    let overlap = threads > 1 && (OVERLAP_MIN_WORK..HOODS_PAR_MIN_WORK).contains(&work);
    let (hoods, early_lookup) = if overlap {
        // Whichever thread comes to the table first builds it: when the
        // second thread is slow to start (a busy machine), the calling
        // thread builds it after the neighbourhoods rather than wait.
        use std::sync::atomic::{AtomicBool, Ordering};
        let claimed = AtomicBool::new(false);
        let build = || {
            (!claimed.swap(true, Ordering::Relaxed))
                .then(|| PairLookup::new(cc, HUB_ITEMS, min_degree, 1))
        };
        std::thread::scope(|s| {
            let helper = s.spawn(build);
            let hoods = neighbourhoods(cc, config, 1);
            let mine = build();
            // A panic there is a bug, not bad input: propagate it.
            let theirs = helper
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (hoods, mine.or(theirs))
        })
    } else {
        (neighbourhoods(cc, config, threads), None)
    };
    let work: Vec<u64> = hoods
        .order
        .iter()
        .map(|&j| {
            let d = hoods.of(j).len() as u64;
            d * d * d / 6 + d * d + 1
        })
        .collect();
    let total: u64 = work.iter().sum();
    // Below about a millisecond of work, a second thread costs more than it
    // saves (rough estimate, not measured finely).
    let threads = if total < 1 << 20 { 1 } else { threads.max(1) };
    let lookup = match early_lookup {
        Some(lookup) => lookup,
        None => PairLookup::new(cc, HUB_ITEMS, min_degree, threads),
    };
    let (lookup, hoods) = (&lookup, &hoods);
    let arch = pulp::Arch::new();
    let block = |range: std::ops::Range<usize>| -> Vec<Triple> {
        let mut out = Vec::new();
        let mut a: Vec<f64> = Vec::new();
        let mut scratch = GramScratch::new(n);
        for &j in &hoods.order[range] {
            let nb = hoods.of(j);
            let d = nb.len();
            fill_gram(cc, lookup, penalty, nb, &mut scratch, &mut a);
            // The right-hand side as one more row below the system.
            a.extend(nb.iter().map(|x| f64::from(x.1)));
            if !arch.dispatch(Solve { a: &mut a, n: d }) {
                continue;
            }
            let w = &a[d * d..];
            for (p, &(i, _)) in nb.iter().enumerate() {
                if keep(w[p], config.pruning) {
                    out.push((i, j, w[p] as f32));
                }
            }
        }
        out
    };
    par_chunks(&work, threads, block)
}

/// [`neighbourhoods`] stays on one thread below this much work (row
/// entries scanned, plus one per item): a second thread costs more than it
/// saves (rough estimate).
const HOODS_PAR_MIN_WORK: u64 = 1 << 20;

/// From this much [`neighbourhoods`] work (and below
/// [`HOODS_PAR_MIN_WORK`]), the pair table is built on a second thread while
/// the neighbourhoods are chosen (see `local_edges`). Between the two
/// shared logs where it was measured: 111k (slower) and 365k (faster).
const OVERLAP_MIN_WORK: u64 = 1 << 17;

/// Every target's regressors for the local solver.
struct Neighbourhoods {
    /// `offsets[j]..offsets[j + 1]` is target `j`'s run in `nb`.
    offsets: Vec<u32>,
    /// `(regressor, c(regressor, target))`, ascending by regressor within
    /// a target.
    nb: Vec<(u32, u32)>,
    /// The targets with at least one regressor, by id. (Grouping them by
    /// their first choice of regressor, hoping for cache reuse, was
    /// measured no faster on retail_fimi and 3-5% slower on
    /// online_retail_fr_de, whose ids follow first appearance.)
    order: Vec<u32>,
}

impl Neighbourhoods {
    fn of(&self, j: u32) -> &[(u32, u32)] {
        &self.nb[self.offsets[j as usize] as usize..self.offsets[j as usize + 1] as usize]
    }
}

/// A chunk of [`neighbourhoods`]: per target its regressor count, then the
/// regressors concatenated.
type HoodsChunk = (Vec<u32>, Vec<(u32, u32)>);

/// Chooses each target's regressors: the [`LearnConfig::neighbours`] items
/// seen with it at least [`LearnConfig::min_pair_count`] times, best by
/// [`LearnConfig::rank`] (ties by item id). In parallel over targets.
fn neighbourhoods<T: PairInt, C: PairInt>(
    cc: &CoCounts<T, C>,
    config: &LearnConfig,
    threads: usize,
) -> Neighbourhoods {
    let n = cc.n_items();
    let k = config.neighbours;
    // sqrt once per item rather than once per pair (the same values, so
    // the same ranking).
    let sqrt_count: Vec<f64> = cc
        .item_counts()
        .iter()
        .map(|&c| f64::from(c).sqrt())
        .collect();
    let work: Vec<u64> = (0..n as u32)
        .map(|j| cc.neighbours(j).0.len() as u64 + 1)
        .collect();
    let total: u64 = work.iter().sum();
    let threads = if total < HOODS_PAR_MIN_WORK {
        1
    } else {
        threads.max(1)
    };
    let block = |range: std::ops::Range<usize>| -> HoodsChunk {
        let mut heads = Vec::with_capacity(range.len());
        let mut nb = Vec::new();
        let mut slots: Vec<(f64, u32, u32)> = Vec::new();
        let mut sel: Vec<(f64, u32, u32)> = Vec::new();
        for j in range {
            let (t, c) = cc.neighbours(j as u32);
            // Branch-free: every pair is written at `len`, which advances
            // only past a pair seen often enough (most pairs of a small
            // log are seen once, so a branch on it mispredicted often:
            // online_retail_fr_de's neighbourhoods 1.52 -> 1.34 ms, the
            // minimum of 60 single-threaded fits). `slots` only grows;
            // entries past `len` are stale and never read.
            if slots.len() < t.len() {
                slots.resize(t.len(), (0.0, 0, 0));
            }
            let min = config.min_pair_count;
            let mut len = 0usize;
            for (&i, &cij) in t.iter().zip(c) {
                let cij: u32 = cij.into();
                slots[len] = (0.0, i.into(), cij);
                len += usize::from(cij >= min);
            }
            let cand = &mut slots[..len];
            // Keys only matter when there are more candidates than K: a
            // division each (a slow instruction) is saved for the others.
            if cand.len() > k {
                for x in cand.iter_mut() {
                    x.0 = match config.rank {
                        NeighbourRank::Count => f64::from(x.2),
                        NeighbourRank::CountOverSqrt => f64::from(x.2) / sqrt_count[x.1 as usize],
                    };
                }
            }
            let cmp =
                |x: &(f64, u32, u32), y: &(f64, u32, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
            // `cand` is ascending by item (rows are sorted), the order `nb`
            // wants. With more than K, the K-th best is found on a copy and
            // the K best are those not after it (the order is total: ids
            // are distinct), kept in place: no sort of the chosen ones,
            // which took a third of this function's instructions.
            if cand.len() > k {
                sel.clear();
                sel.extend_from_slice(cand);
                let kth = *sel.select_nth_unstable_by(k - 1, cmp).1;
                nb.extend(
                    cand.iter()
                        .filter(|x| cmp(x, &kth).is_le())
                        .map(|x| (x.1, x.2)),
                );
                heads.push(k as u32);
            } else {
                nb.extend(cand.iter().map(|x| (x.1, x.2)));
                heads.push(cand.len() as u32);
            }
        }
        (heads, nb)
    };
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u32);
    let mut nb = Vec::new();
    let mut order = Vec::new();
    let mut j = 0u32;
    let parts = par_chunks(&work, threads, block);
    // One part (a single thread, the small logs) is moved, not copied into
    // fresh pages.
    let single = parts.len() == 1;
    for (heads, part) in parts {
        for len in heads {
            // At most K (<= 512) per item, so the total fits u32 whenever
            // the item count does (~8 million items).
            let end = offsets[j as usize] + len;
            offsets.push(end);
            if len > 0 {
                order.push(j);
            }
            j += 1;
        }
        if single {
            nb = part;
        } else {
            nb.extend_from_slice(&part);
        }
    }
    Neighbourhoods { offsets, nb, order }
}

/// `c(a, b)` lookups: dense among the hub items (the upper triangle of a
/// `h x h` table of `u8`, saturated counts looked up exactly), binary
/// search in the shorter row otherwise.
struct PairLookup<'a, T: PairInt, C: PairInt> {
    cc: &'a CoCounts<T, C>,
    /// Position of each item among the hubs (by count, descending), or
    /// [`NOT_HUB`].
    hub_pos: Vec<u32>,
    /// Row `p` (pairs `(p, q)` for `q > p`) starts at `row_start[p]`, so
    /// that `(p, q)` is at `row_start[p] + q` (the offset absorbs the
    /// missing `p + 1` leading entries).
    row_start: Vec<usize>,
    /// `min(c(a, b), u8::MAX)` for hubs at positions `p < q`.
    table: Vec<u8>,
}

/// [`PairLookup::hub_pos`] of an item that is not a hub.
const NOT_HUB: u32 = u32::MAX;

impl<'a, T: PairInt, C: PairInt> PairLookup<'a, T, C> {
    /// Hubs are the items, most frequent first and at most `max_hub`, whose
    /// rows have more than `min_degree` entries: a shorter row is cheaper
    /// to scan than a table is to build (and keeps the table small on
    /// catalogs of a few thousand items, where it would hold every item).
    fn new(cc: &'a CoCounts<T, C>, max_hub: usize, min_degree: usize, threads: usize) -> Self {
        let n = cc.n_items();
        let mut by_count: Vec<u32> = (0..n as u32)
            .filter(|&i| cc.neighbours(i).0.len() > min_degree)
            .collect();
        by_count.sort_unstable_by(|&a, &b| cc.count_of(b).cmp(&cc.count_of(a)).then(a.cmp(&b)));
        by_count.truncate(max_hub);
        let h = by_count.len();
        let mut hub_pos = vec![NOT_HUB; n];
        for (p, &i) in by_count.iter().enumerate() {
            hub_pos[i as usize] = p as u32;
        }
        // Row p holds h - p - 1 entries; row_start[p] + q indexes (p, q).
        let mut row_start = Vec::with_capacity(h);
        let mut at = 0usize;
        for p in 0..h {
            row_start.push(at.wrapping_sub(p + 1));
            at += h - p - 1;
        }
        // Rows are independent: filled in parallel, each chunk a
        // contiguous run of the table, so the table is built by
        // concatenation in row order.
        let work: Vec<u64> = by_count
            .iter()
            .map(|&i| cc.neighbours(i).0.len() as u64 + (h as u64) / 8)
            .collect();
        let total: u64 = work.iter().sum();
        let threads = if total < 1 << 20 { 1 } else { threads };
        let hub_pos_ref = &hub_pos;
        let by_count_ref = &by_count;
        let block = |range: std::ops::Range<usize>| -> Vec<u8> {
            let len: usize = range.clone().map(|p| h - p - 1).sum();
            let mut rows = Vec::with_capacity(len);
            // Branch-free: every entry of hub `p`'s row is written into a
            // full-width scratch row by hub position (non-hubs into the
            // spare last slot), and the part after `p` is appended to the
            // table. Which neighbours are hubs, and after `p`, is data: a
            // branch on it mispredicted often (8% of online_retail_fr_de's
            // single-threaded fit was this loop; callgrind: 90k
            // mispredicted branches per fit before, 4k after).
            let mut full = vec![0u8; h + 1];
            let hub_pos: &[u32] = hub_pos_ref;
            for p in range {
                let i = by_count_ref[p];
                let (t, c) = cc.neighbours(i);
                full.fill(0);
                let slots = &mut full[..];
                for (&j, &cij) in t.iter().zip(c) {
                    // `NOT_HUB` (u32::MAX) clamps to the spare slot `h`.
                    let q = (hub_pos[j.into() as usize] as usize).min(h);
                    slots[q] = u8::try_from(cij.into()).unwrap_or(u8::MAX);
                }
                rows.extend_from_slice(&full[p + 1..h]);
            }
            rows
        };
        let mut parts = par_chunks(&work, threads, block);
        // One part (a single thread, the small logs) is the table itself:
        // copying it would cost a second table's worth of fresh pages.
        let table = if parts.len() == 1 {
            parts.pop().unwrap_or_default()
        } else {
            let mut table = Vec::with_capacity(at);
            for part in parts {
                table.extend_from_slice(&part);
            }
            table
        };
        PairLookup {
            cc,
            hub_pos,
            row_start,
            table,
        }
    }

    /// The hub position of `a`, or [`NOT_HUB`].
    #[inline]
    fn hub_pos(&self, a: u32) -> u32 {
        self.hub_pos[a as usize]
    }

    /// Row `pa` of the table: `min(c(a, b), u8::MAX)` for the hubs at
    /// positions `pa + 1..`, in order (entry `pb - pa - 1` is position
    /// `pb`). `u8` keeps the table small (its cache misses are much of the
    /// solver's time); look saturated entries up with
    /// [`exact`](Self::exact).
    #[inline]
    fn row(&self, pa: u32) -> &[u8] {
        let pa = pa as usize;
        let h = self.row_start.len();
        let first = self.row_start[pa].wrapping_add(pa + 1);
        self.table.get(first..first + (h - pa - 1)).unwrap_or(&[])
    }

    /// `c(a, b)` from the sparse rows (binary search in the shorter).
    fn exact(&self, a: u32, b: u32) -> u32 {
        if self.cc.neighbours(a).0.len() <= self.cc.neighbours(b).0.len() {
            self.cc.pair(a, b)
        } else {
            self.cc.pair(b, a)
        }
    }
}

/// Reusable buffers of [`fill_gram`].
struct GramScratch {
    /// Item -> index in the neighbourhood, [`NOT_IN_SET`] outside it
    /// (between calls, for every item).
    pos: Vec<u16>,
    /// The neighbourhood's hubs: (index, hub position, item).
    hubs: Vec<(usize, u32, u32)>,
    /// One scanned row, by neighbourhood index, plus a spare last slot.
    row: Vec<u32>,
}

impl GramScratch {
    fn new(n_items: usize) -> Self {
        GramScratch {
            pos: vec![NOT_IN_SET; n_items],
            hubs: Vec::new(),
            row: Vec::new(),
        }
    }
}

/// An item is a hub (its pairs with other hubs read from the table) when
/// its row has more than `HUB_ROW_FACTOR` entries per neighbour: scanning
/// a row costs about one cycle per entry, a table lookup (the table being
/// mostly cache-resident) about two per neighbour. Measured on
/// online_retail_fr_de: factors 1 and 2 fit in 8.5-8.7 ms warm, 8 in about
/// 12 ms (retail_fimi: within noise between 2 and 8, at a noisy time).
const HUB_ROW_FACTOR: usize = 2;

/// Marks an item outside the neighbourhood in [`GramScratch::pos`].
const NOT_IN_SET: u16 = u16::MAX;

/// A regressor's pair counts are read by scanning its whole row when the
/// row has at most `ROW_SCAN_FACTOR` entries per neighbour: each entry then
/// costs one load from `pos` (two bytes per item, cache-resident) and a
/// well-predicted branch, cheaper than a galloping search per neighbour,
/// whose branches mispredict. A rough break-even estimate, not tuned.
const ROW_SCAN_FACTOR: usize = 8;

/// Fills `a` with the d x d matrix `G_NN + diag(Lambda_N)` (row-major) for
/// the neighbourhood `nb` (`(item, c(item, target))`, ascending by item):
/// `c(i)` + penalty on the diagonal, `c(i, b)` off it.
///
/// Pairs among hub items come from the dense table. A non-hub item's pairs
/// (with hubs and non-hubs alike) come from its own row, which is short:
/// scanned whole against `pos` (item -> index in `nb`) when short enough,
/// otherwise joined by galloping. `pos` must hold [`NOT_IN_SET`] for every
/// item on entry and does again on return.
fn fill_gram<T: PairInt, C: PairInt>(
    cc: &CoCounts<T, C>,
    lookup: &PairLookup<'_, T, C>,
    penalty: &[f64],
    nb: &[(u32, u32)],
    scratch: &mut GramScratch,
    a: &mut Vec<f64>,
) {
    let GramScratch { pos, hubs, row } = scratch;
    let d = nb.len();
    debug_assert!(d < usize::from(NOT_IN_SET));
    // Not zeroed: every entry is written below (pairs among hubs from the
    // table, every pair with a non-hub from that item's row, whose row and
    // column are zeroed first where it is joined rather than scanned
    // whole), so `a` may keep the previous system's values. Zeroing the
    // d x d matrix per target was a tenth of the local solver's
    // instructions on online_retail_fr_de.
    a.resize(d * d, 0.0);
    for (p, &(i, _)) in nb.iter().enumerate() {
        pos[i as usize] = p as u16;
    }
    // Hub members of the neighbourhood: (index in nb, hub position, item).
    hubs.clear();
    for (p, &(i, _)) in nb.iter().enumerate() {
        let hp = lookup.hub_pos(i);
        if hp != NOT_HUB {
            hubs.push((p, hp, i));
        }
    }
    // Pairs among hubs come from the table; pairs with a non-hub item are
    // filled from that item's side below. In hub-position order, each pair
    // (x, later y) is in x's row of the upper triangle: one row lookup per
    // x, no comparison per pair.
    hubs.sort_unstable_by_key(|h| h.1);
    for (x, &(p, hp, i)) in hubs.iter().enumerate() {
        let row = lookup.row(hp);
        for &(q, hq, b) in &hubs[x + 1..] {
            // Positions are distinct and ascending here, so hq > hp.
            let v = match row.get((hq - hp - 1) as usize) {
                Some(&v) if v != u8::MAX => u32::from(v),
                // Saturated (or, never, out of the row): looked up exactly.
                _ => lookup.exact(i, b),
            };
            let v = f64::from(v);
            a[p * d + q] = v;
            a[q * d + p] = v;
        }
    }
    for p in 0..d {
        let i = nb[p].0;
        a[p * d + p] = f64::from(cc.count_of(i)) + penalty[i as usize];
        if lookup.hub_pos(i) != NOT_HUB {
            continue;
        }
        let (ti, ci) = cc.neighbours(i);
        if ti.len() <= ROW_SCAN_FACTOR * d {
            // Branch-free: an item outside the neighbourhood writes to the
            // spare last slot (whether an entry is inside is data, so a
            // branch on it mispredicts when rows are short and hits
            // common). The row of p holds c(i, b) for every b, so it is
            // copied whole into row and column p, diagonal restored after.
            row.clear();
            row.resize(d + 1, 0);
            // Plain slices, so that the loop keeps their pointers in
            // registers instead of reloading them through the Vecs.
            let (slot, at) = (&mut row[..], &pos[..]);
            for (&b, &v) in ti.iter().zip(ci) {
                slot[usize::from(at[b.into() as usize]).min(d)] = v.into();
            }
            let diag = a[p * d + p];
            for (q, &v) in row[..d].iter().enumerate() {
                let v = f64::from(v);
                a[p * d + q] = v;
                a[q * d + p] = v;
            }
            a[p * d + p] = diag;
        } else {
            // Pairs not in the row are 0; the diagonal is already set.
            for q in (0..d).filter(|&q| q != p) {
                a[p * d + q] = 0.0;
                a[q * d + p] = 0.0;
            }
            gallop_join(ti, ci, nb.iter().map(|x| x.0), |q, v| {
                if q != p {
                    let v = f64::from(v);
                    a[p * d + q] = v;
                    a[q * d + p] = v;
                }
            });
        }
    }
    for &(i, _) in nb {
        pos[i as usize] = NOT_IN_SET;
    }
}

/// For each key of the ascending `keys` found in the ascending `targets`,
/// calls `found(position in keys, matching count)`. Exponential search from
/// the last match: O(keys x log(gap)).
fn gallop_join<T: PairInt, C: PairInt>(
    targets: &[T],
    counts: &[C],
    keys: impl Iterator<Item = u32>,
    mut found: impl FnMut(usize, u32),
) {
    let mut lo = 0usize;
    for (q, b) in keys.enumerate() {
        let mut step = 1usize;
        let mut hi = lo;
        while hi < targets.len() && targets[hi].into() < b {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let end = (hi + 1).min(targets.len());
        if lo >= end {
            break;
        }
        match targets[lo..end].binary_search_by(|t| (*t).into().cmp(&b)) {
            Ok(x) => {
                found(q, counts[lo + x].into());
                lo += x + 1;
            }
            Err(x) => lo += x,
        }
    }
}

/// Groups the triples (in any number of parts; each (source, target) at
/// most once) by source, keeps each source's `max_edges` best by the
/// pruning rule (ties by target id), and sorts each row by target. The
/// result does not depend on the order of the triples.
fn to_csr(
    n: usize,
    triples: Vec<Vec<Triple>>,
    max_edges: usize,
    pruning: Pruning,
) -> Result<(Vec<u32>, Vec<u32>, Vec<f32>)> {
    let mut start = vec![0usize; n + 1];
    for &(i, _, _) in triples.iter().flatten() {
        start[i as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut grouped = vec![(0u32, 0f32); start[n]];
    for &(i, j, w) in triples.iter().flatten() {
        grouped[fill[i as usize]] = (j, w);
        fill[i as usize] += 1;
    }
    drop(triples);
    let key = |w: f32| {
        if pruning == Pruning::Magnitude {
            w.abs()
        } else {
            w
        }
    };
    let cmp = |x: &(u32, f32), y: &(u32, f32)| key(y.1).total_cmp(&key(x.1)).then(x.0.cmp(&y.0));
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u32);
    // At most every triple is kept: reserved once rather than grown by
    // copies into fresh pages; the spare room is given back at the end.
    let mut targets = Vec::with_capacity(grouped.len());
    let mut weights = Vec::with_capacity(grouped.len());
    for i in 0..n {
        let row = &mut grouped[start[i]..start[i + 1]];
        let kept = if row.len() > max_edges {
            row.select_nth_unstable_by(max_edges - 1, cmp);
            max_edges
        } else {
            row.len()
        };
        let row = &mut row[..kept];
        row.sort_unstable_by_key(|x| x.0);
        targets.extend(row.iter().map(|x| x.0));
        weights.extend(row.iter().map(|x| x.1));
        let end = u32::try_from(targets.len()).map_err(|_| Error::CapExceeded {
            what: "learned edges",
            cap: u64::from(u32::MAX),
            got: targets.len() as u64,
        })?;
        offsets.push(end);
    }
    targets.shrink_to_fit();
    weights.shrink_to_fit();
    Ok((offsets, targets, weights))
}

/// Dot product with four independent accumulators, so that the additions
/// pipeline (a single running sum is one long dependency chain, about 4x
/// slower on the 48-long rows of the local solver). The summation order is
/// fixed, so results stay deterministic.
#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        acc[0] += a[0] * b[0];
        acc[1] += a[1] * b[1];
        acc[2] += a[2] * b[2];
        acc[3] += a[3] * b[3];
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// In-place lower Cholesky factor of a symmetric positive definite matrix
/// (row-major, n x n; the lower triangle is read and overwritten). False if
/// a pivot is not positive and finite.
#[cfg(test)]
fn cholesky(a: &mut [f64], n: usize) -> bool {
    cholesky_with(pulp::Scalar::new(), a, n)
}

/// The in-place lower Cholesky factor (the `cholesky` of the tests, which
/// is this with scalar operations), with the dot products of its four-row
/// blocks as `simd`'s vector operations where it has four `f64` lanes (the
/// same bits, see [`dot_rows_simd`]).
#[inline(always)]
fn cholesky_with<S: pulp::Simd>(simd: S, a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let (row_j, below) = a[j * n..].split_at_mut(n);
        let d = row_j[j] - dot_simd(simd, &row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        row_j[j] = d;
        let lj = &row_j[..j];
        // Four rows at a time share the loads of `lj`; each dot product is
        // summed exactly as `dot` does, so the factor is the same.
        let mut quads = below.chunks_exact_mut(4 * n);
        for quad in &mut quads {
            let (r01, r23) = quad.split_at_mut(2 * n);
            let (r0, r1) = r01.split_at_mut(n);
            let (r2, r3) = r23.split_at_mut(n);
            let s = dot_rows_simd(simd, [&r0[..j], &r1[..j], &r2[..j], &r3[..j]], lj);
            let q = sub_div4(simd, [r0[j], r1[j], r2[j], r3[j]], s, d);
            [r0[j], r1[j], r2[j], r3[j]] = q;
        }
        for row_i in quads.into_remainder().chunks_exact_mut(n) {
            let s = dot_simd(simd, &row_i[..j], lj);
            row_i[j] = (row_i[j] - s) / d;
        }
    }
    true
}

/// `[dot(xs[0], y), ..]` in one pass, with [`dot`]'s summation order for
/// each (the same results, bit for bit). Every `xs[r]` has length
/// `y.len()`.
#[inline(always)]
fn dot_rows<const R: usize>(xs: [&[f64]; R], y: &[f64]) -> [f64; R] {
    let n = y.len();
    let mut acc = [[0.0f64; 4]; R];
    let mut tail = [0.0f64; R];
    let body = n - n % 4;
    for c in (0..body).step_by(4) {
        let b = &y[c..c + 4];
        for (a, x) in acc.iter_mut().zip(&xs) {
            let x = &x[c..c + 4];
            for l in 0..4 {
                a[l] += x[l] * b[l];
            }
        }
    }
    for c in body..n {
        for (t, x) in tail.iter_mut().zip(&xs) {
            *t += x[c] * y[c];
        }
    }
    let mut out = [0.0f64; R];
    for r in 0..R {
        let a = &acc[r];
        out[r] = (a[0] + a[1]) + (a[2] + a[3]) + tail[r];
    }
    out
}

/// [`dot_rows`] written with `simd`'s vector operations when it has four
/// `f64` lanes, the same bits: lane `l` of a row's accumulator sums the
/// products at `4c + l` in order, as [`dot`]'s `acc[l]` does, and the lanes
/// and the tail are added as it adds them (vector adds and multiplies are
/// the scalar ones, lane by lane, unfused). Left to the compiler, the
/// scalar form was vectorized across the rows, with a shuffle per load
/// (`perf annotate`: unpacks, inserts and blends in the loop); this keeps
/// each row's four lanes in one register. Other lane counts use
/// [`dot_rows`].
#[inline(always)]
fn dot_rows_simd<S: pulp::Simd, const R: usize>(simd: S, xs: [&[f64]; R], y: &[f64]) -> [f64; R] {
    if S::F64_LANES != 4 {
        return dot_rows(xs, y);
    }
    let n = y.len();
    let (yv, _) = S::as_simd_f64s(y);
    let xv: [&[S::f64s]; R] = xs.map(|x| S::as_simd_f64s(&x[..n]).0);
    let mut acc = [simd.splat_f64s(0.0); R];
    for (c, &b) in yv.iter().enumerate() {
        for (a, x) in acc.iter_mut().zip(&xv) {
            *a = simd.add_f64s(*a, simd.mul_f64s(x[c], b));
        }
    }
    let body = yv.len() * 4;
    let mut out = [0.0f64; R];
    for r in 0..R {
        let mut tail = 0.0f64;
        for c in body..n {
            tail += xs[r][c] * y[c];
        }
        let a: &[f64] = pulp::bytemuck::cast_slice(std::slice::from_ref(&acc[r]));
        out[r] = (a[0] + a[1]) + (a[2] + a[3]) + tail;
    }
    out
}

/// [`dot`] with `simd`'s vectors where it has four `f64` lanes: the same
/// bits (see [`dot_rows_simd`]), one vector register per sum where the
/// compiler had split [`dot`]'s four lanes over two registers and
/// shuffled them every step.
#[inline(always)]
fn dot_simd<S: pulp::Simd>(simd: S, x: &[f64], y: &[f64]) -> f64 {
    if S::F64_LANES != 4 {
        return dot(x, y);
    }
    let n = x.len().min(y.len());
    dot_rows_simd(simd, [&x[..n]], &y[..n])[0]
}

/// `(x[l] - s[l]) / d` for the four lanes, as one vector subtraction and
/// one vector division where `simd` has four `f64` lanes: the same bits as
/// four scalar ones (each lane rounded as the scalar operation is). The
/// factorisation divides once per entry of the factor, and a division
/// issues only every few cycles; four in one instruction took about 1.5%
/// off a single-threaded fit of online_retail_fr_de.
#[inline(always)]
fn sub_div4<S: pulp::Simd>(simd: S, x: [f64; 4], s: [f64; 4], d: f64) -> [f64; 4] {
    if S::F64_LANES != 4 {
        return [0, 1, 2, 3].map(|l| (x[l] - s[l]) / d);
    }
    let x: &[S::f64s] = pulp::bytemuck::cast_slice(&x[..]);
    let s: &[S::f64s] = pulp::bytemuck::cast_slice(&s[..]);
    let q = simd.div_f64s(simd.sub_f64s(x[0], s[0]), simd.splat_f64s(d));
    let q: &[f64] = pulp::bytemuck::cast_slice(std::slice::from_ref(&q));
    [q[0], q[1], q[2], q[3]]
}

/// Solves `A x = b` for symmetric positive definite `A` (row-major n x n,
/// overwritten by its factor); `b` becomes `x`. False if `A` is not
/// positive definite. The textbook order (factor, forward substitution,
/// back substitution); the fit uses [`cholesky_solve_folded`], which gives
/// the same bits (a test checks it).
#[cfg(test)]
fn cholesky_solve(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    if !cholesky(a, n) {
        return false;
    }
    for i in 0..n {
        let s = dot(&a[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / a[i * n + i];
    }
    back_substitute(&a[..n * n], n, b);
    true
}

/// Solves `A x = b` as the tests' `cholesky_solve` does, for `a` holding
/// A's `n` rows followed by `b` as an `(n + 1)`-th row; `x` is left in that
/// row.
///
/// The factorisation treats `b` as one more row below A, and the entries
/// it computes there, `y_j = (b_j - dot(y[..j], L_j[..j])) / L_jj`, are the
/// forward substitution's `L y = b`, bit for bit (the same dot products,
/// whose products commute exactly, and the same division). Done apart, the
/// forward substitution was a serial chain (each `y_j` waits for the dot
/// product over all earlier ones, then a division), about a tenth of a
/// 48 x 48 solve; inside the factorisation it rides along with the other
/// rows' vector work.
#[inline(always)]
fn cholesky_solve_folded<S: pulp::Simd>(simd: S, a: &mut [f64], n: usize) -> bool {
    if a.len() != (n + 1) * n || !cholesky_with(simd, a, n) {
        return false;
    }
    let (l, b) = a.split_at_mut(n * n);
    back_substitute(l, n, b);
    true
}

/// Solves `L^T x = y` for the lower factor `L` (row-major n x n); `b`
/// holds `y` and becomes `x`.
///
/// By columns of L^T, that is rows of L: once x_i is known, it is taken off
/// every earlier right-hand side. Each row is read contiguously and its
/// updates are independent, where the textbook form (x_i from a sum over
/// the column below it) read L with a stride of n and chained every
/// subtraction on the one before: a latency-bound loop of n^2 / 2 steps,
/// as long as the factorisation itself at n = 48.
#[inline(always)]
fn back_substitute(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let x = b[i] / l[i * n + i];
        b[i] = x;
        for (bk, &lv) in b[..i].iter_mut().zip(&l[i * n..i * n + i]) {
            *bk -= lv * x;
        }
    }
}

/// [`cholesky_solve_folded`] as a `pulp` operation: `Arch::dispatch` runs it
/// compiled for the best instruction set the processor has (AVX2 on
/// x86-64-v3). `#[inline(always)]` down the call chain is what puts the
/// solver's loops inside that compiled copy; the same source gives the same
/// bits in every copy (no fused multiply-add, the same summation order).
struct Solve<'a> {
    /// A's `n` rows, then `b` (see [`cholesky_solve_folded`]).
    a: &'a mut [f64],
    n: usize,
}

impl pulp::WithSimd for Solve<'_> {
    type Output = bool;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> bool {
        cholesky_solve_folded(simd, self.a, self.n)
    }
}

/// [`spd_inverse_with`] as a `pulp` operation, as [`Solve`].
struct Inverse<'a> {
    a: &'a mut [f64],
    n: usize,
}

impl pulp::WithSimd for Inverse<'_> {
    type Output = Option<Vec<f64>>;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        spd_inverse_with(simd, self.a, self.n)
    }
}

/// The inverse of a symmetric positive definite matrix by Cholesky
/// (`A^-1 = L^-T L^-1`); `a` is destroyed. About n^3 flops.
#[cfg(test)]
fn spd_inverse(a: &mut [f64], n: usize) -> Option<Vec<f64>> {
    spd_inverse_with(pulp::Scalar::new(), a, n)
}

/// The inverse of a symmetric positive definite matrix (the tests'
/// `spd_inverse`, which is this with scalar operations) over
/// [`cholesky_with`].
#[inline(always)]
fn spd_inverse_with<S: pulp::Simd>(simd: S, a: &mut [f64], n: usize) -> Option<Vec<f64>> {
    if !cholesky_with(simd, a, n) {
        return None;
    }
    // Linv, stored transposed (row j of `lt` = column j of L^-1), so that
    // both loops below run over contiguous memory.
    let mut lt = vec![0.0f64; n * n];
    for j in 0..n {
        lt[j * n + j] = 1.0 / a[j * n + j];
        for i in j + 1..n {
            let s = dot_simd(simd, &a[i * n + j..i * n + i], &lt[j * n + j..j * n + i]);
            lt[j * n + i] = -s / a[i * n + i];
        }
    }
    // inv[i][j] = sum_k Linv[k][i] Linv[k][j] = dot(lt row i, lt row j)
    // over k >= max(i, j). For one i, every j shares lt row i's tail: four
    // j at a time share its loads and keep four sums in flight (one at a
    // time, each sum waited on its own additions). The products commute
    // exactly, so each is `dot(lt row i, lt row j)` to the bit.
    let mut inv = vec![0.0f64; n * n];
    for i in 0..n {
        let y = &lt[i * n + i..(i + 1) * n];
        let tail = |j: usize| &lt[j * n + i..(j + 1) * n];
        let mut j = 0;
        while j + 4 <= i + 1 {
            let s = dot_rows_simd(simd, [tail(j), tail(j + 1), tail(j + 2), tail(j + 3)], y);
            for (r, &s) in s.iter().enumerate() {
                inv[i * n + j + r] = s;
                inv[(j + r) * n + i] = s;
            }
            j += 4;
        }
        for j in j..=i {
            let s = dot_simd(simd, y, tail(j));
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    Some(inv)
}

impl LearnedModel {
    /// The model over a catalog's ids, for the [`Learned`](crate::Learned)
    /// strategy: edges, prior and fallback order mapped through the SKUs.
    /// Items whose SKU the catalog lacks are dropped; their number is
    /// returned beside the graph.
    ///
    /// # Errors
    /// As [`LearnedGraph::from_edges`](crate::LearnedGraph::from_edges)
    /// (not expected for a fitted model).
    pub fn to_learned_graph<C: crate::Catalog + ?Sized>(
        &self,
        catalog: &C,
    ) -> Result<(crate::LearnedGraph, usize)> {
        let ids: Vec<Option<crate::ProductId>> = (0..self.n_items() as u32)
            .map(|i| catalog.id(self.sku(i)))
            .collect();
        let unknown = ids.iter().filter(|p| p.is_none()).count();
        let edges = self
            .triples()
            .filter_map(|(i, j, w)| Some((ids[i as usize]?, ids[j as usize]?, w)))
            .collect();
        let mut prior = vec![0.0f32; catalog.len()];
        for (i, p) in ids.iter().enumerate() {
            if let Some(p) = p {
                prior[p.index()] = self.prior(i as u32);
            }
        }
        let popular = self
            .popular()
            .iter()
            .filter_map(|&i| ids[i as usize])
            .collect();
        let graph = crate::LearnedGraph::from_edges(catalog.len(), edges, prior, popular)?;
        Ok((graph, unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrderLog;
    use proptest::prelude::*;

    fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                for j in 0..n {
                    c[i * n + j] += a[i * n + k] * b[k * n + j];
                }
            }
        }
        c
    }

    fn spd(n: usize, seed: u64) -> Vec<f64> {
        // B^T B + I from a small deterministic generator.
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut b = vec![0.0; n * n];
        for v in &mut b {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = ((x >> 33) % 1000) as f64 / 500.0 - 1.0;
        }
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[k * n + i] * b[k * n + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        a
    }

    #[test]
    fn dot_rows_are_dots_bit_for_bit() {
        for n in [0usize, 1, 3, 4, 5, 47, 48] {
            let x1: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let x2: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).cos() * 1e3).collect();
            let y: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 0.7)).collect();
            let got = dot_rows([&x1[..], &x2[..], &y[..]], &y);
            assert_eq!(got[0].to_bits(), dot(&x1, &y).to_bits());
            assert_eq!(got[1].to_bits(), dot(&x2, &y).to_bits());
            assert_eq!(got[2].to_bits(), dot(&y, &y).to_bits());
        }
    }

    #[test]
    fn inverse_and_solve_match() {
        for n in [1, 2, 5, 17, 48] {
            let a = spd(n, n as u64);
            let inv = spd_inverse(&mut a.clone(), n).unwrap();
            let id = matmul(&a, &inv, n);
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (id[i * n + j] - want).abs() < 1e-9,
                        "n={n} ({i},{j}) {}",
                        id[i * n + j]
                    );
                }
            }
            let b: Vec<f64> = (0..n).map(|i| i as f64 - 1.5).collect();
            let mut x = b.clone();
            assert!(cholesky_solve(&mut a.clone(), n, &mut x));
            for i in 0..n {
                let ax: f64 = (0..n).map(|k| a[i * n + k] * x[k]).sum();
                assert!((ax - b[i]).abs() < 1e-9);
            }
        }
        assert!(!cholesky(&mut [-1.0], 1));
    }

    /// The fit runs the solvers through `pulp`'s runtime dispatch (AVX2
    /// code where the processor has it); the tests here call them
    /// directly, compiled for the baseline instruction set. Both must give
    /// the same bits, or the same log would fit different models on
    /// different machines.
    #[test]
    fn dispatched_solvers_match_baseline_bit_for_bit() {
        let arch = pulp::Arch::new();
        for n in [1usize, 2, 3, 5, 17, 47, 48, 100] {
            let a = spd(n, 7 + n as u64);
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.61).sin() * 40.0).collect();
            let (mut x_base, mut x_simd) = (b.clone(), b.clone());
            let (mut a_base, mut a_simd) = (a.clone(), a.clone());
            assert!(cholesky_solve(&mut a_base, n, &mut x_base));
            // The folded layout: b as an (n + 1)-th row.
            a_simd.extend_from_slice(&x_simd);
            assert!(arch.dispatch(Solve { a: &mut a_simd, n }));
            x_simd.copy_from_slice(&a_simd[n * n..]);
            a_simd.truncate(n * n);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&x_base), bits(&x_simd), "solve, n = {n}");
            assert_eq!(bits(&a_base), bits(&a_simd), "factor, n = {n}");
            // The folded solve on the scalar path too (what a processor
            // without AVX2 runs).
            let mut folded = a.clone();
            folded.extend_from_slice(&b);
            assert!(cholesky_solve_folded(pulp::Scalar::new(), &mut folded, n));
            assert_eq!(
                bits(&x_base),
                bits(&folded[n * n..]),
                "scalar fold, n = {n}"
            );
            let inv_base = spd_inverse(&mut a.clone(), n).unwrap();
            let inv_simd = arch
                .dispatch(Inverse {
                    a: &mut a.clone(),
                    n,
                })
                .unwrap();
            assert_eq!(bits(&inv_base), bits(&inv_simd), "inverse, n = {n}");
        }
    }

    /// EASE by its textbook formula on a tiny log.
    fn ease_reference(log: &OrderLog, lambda: &[f64]) -> Vec<Vec<f64>> {
        let n = log.n_items();
        let mut g = vec![0.0; n * n];
        for o in log.orders() {
            for &i in o {
                for &j in o {
                    g[i as usize * n + j as usize] += 1.0;
                }
            }
        }
        for i in 0..n {
            g[i * n + i] += lambda[i];
        }
        let p = spd_inverse(&mut g, n).unwrap();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            0.0
                        } else {
                            -p[i * n + j] / p[j * n + j]
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn small_log() -> OrderLog {
        let orders: [&[&str]; 9] = [
            &["a", "b", "c"],
            &["a", "b"],
            &["b", "c", "d"],
            &["a", "c"],
            &["d", "e"],
            &["a", "b", "e"],
            &["c", "d"],
            &["b"],
            &["a", "b", "c", "d"],
        ];
        let rows: Vec<(String, &str)> = orders
            .iter()
            .enumerate()
            .flat_map(|(o, s)| s.iter().map(move |x| (o.to_string(), *x)))
            .collect();
        OrderLog::from_rows(rows).unwrap()
    }

    #[test]
    fn dense_solver_is_ease() {
        let log = small_log();
        let c = LearnConfig {
            lambda: 0.7,
            rho: 0.5,
            ..LearnConfig::default()
        };
        let model = LearnedModel::fit(log.view(), &c).unwrap();
        let counts = log.view().item_counts();
        let lambda: Vec<f64> = counts.iter().map(|&x| 0.7 + 0.5 * f64::from(x)).collect();
        let b = ease_reference(&log, &lambda);
        for i in 0..log.n_items() as u32 {
            let (t, w) = model.edges(i);
            for (&j, &wj) in t.iter().zip(w) {
                assert!((f64::from(wj) - b[i as usize][j as usize]).abs() < 1e-6);
            }
            let nonzero = b[i as usize].iter().filter(|x| **x != 0.0).count();
            assert_eq!(t.len(), nonzero);
        }
    }

    #[test]
    fn local_solver_with_all_neighbours_is_ease() {
        // With K >= n - 1 and every pair kept, each local regression is the
        // full one, so the local solver must reproduce EASE exactly.
        let log = small_log();
        let c = LearnConfig {
            solver: Solver::Local,
            min_pair_count: 1,
            neighbours: 8,
            lambda: 1.5,
            rho: 0.0,
            ..LearnConfig::default()
        };
        let model = LearnedModel::fit(log.view(), &c).unwrap();
        let b = ease_reference(&log, &vec![1.5; log.n_items()]);
        let cc = CoCounts::count(log.view(), 1).unwrap();
        for i in 0..log.n_items() as u32 {
            let (t, w) = model.edges(i);
            for (&j, &wj) in t.iter().zip(w) {
                assert!(cc.pair(i, j) > 0);
                // Regressors of j are the items co-occurring with it; EASE's
                // weight from a never co-occurring item is not zero, so only
                // compare where j's neighbourhood is all other items.
                if cc.neighbours(j).0.len() + 1 == log.n_items() {
                    assert!(
                        (f64::from(wj) - b[i as usize][j as usize]).abs() < 1e-6,
                        "{i}->{j}"
                    );
                }
            }
        }
    }

    /// A random log over `items` items whose pair counts exceed 255 for the
    /// most frequent ones (so the table's saturation path is taken).
    fn skewed_log(items: u32, orders: u32, seed: u64) -> OrderLog {
        let mut x = seed;
        let mut rows = Vec::new();
        for o in 0..orders {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let m = 2 + (x >> 60) as u32;
            for _ in 0..m {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Cubing a uniform draw favours low ids: a few hubs.
                let u = (x >> 33) as f64 / (1u64 << 31) as f64;
                let item = ((u * u * u) * f64::from(items)) as u32;
                rows.push((o.to_string(), format!("s{item}")));
            }
        }
        OrderLog::from_rows(rows).unwrap()
    }

    #[test]
    fn gram_fill_matches_naive_pair_counts() {
        let log = skewed_log(300, 6000, 7);
        let cc = CoCounts::count(log.view(), 2).unwrap();
        let n = cc.n_items();
        let penalty: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.5).collect();
        // Few hubs, so all three paths (table, row scan, galloping join)
        // are taken; the hubs' top pairs exceed 255.
        let top = (0..n as u32)
            .flat_map(|i| cc.neighbours(i).1.iter().copied())
            .max()
            .unwrap();
        assert!(top > 255, "{top}");
        for max_hub in [0, 5, 40, n] {
            let lookup = PairLookup::new(&cc, max_hub, 0, 2);
            let mut scratch = GramScratch::new(n);
            let mut a = Vec::new();
            // Neighbourhoods of 60 items scan every non-hub row; those of 4
            // gallop through the longer ones.
            for (j, step, take) in [
                (0u32, 1usize, 60usize),
                (3, 2, 60),
                (50, 1, 4),
                (7, 5, 60),
                (120, 3, 4),
                (250, 1, 60),
            ] {
                let (t, c) = cc.neighbours(j);
                let nb: Vec<(u32, u32)> = t
                    .iter()
                    .zip(c)
                    .step_by(step)
                    .take(take)
                    .map(|(&i, &c)| (i, c))
                    .collect();
                fill_gram(&cc, &lookup, &penalty, &nb, &mut scratch, &mut a);
                let d = nb.len();
                for p in 0..d {
                    for q in 0..d {
                        let (x, y) = (nb[p].0, nb[q].0);
                        let want = if p == q {
                            f64::from(cc.count_of(x)) + penalty[x as usize]
                        } else {
                            f64::from(cc.pair(x, y))
                        };
                        assert_eq!(a[p * d + q], want, "hubs {max_hub}, target {j}, ({x}, {y})");
                    }
                }
                assert!(scratch.pos.iter().all(|&p| p == NOT_IN_SET));
            }
        }
    }

    #[test]
    fn gallop_join_finds_exactly_the_common_keys() {
        let targets: Vec<u32> = (0..200).filter(|x| x % 3 != 0).collect();
        let counts: Vec<u32> = targets.iter().map(|x| x * 10).collect();
        for keys in [
            vec![],
            vec![0, 1, 2, 3],
            vec![5, 50, 150, 199, 250],
            (0..260).step_by(7).collect::<Vec<u32>>(),
        ] {
            let mut got = Vec::new();
            gallop_join(&targets, &counts, keys.iter().copied(), |q, v| {
                got.push((q, v))
            });
            let want: Vec<(usize, u32)> = keys
                .iter()
                .enumerate()
                .filter(|(_, k)| targets.binary_search(k).is_ok())
                .map(|(q, k)| (q, k * 10))
                .collect();
            assert_eq!(got, want, "keys {keys:?}");
        }
    }

    /// Fits `log` with `config` on one thread and on `threads`, asserts the
    /// two models' edges are identical, and returns the one-thread model.
    fn same_model_on_threads(log: &OrderLog, config: &LearnConfig, threads: usize) -> LearnedModel {
        let fit = |threads| {
            let c = LearnConfig {
                threads,
                ..config.clone()
            };
            LearnedModel::fit(log.view(), &c).unwrap()
        };
        let (m1, mn) = (fit(1), fit(threads));
        assert_eq!(
            (&m1.offsets, &m1.targets, &m1.weights),
            (&mn.offsets, &mn.targets, &mn.weights)
        );
        m1
    }

    #[test]
    fn results_do_not_depend_on_threads() {
        let c = LearnConfig {
            solver: Solver::Local,
            min_pair_count: 1,
            ..LearnConfig::default()
        };
        same_model_on_threads(&small_log(), &c, 3);
    }

    #[test]
    fn overlapped_tables_give_the_same_model() {
        // Enough pairs that two threads choose the neighbourhoods and build
        // the pair table at once (see `local_edges`).
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rows = Vec::new();
        for o in 0..500 {
            for _ in 0..25 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                rows.push((o.to_string(), format!("s{}", x % 500)));
            }
        }
        let log = OrderLog::from_rows(rows).unwrap();
        let cc = CoCounts::count(log.view(), 1).unwrap();
        let work = (cc.n_entries() + cc.n_items()) as u64;
        assert!(
            (OVERLAP_MIN_WORK..HOODS_PAR_MIN_WORK).contains(&work),
            "{work}"
        );
        let c = LearnConfig {
            solver: Solver::Local,
            ..LearnConfig::default()
        };
        assert!(same_model_on_threads(&log, &c, 2).n_edges() > 0);
    }

    #[test]
    fn bad_config_is_rejected() {
        let log = small_log();
        for (c, field) in [
            (
                LearnConfig {
                    lambda: 0.0,
                    ..LearnConfig::default()
                },
                "lambda",
            ),
            (
                LearnConfig {
                    rho: f64::NAN,
                    ..LearnConfig::default()
                },
                "rho",
            ),
            (
                LearnConfig {
                    prior: -1.0,
                    ..LearnConfig::default()
                },
                "prior",
            ),
            (
                LearnConfig {
                    neighbours: 0,
                    ..LearnConfig::default()
                },
                "neighbours",
            ),
            (
                LearnConfig {
                    max_edges: 0,
                    ..LearnConfig::default()
                },
                "max_edges",
            ),
            (
                LearnConfig {
                    dense_max_items: MAX_DENSE_ITEMS + 1,
                    ..LearnConfig::default()
                },
                "dense_max_items",
            ),
        ] {
            match LearnedModel::fit(log.view(), &c) {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn triples_list_every_edge() {
        let log = small_log();
        let model = LearnedModel::fit(log.view(), &LearnConfig::default()).unwrap();
        let t: Vec<(u32, u32, f32)> = model.triples().collect();
        assert_eq!(t.len(), model.n_edges());
        assert!(t.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert!(t
            .iter()
            .all(|&(i, j, w)| i != j && w.is_finite() && w != 0.0));
    }

    #[test]
    fn empty_cart_gets_popularity_and_unknown_items_are_ignored() {
        let log = small_log();
        let model = LearnedModel::fit(log.view(), &LearnConfig::default()).unwrap();
        let mut s = model.scratch();
        let mut out = Vec::new();
        model.recommend_into(&mut s, &[], 3, &mut out);
        assert_eq!(out, model.popular()[..3].to_vec());
        out.clear();
        model.recommend_into(&mut s, &[u32::MAX, 999], 3, &mut out);
        assert_eq!(out, model.popular()[..3].to_vec());
        out.clear();
        model.recommend_into(&mut s, &[0], 0, &mut out);
        assert!(out.is_empty());
    }

    /// Brute force: score every seen item, sort everything.
    fn reference_topk(model: &LearnedModel, cart: &[u32], k: usize) -> Vec<u32> {
        let n = model.n_items();
        let mut score: Vec<f32> = (0..n as u32).map(|j| model.prior(j)).collect();
        for &i in cart {
            if (i as usize) < n {
                let (t, w) = model.edges(i);
                for (&j, &wj) in t.iter().zip(w) {
                    score[j as usize] += wj;
                }
            }
        }
        let mut c: Vec<Cand> = model
            .popular()
            .iter()
            .filter(|j| !cart.contains(j))
            .map(|&j| Cand {
                score: score[j as usize],
                rank: model.tie_rank[j as usize],
                item: j,
            })
            .collect();
        c.sort_by(Cand::cmp);
        c.into_iter().take(k).map(|c| c.item).collect()
    }

    #[test]
    fn dense_rows_match_brute_force_over_many_blocks() {
        // 300 items: about ten blocks of the top-k pass, so the block
        // bound and the buffer cuts are exercised.
        let log = skewed_log(300, 4000, 11);
        let model = LearnedModel::fit(log.view(), &LearnConfig::default()).unwrap();
        assert!(!model.dense.is_empty(), "dense rows expected");
        let mut s = model.scratch();
        let n = model.n_items() as u32;
        for (c, k) in (0..200u32).zip([1usize, 3, 10, 40].iter().cycle()) {
            let cart: Vec<u32> = (0..(c % 7)).map(|x| (c * 37 + x * 101) % (n + 5)).collect();
            let mut out = Vec::new();
            model.recommend_into(&mut s, &cart, *k, &mut out);
            assert_eq!(
                out,
                reference_topk(&model, &cart, *k),
                "cart {cart:?} k {k}"
            );
        }
    }

    #[test]
    fn items_unseen_in_training_are_never_listed_on_any_path() {
        // Orders 0..4 train; items 6..9 appear only in the last orders,
        // so the model spans them (ids of the log) without having seen
        // them. With k above the number of seen items, every path must
        // stop at the seen ones, whichever way it walks the scores.
        let rows = [
            ("o1", "a"),
            ("o1", "b"),
            ("o1", "c"),
            ("o2", "a"),
            ("o2", "d"),
            ("o3", "b"),
            ("o3", "e"),
            ("o3", "f"),
            ("o4", "c"),
            ("o4", "f"),
            ("o5", "g"),
            ("o5", "h"),
            ("o6", "i"),
            ("o6", "j"),
            ("o6", "a"),
        ];
        let log = OrderLog::from_rows(rows).unwrap();
        let model = LearnedModel::fit(log.slice(0..4), &LearnConfig::default()).unwrap();
        assert_eq!(model.n_items(), 10);
        assert_eq!(model.popular().len(), 6);
        let mut s = model.scratch();
        for cart in [
            vec![],
            vec![0],
            vec![0, 1],
            vec![0, 1, 2, 3],
            vec![6, 7],
            vec![5, 8, 9],
        ] {
            let expected = reference_topk(&model, &cart, 20);
            let mut dense = Vec::new();
            model.recommend_dense(&mut s, &cart, 20, &mut dense);
            let mut sparse = Vec::new();
            model.recommend_sparse(&mut s, &cart, 20, model.cart_edges(&cart), &mut sparse);
            let mut out = Vec::new();
            model.recommend_into(&mut s, &cart, 20, &mut out);
            for list in [&dense, &sparse, &out] {
                assert_eq!(list, &expected, "cart {cart:?}");
                assert!(list.iter().all(|&j| j < 6), "unseen item listed: {list:?}");
            }
        }
    }

    #[test]
    fn dense_pass_bound_ignores_unseen_items() {
        // Two substitutes bought with the same item, never together: each
        // one's learned weight to the other is negative. Trained on those
        // orders alone, the model also spans 400 ids seen only later, which
        // score 0 and are never listed, so most of the dense pass's blocks
        // of 32 have 0 as their maximum. The k-th best block maximum must
        // not then bound the pass: the list for a cart holding one
        // substitute needs the other, whose score is below 0.
        let mut rows = Vec::new();
        for o in 0..30 {
            rows.push((format!("a{o}"), "x".to_string()));
            rows.push((format!("a{o}"), "y1".to_string()));
            rows.push((format!("b{o}"), "x".to_string()));
            rows.push((format!("b{o}"), "y2".to_string()));
        }
        rows.extend((0..400).map(|i| (format!("u{i}"), format!("u{i}"))));
        let log = OrderLog::from_rows(rows).unwrap();
        let model = LearnedModel::fit(log.slice(0..60), &LearnConfig::default()).unwrap();
        let (x, y1, y2) = (
            log.item("x").unwrap(),
            log.item("y1").unwrap(),
            log.item("y2").unwrap(),
        );
        let (t, w) = model.edges(y1);
        let to_y2 = t.binary_search(&y2).map(|e| w[e]);
        assert!(to_y2.is_ok_and(|w| w + model.prior(y2) < 0.0), "{to_y2:?}");
        let mut s = model.scratch();
        for k in [2, 10, 20] {
            let expected = reference_topk(&model, &[y1], k);
            assert_eq!(expected, vec![x, y2]);
            let mut dense = Vec::new();
            model.recommend_dense(&mut s, &[y1], k, &mut dense);
            assert_eq!(dense, expected, "k {k}");
            let mut out = Vec::new();
            model.recommend_into(&mut s, &[y1], k, &mut out);
            assert_eq!(out, expected, "k {k}");
        }
    }

    #[test]
    fn sparse_path_matches_brute_force_on_long_carts() {
        // Enough items that the sparse path can serve, carts touching
        // hundreds of them (the longest take the dense path in
        // `recommend_into`; the sparse one is also called directly): the 2k
        // buffer is cut many times, floors rise,
        // and cart items are touched by the other lines' edges.
        let log = skewed_log(4000, 30000, 5);
        let model = LearnedModel::fit(log.view(), &LearnConfig::default()).unwrap();
        assert!(model.dense.is_empty(), "sparse edges expected");
        let n = model.n_items() as u32;
        let mut s = model.scratch();
        let mut cuts = 0;
        for (c, k) in (0..300u32).zip([1usize, 2, 10, 25].iter().cycle()) {
            let cart: Vec<u32> = (0..(c % 40))
                .map(|x| (c * 31 + x * x * 7) % (n + 3))
                .collect();
            cuts += usize::from(model.cart_edges(&cart) > 2 * k);
            let mut sparse = Vec::new();
            let edges = model.cart_edges(&cart);
            model.recommend_sparse(&mut s, &cart, *k, edges, &mut sparse);
            let mut out = Vec::new();
            model.recommend_into(&mut s, &cart, *k, &mut out);
            let expected = reference_topk(&model, &cart, *k);
            assert_eq!(sparse, expected, "cart {cart:?} k {k}");
            assert_eq!(out, expected, "cart {cart:?} k {k}");
        }
        assert!(cuts > 100, "only {cuts} carts fill the buffer");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn topk_is_valid_and_matches_brute_force(
            rows in prop::collection::vec((0u8..20, 0u8..12), 2..120),
            carts in prop::collection::vec(prop::collection::vec(0u32..14, 0..6), 1..8),
            k in 1usize..8,
            local in any::<bool>(),
            train_share in 50usize..=100,
        ) {
            let rows: Vec<(String, String)> = rows.iter().map(|(o, s)| (o.to_string(), format!("s{s}"))).collect();
            let log = OrderLog::from_rows(rows).unwrap();
            // Trained on the first orders only, the model may span items
            // it has not seen (never listed).
            let train = log.slice(0..(log.len() * train_share / 100).max(1));
            let mut c = LearnConfig::default();
            if local {
                c.solver = Solver::Local;
                c.min_pair_count = 1;
                c.neighbours = 3;
                c.max_edges = 4;
            }
            let model = LearnedModel::fit(train, &c).unwrap();
            let mut s = model.scratch();
            for mut cart in carts {
                cart.sort_unstable();
                cart.dedup();
                // Both scoring paths must give the brute-force list.
                let mut dense = Vec::new();
                model.recommend_dense(&mut s, &cart, k, &mut dense);
                let mut sparse = Vec::new();
                let edges = model.cart_edges(&cart);
                model.recommend_sparse(&mut s, &cart, k, edges, &mut sparse);
                prop_assert_eq!(&dense, &sparse);
                let mut out = Vec::new();
                model.recommend_into(&mut s, &cart, k, &mut out);
                prop_assert_eq!(&out, &dense);
                prop_assert!(out.len() <= k);
                let mut seen = std::collections::BTreeSet::new();
                for &j in &out {
                    prop_assert!(!cart.contains(&j), "cart item {} recommended", j);
                    prop_assert!(seen.insert(j), "duplicate {}", j);
                    prop_assert!(model.tie_rank[j as usize] != u32::MAX, "unseen item");
                }
                let seen_not_in_cart = model.popular().iter().filter(|j| !cart.contains(j)).count();
                prop_assert_eq!(out.len(), k.min(seen_not_in_cart));
                prop_assert_eq!(out, reference_topk(&model, &cart, k));
            }
        }
    }
}
