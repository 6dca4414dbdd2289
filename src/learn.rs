//! The learned cross-sell model: a sparse item -> item weight graph fitted
//! on order history, plus popularity for fill.
//!
//! WORK IN PROGRESS: experiments running.

use crate::cooc::{default_threads, split_by_work, CoCounts};
use crate::error::{Error, Result};
use crate::eval::Ranker;
use crate::orders::OrdersView;

/// How the neighbours of a target are chosen for its local regression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NeighbourRank {
    /// By co-occurrence count `c(i, j)`, descending.
    #[default]
    Count,
    /// By `c(i, j) / sqrt(c(i))`.
    CountOverSqrt,
}

/// Configuration of [`LearnedModel::fit`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LearnConfig {
    /// Ridge penalty per training order: `lambda = lambda_per_order * n_orders`.
    pub lambda_per_order: f64,
    /// Absolute ridge penalty added to the per-order one.
    pub lambda_abs: f64,
    /// Extra penalty per unit of item count: `Lambda_i = lambda + rho * c(i)`.
    pub rho: f64,
    /// Regressors per target (K).
    pub neighbours: usize,
    /// Out-edges kept per item (M).
    pub max_edges: usize,
    /// Popularity prior weight: `score += prior * c(j) / n_orders`.
    pub prior: f64,
    /// A neighbour must co-occur with the target in at least this many
    /// orders.
    pub min_pair_count: u32,
    /// Targets seen in fewer orders get no learned in-edges.
    pub min_count: u32,
    /// Use one dense inverse when at most this many items are active.
    pub dense_max_items: usize,
    /// Neighbour ranking.
    pub rank: NeighbourRank,
    /// Keep negative weights too.
    pub keep_negative: bool,
    /// Threads (0 = available parallelism).
    pub threads: usize,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            lambda_per_order: 0.015,
            rho: 0.0,
            lambda_abs: 0.0,
            neighbours: 32,
            max_edges: 64,
            prior: 0.0,
            min_count: 1,
            min_pair_count: 1,
            dense_max_items: 256,
            rank: NeighbourRank::Count,
            keep_negative: false,
            threads: 0,
        }
    }
}

/// A fitted model: CSR out-edges per item, popularity, SKU tie ranks.
#[derive(Clone, Debug)]
pub struct LearnedModel {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<f32>,
    counts: Vec<u32>,
    prior: Vec<f32>,
    /// Rank of each item in (count desc, SKU asc) order.
    tie_rank: Vec<u32>,
    /// Items with count > 0 in tie-rank order.
    popular: Vec<u32>,
    skus: Vec<Box<str>>,
}

impl LearnedModel {
    /// Fits the model on `train`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for out-of-range settings; as
    /// [`CoCounts::count`].
    pub fn fit(train: OrdersView<'_>, config: &LearnConfig) -> Result<LearnedModel> {
        if !(config.lambda_per_order.is_finite() && config.lambda_per_order >= 0.0) {
            return Err(Error::InvalidConfig {
                field: "lambda_per_order",
                value: config.lambda_per_order.to_string(),
                hint: "must be finite and > 0",
            });
        }
        let threads = if config.threads == 0 { default_threads() } else { config.threads };
        let cc = CoCounts::count(train, threads)?;
        let n = cc.n_items();
        let n_orders = train.len().max(1) as f64;
        let lambda = config.lambda_per_order * n_orders + config.lambda_abs;
        let penalty: Vec<f64> = cc.item_counts().iter().map(|&c| lambda + config.rho * f64::from(c)).collect();
        let active: Vec<u32> = (0..n as u32).filter(|&i| cc.count_of(i) > 0).collect();
        let triples = if active.len() <= config.dense_max_items {
            dense_edges(&cc, &active, &penalty, config)
        } else {
            local_edges(&cc, &penalty, config, threads)
        };
        let (offsets, targets, weights) = to_csr(n, triples, config.max_edges);
        // Popularity among the orders a missing-item question can come
        // from: those with at least two items.
        let mut multi = vec![0u32; n];
        for order in train.iter().filter(|o| o.len() >= 2) {
            for &i in order {
                multi[i as usize] += 1;
            }
        }
        let sku_rank = train.log().sku_ranks();
        let counts_all = cc.item_counts();
        let mut popular: Vec<u32> = (0..n as u32).filter(|&i| counts_all[i as usize] > 0).collect();
        popular.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            multi[b].cmp(&multi[a]).then(counts_all[b].cmp(&counts_all[a])).then(sku_rank[a].cmp(&sku_rank[b]))
        });
        let mut tie_rank = vec![u32::MAX; n];
        for (r, &i) in popular.iter().enumerate() {
            tie_rank[i as usize] = r as u32;
        }
        let n_multi = train.iter().filter(|o| o.len() >= 2).count().max(1) as f64;
        let prior = multi.iter().map(|&c| (config.prior * f64::from(c) / n_multi) as f32).collect();
        let skus = train.log().skus().map(Box::from).collect();
        Ok(LearnedModel { offsets, targets, weights, counts: cc.item_counts().to_vec(), prior, tie_rank, popular, skus })
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.counts.len()
    }

    /// Number of edges.
    pub fn n_edges(&self) -> usize {
        self.targets.len()
    }

    /// Out-edges of item `i`: targets sorted by id and weights.
    pub fn edges(&self, i: u32) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[i as usize] as usize, self.offsets[i as usize + 1] as usize);
        (&self.targets[a..b], &self.weights[a..b])
    }

    /// The SKU of an item.
    pub fn sku(&self, i: u32) -> &str {
        &self.skus[i as usize]
    }

    /// Fresh scratch space.
    pub fn scratch(&self) -> Scratch {
        Scratch { score: vec![0.0; self.n_items()], stamp: vec![0; self.n_items()], now: 0, touched: Vec::new(), cands: Vec::new() }
    }

    /// Writes the top-k for `cart` into `out`.
    pub fn recommend_into(&self, s: &mut Scratch, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        s.next_stamp();
        let cart_tag = s.now;
        for &c in cart {
            if let Some(st) = s.stamp.get_mut(c as usize) {
                *st = cart_tag;
            }
        }
        s.next_stamp();
        let tag = s.now;
        for &i in cart {
            if (i as usize) >= self.n_items() {
                continue;
            }
            let (t, w) = self.edges(i);
            for (&j, &wj) in t.iter().zip(w) {
                let st = &mut s.stamp[j as usize];
                if *st == cart_tag {
                    continue;
                }
                if *st != tag {
                    *st = tag;
                    s.score[j as usize] = self.prior[j as usize];
                    s.touched.push(j);
                }
                s.score[j as usize] += wj;
            }
        }
        s.cands.clear();
        for &j in &s.touched {
            s.cands.push((s.score[j as usize], self.tie_rank[j as usize], j));
        }
        s.touched.clear();
        // Untouched popular items score their prior only.
        let mut added = 0;
        for &j in &self.popular {
            if added >= k {
                break;
            }
            let st = s.stamp[j as usize];
            if st != tag && st != cart_tag {
                s.cands.push((self.prior[j as usize], self.tie_rank[j as usize], j));
                added += 1;
            }
        }
        let cmp = |a: &(f32, u32, u32), b: &(f32, u32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if s.cands.len() > k {
            s.cands.select_nth_unstable_by(k - 1, cmp);
            s.cands.truncate(k);
        }
        s.cands.sort_unstable_by(cmp);
        out.extend(s.cands.iter().map(|c| c.2));
    }
}

/// Per-call scratch space.
#[derive(Clone, Debug)]
pub struct Scratch {
    score: Vec<f32>,
    stamp: Vec<u32>,
    now: u32,
    touched: Vec<u32>,
    cands: Vec<(f32, u32, u32)>,
}

impl Scratch {
    fn next_stamp(&mut self) {
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
    }
}

/// A model with its scratch, as a [`Ranker`].
#[derive(Debug)]
pub struct LearnedRanker {
    /// The model.
    pub model: LearnedModel,
    scratch: Scratch,
}

impl LearnedRanker {
    /// Wraps a model.
    pub fn new(model: LearnedModel) -> Self {
        let scratch = model.scratch();
        LearnedRanker { model, scratch }
    }
}

impl Ranker for LearnedRanker {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        self.model.recommend_into(&mut self.scratch, cart, k, out)
    }
}

type Triple = (u32, u32, f32);

fn dense_edges(cc: &CoCounts, active: &[u32], penalty: &[f64], config: &LearnConfig) -> Vec<Triple> {
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
            let q = pos[j as usize];
            if q != u32::MAX {
                a[p * m + q as usize] = f64::from(cij);
            }
        }
    }
    let Some(inv) = spd_inverse(&mut a, m) else { return Vec::new() };
    let mut out = Vec::new();
    for (q, &j) in active.iter().enumerate() {
        if cc.count_of(j) < config.min_count {
            continue;
        }
        let pjj = inv[q * m + q];
        for (p, &i) in active.iter().enumerate() {
            if p == q {
                continue;
            }
            let w = -inv[p * m + q] / pjj;
            if w > 0.0 || (config.keep_negative && w != 0.0) {
                out.push((i, j, w as f32));
            }
        }
    }
    out
}

fn local_edges(cc: &CoCounts, penalty: &[f64], config: &LearnConfig, threads: usize) -> Vec<Triple> {
    let n = cc.n_items();
    let k = config.neighbours.max(1);
    let work: Vec<u64> = (0..n as u32)
        .map(|j| {
            let d = cc.neighbours(j).0.len().min(k) as u64;
            if cc.count_of(j) >= config.min_count { d * d * d / 3 + d * d * 8 + 1 } else { 0 }
        })
        .collect();
    let ranges = split_by_work(&work, threads.max(1));
    let lookup = PairLookup::new(cc, HUB_ITEMS);
    let lookup = &lookup;
    let block = |range: std::ops::Range<usize>| -> Vec<Triple> {
        let mut out = Vec::new();
        let mut cand: Vec<(f64, u32)> = Vec::new();
        let mut nb: Vec<u32> = Vec::new();
        let mut rhs: Vec<f64> = Vec::new();
        let mut a: Vec<f64> = Vec::new();
        for j in range {
            let j = j as u32;
            if cc.count_of(j) < config.min_count {
                continue;
            }
            let (t, c) = cc.neighbours(j);
            if t.is_empty() {
                continue;
            }
            cand.clear();
            for (&i, &cij) in t.iter().zip(c) {
                if cij < config.min_pair_count {
                    continue;
                }
                let key = match config.rank {
                    NeighbourRank::Count => f64::from(cij),
                    NeighbourRank::CountOverSqrt => f64::from(cij) / f64::from(cc.count_of(i)).sqrt(),
                };
                cand.push((key, i));
            }
            if cand.is_empty() {
                continue;
            }
            let cmp = |x: &(f64, u32), y: &(f64, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
            if cand.len() > k {
                cand.select_nth_unstable_by(k - 1, cmp);
                cand.truncate(k);
            }
            nb.clear();
            nb.extend(cand.iter().map(|x| x.1));
            nb.sort_unstable();
            let d = nb.len();
            a.clear();
            a.resize(d * d, 0.0);
            rhs.clear();
            for (p, &i) in nb.iter().enumerate() {
                a[p * d + p] = f64::from(cc.count_of(i)) + penalty[i as usize];
                rhs.push(f64::from(lookup.get(i, j)));
                for q in p + 1..d {
                    let v = f64::from(lookup.get(i, nb[q]));
                    a[p * d + q] = v;
                    a[q * d + p] = v;
                }
            }
            if !cholesky_solve(&mut a, d, &mut rhs) {
                continue;
            }
            for (p, &i) in nb.iter().enumerate() {
                let w = rhs[p];
                if w > 0.0 || (config.keep_negative && w != 0.0) {
                    out.push((i, j, w as f32));
                }
            }
        }
        out
    };
    if ranges.len() == 1 {
        return block(0..n);
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = ranges[1..].iter().cloned().map(|r| s.spawn(|| block(r))).collect();
        let mut all = block(ranges[0].clone());
        for h in hs {
            all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        all
    })
}

/// The most frequent items whose pair counts are copied into a dense
/// `HUB_ITEMS x HUB_ITEMS` table (16 MiB of `u32` at most): lookups between
/// two of them, the common case inside a neighbourhood, are then one load
/// instead of a binary search in a row of thousands.
const HUB_ITEMS: usize = 2048;

/// `c(a, b)` lookups: dense among the hub items, binary search in the
/// shorter row otherwise.
struct PairLookup<'a> {
    cc: &'a CoCounts,
    hub_pos: Vec<u32>,
    hub: Vec<u32>,
    h: usize,
}

impl<'a> PairLookup<'a> {
    fn new(cc: &'a CoCounts, max_hub: usize) -> Self {
        let n = cc.n_items();
        let mut by_count: Vec<u32> = (0..n as u32).filter(|&i| cc.count_of(i) > 0).collect();
        by_count.sort_unstable_by(|&a, &b| cc.count_of(b).cmp(&cc.count_of(a)).then(a.cmp(&b)));
        by_count.truncate(max_hub);
        let h = by_count.len();
        let mut hub_pos = vec![u32::MAX; n];
        for (p, &i) in by_count.iter().enumerate() {
            hub_pos[i as usize] = p as u32;
        }
        let mut hub = vec![0u32; h * h];
        for (p, &i) in by_count.iter().enumerate() {
            let (t, c) = cc.neighbours(i);
            for (&j, &cij) in t.iter().zip(c) {
                let q = hub_pos[j as usize];
                if q != u32::MAX {
                    hub[p * h + q as usize] = cij;
                }
            }
        }
        PairLookup { cc, hub_pos, hub, h }
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> u32 {
        let (pa, pb) = (self.hub_pos[a as usize], self.hub_pos[b as usize]);
        if pa != u32::MAX && pb != u32::MAX {
            return self.hub[pa as usize * self.h + pb as usize];
        }
        let (ta, _) = self.cc.neighbours(a);
        let (tb, _) = self.cc.neighbours(b);
        if ta.len() <= tb.len() {
            self.cc.pair(a, b)
        } else {
            self.cc.pair(b, a)
        }
    }
}

fn to_csr(n: usize, triples: Vec<Triple>, max_edges: usize) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
    let mut start = vec![0u32; n + 1];
    for &(i, _, _) in &triples {
        start[i as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut grouped = vec![(0u32, 0f32); triples.len()];
    for &(i, j, w) in &triples {
        grouped[fill[i as usize] as usize] = (j, w);
        fill[i as usize] += 1;
    }
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u32);
    let mut targets = Vec::new();
    let mut weights = Vec::new();
    for i in 0..n {
        let row = &mut grouped[start[i] as usize..start[i + 1] as usize];
        let cmp = |x: &(u32, f32), y: &(u32, f32)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
        let keep = if row.len() > max_edges {
            row.select_nth_unstable_by(max_edges - 1, cmp);
            max_edges
        } else {
            row.len()
        };
        let row = &mut row[..keep];
        row.sort_unstable_by_key(|x| x.0);
        targets.extend(row.iter().map(|x| x.0));
        weights.extend(row.iter().map(|x| x.1));
        offsets.push(targets.len() as u32);
    }
    (offsets, targets, weights)
}

/// Solves `A x = b` for symmetric positive definite `A` (row-major, n x n,
/// overwritten by its Cholesky factor); `b` becomes `x`. False if `A` is not
/// positive definite.
fn cholesky_solve(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    if !cholesky(a, n) {
        return false;
    }
    // L y = b
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    // L^T x = y
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    true
}

/// In-place lower Cholesky factor (row-major, lower triangle used).
fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let (head, tail) = a.split_at_mut(j * n);
        let row_j = &mut tail[..n];
        let mut d = row_j[j];
        for k in 0..j {
            d -= row_j[k] * row_j[k];
        }
        if !(d > 0.0) || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        row_j[j] = d;
        let _ = head;
        for i in j + 1..n {
            let (upper, lower) = a.split_at_mut(i * n);
            let rj = &upper[j * n..j * n + j];
            let ri = &mut lower[..n];
            let mut s = ri[j];
            for k in 0..j {
                s -= ri[k] * rj[k];
            }
            ri[j] = s / d;
        }
    }
    true
}

/// Inverse of an SPD matrix via Cholesky; `a` is destroyed.
fn spd_inverse(a: &mut [f64], n: usize) -> Option<Vec<f64>> {
    if !cholesky(a, n) {
        return None;
    }
    // inv = L^-T L^-1. Compute Linv (lower), then inv = Linv^T Linv.
    let mut linv = vec![0.0f64; n * n];
    for i in 0..n {
        linv[i * n + i] = 1.0 / a[i * n + i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s -= a[i * n + k] * linv[k * n + j];
            }
            linv[i * n + j] = s / a[i * n + i];
        }
    }
    let mut inv = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += linv[k * n + i] * linv[k * n + j];
            }
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    Some(inv)
}
