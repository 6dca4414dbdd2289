//! Incremental learning: keep the miner's counts between runs and add new
//! orders to them, instead of re-reading the whole history.
//!
//! A [`Miner`] reads every order each time it mines. A shop that mines its
//! history nightly re-reads years of orders to add one day. A
//! [`MinerState`] keeps what the single-item rules are computed from (item
//! counts, pair counts, the order total) keyed by SKU, takes the new orders
//! only ([`add_orders`](MinerState::add_orders)), and turns the counts into
//! a [`MinedGraph`] ([`to_mined_graph`](MinerState::to_mined_graph)). It is
//! serde-serialisable, so it can be saved after each run and loaded for the
//! next.
//!
//! ```
//! use cartwise::{Miner, MinerState, OrderLog};
//! let miner = Miner::new();
//! let mut state = MinerState::new(&miner)?;
//! let monday = OrderLog::from_rows([("1", "pasta"), ("1", "parmesan"), ("2", "pasta")])?;
//! state.add_orders(monday.view())?;
//! let tuesday = OrderLog::from_rows([("3", "pasta"), ("3", "parmesan"), ("4", "wine")])?;
//! state.add_orders(tuesday.view())?;
//!
//! // The same graph as mining both days at once.
//! let both = OrderLog::from_rows([
//!     ("1", "pasta"), ("1", "parmesan"), ("2", "pasta"),
//!     ("3", "pasta"), ("3", "parmesan"), ("4", "wine"),
//! ])?;
//! assert_eq!(state.to_mined_graph(&miner)?, miner.mine(both.view())?);
//!
//! // Kept between runs as JSON (or any serde format).
//! # #[cfg(feature = "serde")] {
//! let saved = serde_json::to_string(&state).unwrap();
//! let loaded: MinerState = serde_json::from_str(&saved).unwrap();
//! assert_eq!(loaded, state);
//! # }
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! # The guarantee
//!
//! Adding order batches `B1, B2, ..., Bk` one call each and then calling
//! `to_mined_graph(&miner)` gives the graph `miner.mine` gives on one log
//! holding the orders of `B1` to `Bk` in that order (as separate orders:
//! an order id repeated in two batches is two orders here, where one log
//! would merge its lines), for any thresholds, measure, top-N and
//! conviction cap:
//!
//! * **without time decay** (purchases only, or with event weights), equal
//!   to the last bit: the same [`MinedGraph`] and the same JSON bytes. Each
//!   pair's count is summed order by order in log order, exactly as the
//!   full count sums it (`tests/incremental.rs`, a property over random
//!   logs split at random points, and the shared datasets);
//! * **with [`Decay::HalfLife`]**, equal up to floating-point rounding. The
//!   weights depend on the newest order's time; when a batch brings a newer
//!   one, the stored sums are multiplied by `0.5^(Δt / half_life)`, which
//!   is the same weight mathematically but not always the same last bit
//!   as computing `0.5^(age / half_life)` afresh (the tests check counts
//!   to a relative 1e-9); a rule whose weight ties another's to the last
//!   bit may then rank the other way in a top-N. Batches that do not move
//!   the newest time add exactly. Old sums shrink by every rescale and
//!   reach 0 after about 1,075 half-lives (the `f64` range), as the full
//!   rebuild's weights do.
//!
//! The state is created for one weighting ([`MinerState::new`] takes the
//! miner's [`Decay`] and [`Events`]), since counts summed under one cannot
//! be turned into another; `to_mined_graph` refuses a miner whose decay or
//! events differ.
//!
//! # Itemset rules need a full rebuild
//!
//! The miner counts triples `{A, B, C}` only inside *frequent* pairs, and
//! which pairs are frequent is known only once all orders are counted. A
//! pair that becomes frequent with today's orders needs the triples of
//! every earlier order that held it, which a state of pair counts no longer
//! has. Keeping every triple instead would cost O(m³) per order of m items
//! (22 million for one 512-item order) and memory per distinct triple,
//! which no cap tied to the pair count bounds. So the state holds single
//! items and pairs only, and `to_mined_graph` refuses
//! [`Itemsets::Mine`]: mine itemset rules with a
//! full [`Miner::mine`] (for instance weekly), and the single-item rules
//! incrementally in between.
//!
//! # Memory
//!
//! * 16 bytes per distinct co-occurring pair (a `u64` key of two item ids
//!   and an `f64` sum), in one sorted array;
//! * per item: its SKU (twice: the table and the hash index, about 80
//!   bytes plus twice its length) and an `f64` count;
//! * while a batch is added: a second and a third copy of the pair arrays
//!   (the merge writes a new array, and the old state is kept until the
//!   batch is known to fit, so a failed add changes nothing), plus 16
//!   bytes per pair occurrence of a chunk of at most [`CHUNK_PAIRS`]
//!   occurrences (64 MB);
//! * while building a graph: 8 bytes per stored pair and direction for the
//!   [`CoCounts`] the rules are computed from.
//!
//! Two caps bound it, both checked before anything changes:
//! [`max_items`](MinerState::max_items) distinct SKUs
//! ([`DEFAULT_MAX_ITEMS`] by default) and
//! [`max_pairs`](MinerState::max_pairs) distinct pairs
//! ([`DEFAULT_MAX_PAIRS`], 8 GB of pair arrays). Past either, `add_orders`
//! returns [`Error::CapExceeded`] and the state is as before.
//!
//! # Time
//!
//! Adding a batch costs O(Σ m² over its orders) to list its pairs, a sort
//! of each chunk, and one pass over the stored pairs per chunk (the
//! merge). Add orders in batches (a day's, an hour's), not one at a time:
//! a call of one order still pays for the pass over every stored pair.

use ahash::AHashMap;

use crate::cooc::{CoCounts, WeightedCoCounts, MAX_PAIR_ENTRIES};
use crate::error::{Error, Result};
use crate::mine::{Counts, Decay, Events, Itemsets, MinedGraph, Miner};
use crate::orders::{OrdersView, DEFAULT_MAX_ITEMS, MAX_ITEMS};

/// The default cap on distinct pairs a [`MinerState`] keeps: 500 million,
/// 8 GB at 16 bytes per pair. Change it with
/// [`MinerState::max_pairs`], up to [`MAX_PAIRS`].
pub const DEFAULT_MAX_PAIRS: usize = 500_000_000;

/// The most distinct pairs a [`MinerState`] can keep: a graph built from it
/// stores each pair twice with `u32` offsets.
pub const MAX_PAIRS: usize = MAX_PAIR_ENTRIES / 2;

/// The most pair occurrences listed before they are merged into the stored
/// pairs (16 bytes each: 64 MB). Bounds the memory of adding a large batch.
pub const CHUNK_PAIRS: usize = 1 << 22;

/// The `format` tag of a serialised state.
pub const STATE_FORMAT: &str = "cartwise-miner-state";

/// The serialised state's version this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Item and pair counts kept between runs, keyed by SKU; see the [module
/// docs](self).
///
/// Item ids inside the state are the SKUs' first-appearance order across
/// all batches; they never leave it ([`to_mined_graph`](Self::to_mined_graph)
/// orders items by SKU, as the miner does).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "wire::Wire", into = "wire::Wire")
)]
pub struct MinerState {
    /// The weighting the counts were summed under.
    decay: Decay,
    /// As `decay`.
    events: Events,
    /// SKU of each state item id; non-empty, distinct.
    skus: Vec<Box<str>>,
    /// SKU -> state item id; the inverse of `skus`.
    index: AHashMap<Box<str>, u32>,
    /// `c(i)`, finite and `>= 0`, parallel to `skus`.
    item_counts: Vec<f64>,
    /// Orders added.
    n_orders: u64,
    /// `n`, the order total: finite, `>= 0`.
    total: f64,
    /// Whether a batch had events (then the graph is built from weighted
    /// counts, as a full mine of a log with events is).
    any_events: bool,
    /// Under decay, the newest order time seen (Unix seconds): the
    /// reference the stored sums are weighted to. `None` before the first
    /// order, and always without decay.
    newest: Option<f64>,
    /// Pair keys `a << 32 | b`, `a < b` state ids, strictly ascending.
    keys: Vec<u64>,
    /// `c(a, b)`, finite and `>= 0`, parallel to `keys`.
    sums: Vec<f64>,
    /// Cap on distinct SKUs.
    max_items: usize,
    /// Cap on distinct pairs.
    max_pairs: usize,
}

impl MinerState {
    /// An empty state for `miner`'s weighting (its [`Decay`] and
    /// [`Events`]); its other settings (thresholds, measure, top-N) are
    /// chosen later, at [`to_mined_graph`](Self::to_mined_graph).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a miner setting out of range (see
    /// [`Miner::validate`]).
    pub fn new(miner: &Miner) -> Result<Self> {
        miner.validate()?;
        Ok(MinerState {
            decay: miner.decay_setting(),
            events: miner.events_setting(),
            skus: Vec::new(),
            index: AHashMap::new(),
            item_counts: Vec::new(),
            n_orders: 0,
            total: 0.0,
            any_events: false,
            newest: None,
            keys: Vec::new(),
            sums: Vec::new(),
            max_items: DEFAULT_MAX_ITEMS,
            max_pairs: DEFAULT_MAX_PAIRS,
        })
    }

    /// Sets the cap on distinct SKUs (values above [`MAX_ITEMS`] act as
    /// [`MAX_ITEMS`]). Default [`DEFAULT_MAX_ITEMS`]. A state already past
    /// a lowered cap keeps its items and refuses new ones.
    pub fn max_items(&mut self, cap: usize) -> &mut Self {
        self.max_items = cap.min(MAX_ITEMS);
        self
    }

    /// Sets the cap on distinct pairs (values above [`MAX_PAIRS`] act as
    /// [`MAX_PAIRS`]). Default [`DEFAULT_MAX_PAIRS`].
    pub fn max_pairs(&mut self, cap: usize) -> &mut Self {
        self.max_pairs = cap.min(MAX_PAIRS);
        self
    }

    /// The number of orders added.
    pub fn n_orders(&self) -> u64 {
        self.n_orders
    }

    /// The number of distinct SKUs met (some may count 0, e.g. items only
    /// viewed when views are not counted).
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// The number of distinct co-occurring pairs stored.
    pub fn n_pairs(&self) -> usize {
        self.keys.len()
    }

    /// `n`, the order total (the number of orders, or their summed weight
    /// under decay or events), weighted to the newest time seen.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// `c(sku)`: the orders (or order weight) holding it; 0 for a SKU never
    /// seen. O(|sku|).
    pub fn count(&self, sku: &str) -> f64 {
        self.index
            .get(sku)
            .map_or(0.0, |&i| self.item_counts[i as usize])
    }

    /// `c(a, b)` (0 when never together, or `a == b`). O(|a| + |b| + log
    /// pairs).
    pub fn pair(&self, a: &str, b: &str) -> f64 {
        match (self.index.get(a), self.index.get(b)) {
            (Some(&i), Some(&j)) if i != j => self
                .keys
                .binary_search(&key(i.min(j), i.max(j)))
                .map_or(0.0, |k| self.sums[k]),
            _ => 0.0,
        }
    }

    /// Under [`Decay::HalfLife`], the newest order time seen, in Unix
    /// seconds: the time the counts are weighted to.
    pub fn newest(&self) -> Option<f64> {
        self.newest
    }

    /// Heap bytes held (capacities, the hash index estimated at 16 bytes
    /// per slot plus the SKU copy).
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self.skus.iter().map(|s| s.len()).sum();
        self.skus.capacity() * 16
            + self.index.capacity() * 24
            + 2 * strings
            + self.item_counts.capacity() * 8
            + self.keys.capacity() * 8
            + self.sums.capacity() * 8
    }

    /// Adds the orders of `orders` (the new ones only) to the counts.
    ///
    /// Each order is weighted as [`Miner::mine`] weighs it (see the
    /// [module docs](self#the-guarantee)); under decay, when the batch holds
    /// an order newer than any before, the stored counts are first rescaled
    /// to that time. An empty view changes nothing.
    ///
    /// # Errors
    /// [`Error::InvalidTimestamp`] under decay for an order without a
    /// readable timestamp; [`Error::CapExceeded`] past
    /// [`max_items`](Self::max_items) or [`max_pairs`](Self::max_pairs).
    /// The state is unchanged by a failed call.
    pub fn add_orders(&mut self, orders: OrdersView<'_>) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let log = orders.log();
        // Order weights, relative to the newest time (decay only).
        let (order_w, newest, rescale) = match self.decay {
            Decay::None => (Vec::new(), None, 1.0),
            Decay::HalfLife(h) => {
                let half_life = h.as_secs_f64();
                let mut times = Vec::with_capacity(orders.len());
                for i in 0..orders.len() {
                    let o = orders.log_index(i);
                    let text = log.timestamp(o).unwrap_or("");
                    let t =
                        crate::date::unix_seconds(text).ok_or_else(|| Error::InvalidTimestamp {
                            order_id: log.order_id(o).to_owned(),
                            value: text.to_owned(),
                        })?;
                    times.push(t);
                }
                let batch = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let newest = self.newest.map_or(batch, |old| old.max(batch));
                let rescale = match self.newest {
                    Some(old) if newest > old => 0.5f64.powf((newest - old) / half_life),
                    _ => 1.0,
                };
                // The same expression as the miner's, so that a batch that
                // does not move the newest time adds exactly.
                let w = times
                    .iter()
                    .map(|&t| 0.5f64.powf((newest - t) / half_life))
                    .collect();
                (w, Some(newest), rescale)
            }
        };
        let events = self.events.weights();
        let has_events = log.has_events();

        // Log item id -> state id, interning new SKUs (committed at the end).
        let mut map = vec![u32::MAX; log.n_items()];
        let mut new_skus: Vec<&str> = Vec::new();
        let limit = self.max_items.min(MAX_ITEMS);
        for order in orders.iter() {
            for &i in order {
                if map[i as usize] != u32::MAX {
                    continue;
                }
                let sku = log.sku(i);
                map[i as usize] = match self.index.get(sku) {
                    Some(&s) => s,
                    None => {
                        let id = self.skus.len() + new_skus.len();
                        if id >= limit {
                            return Err(Error::CapExceeded {
                                what: "distinct SKUs in the miner state",
                                cap: limit as u64,
                                got: id as u64 + 1,
                            });
                        }
                        new_skus.push(sku);
                        id as u32
                    }
                };
            }
        }

        // Item counts and the total, in a copy until the batch fits.
        let mut item_counts = Vec::with_capacity(self.skus.len() + new_skus.len());
        item_counts.extend(self.item_counts.iter().map(|c| c * rescale));
        item_counts.resize(self.skus.len() + new_skus.len(), 0.0);
        let mut total = self.total * rescale;
        let mut line_w: Vec<f64> = Vec::new();
        // Pair occurrences in log order, merged chunk by chunk.
        let mut occurrences: Vec<(u64, f64)> = Vec::new();
        let mut merged: Option<(Vec<u64>, Vec<f64>)> = None;
        for o in 0..orders.len() {
            let w = order_w.get(o).copied().unwrap_or(1.0);
            let order = orders.order(o);
            line_w.clear();
            match log.events(orders.log_index(o)) {
                Some(ev) if has_events => {
                    line_w.extend(ev.iter().map(|&e| f64::from(events.of(e))));
                }
                _ => line_w.resize(order.len(), 1.0),
            }
            let mut most = 0f64;
            for (k, &i) in order.iter().enumerate() {
                let e = line_w[k];
                item_counts[map[i as usize] as usize] += w * e;
                most = most.max(e);
            }
            total += w * most;
            let pair_items = orders.pair_items(o);
            for (x, &i) in pair_items.iter().enumerate() {
                let wi = w * line_w[x];
                if wi <= 0.0 {
                    continue;
                }
                let si = map[i as usize];
                for (y, &j) in pair_items.iter().enumerate().skip(x + 1) {
                    let wj = w * line_w[y];
                    if wj <= 0.0 {
                        continue;
                    }
                    let sj = map[j as usize];
                    // Lower state id first: the miner's row of the lower id
                    // sums (w·e_lo)·e_hi; with w = 1 both rows agree.
                    let (lo, ey, hi) = if si < sj {
                        (si, line_w[y], sj)
                    } else {
                        (sj, line_w[x], si)
                    };
                    let elo = if si < sj { wi } else { wj };
                    occurrences.push((key(lo, hi), elo * ey));
                }
            }
            if occurrences.len() >= CHUNK_PAIRS {
                merged = Some(self.merge(merged, &mut occurrences, rescale)?);
            }
        }
        let (keys, sums) = self.merge(merged, &mut occurrences, rescale)?;

        // Everything fits: commit.
        for sku in new_skus {
            let id = self.skus.len() as u32;
            self.skus.push(sku.into());
            self.index.insert(sku.into(), id);
        }
        self.item_counts = item_counts;
        self.total = total;
        self.n_orders = self.n_orders.saturating_add(orders.len() as u64);
        self.any_events |= has_events;
        self.newest = newest.or(self.newest);
        self.keys = keys;
        self.sums = sums;
        Ok(())
    }

    /// Merges the listed occurrences into the pairs so far (`merged`, or
    /// the state's own rescaled by `rescale` when `None`), summing each
    /// pair's values in list order, and empties the list.
    fn merge(
        &self,
        merged: Option<(Vec<u64>, Vec<f64>)>,
        occurrences: &mut Vec<(u64, f64)>,
        rescale: f64,
    ) -> Result<(Vec<u64>, Vec<f64>)> {
        // Stable: a pair's values stay in order-of-orders.
        occurrences.sort_by_key(|o| o.0);
        let (old_keys, old_sums, scale): (&[u64], &[f64], f64) = match &merged {
            Some((k, s)) => (k, s, 1.0),
            None => (&self.keys, &self.sums, rescale),
        };
        let mut keys = Vec::with_capacity(old_keys.len() + occurrences.len().min(1 << 20));
        let mut sums = Vec::with_capacity(keys.capacity());
        let (mut a, mut b) = (0, 0);
        while a < old_keys.len() || b < occurrences.len() {
            let k = match (old_keys.get(a), occurrences.get(b)) {
                (Some(&x), Some(&(y, _))) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&(y, _))) => y,
                (None, None) => break,
            };
            let mut sum = 0f64;
            if old_keys.get(a) == Some(&k) {
                sum = old_sums[a] * scale;
                a += 1;
            }
            while let Some(&(y, v)) = occurrences.get(b) {
                if y != k {
                    break;
                }
                sum += v;
                b += 1;
            }
            keys.push(k);
            sums.push(sum);
        }
        let cap = self.max_pairs.min(MAX_PAIRS);
        if keys.len() > cap {
            return Err(Error::CapExceeded {
                what: "distinct pairs in the miner state",
                cap: cap as u64,
                got: keys.len() as u64,
            });
        }
        occurrences.clear();
        Ok((keys, sums))
    }

    /// The rules `miner` would mine from all the orders added: see the
    /// [module docs](self#the-guarantee). Runs in O(items log items +
    /// pairs).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a miner setting out of range, a miner
    /// whose decay or events differ from the state's (`field` `"decay"` or
    /// `"events"`), or one that mines itemset rules (`"itemsets"`: they
    /// need a full rebuild); [`Error::EmptyOrders`] before any order was
    /// added; [`Error::CapExceeded`] past [`MAX_RULES`](crate::mine::MAX_RULES)
    /// rules, or an unweighted count past `u32::MAX` (where the full count
    /// stops too).
    pub fn to_mined_graph(&self, miner: &Miner) -> Result<MinedGraph> {
        self.check_miner(miner)?;
        if self.n_orders == 0 {
            return Err(Error::EmptyOrders);
        }
        let counts = self.counts()?;
        let skus = &self.skus;
        miner.single_rules(
            &counts,
            skus.len(),
            |i| &skus[i as usize],
            self.n_orders,
            &mut |_| {},
        )
    }

    /// Checks that `miner` can build a graph from this state.
    pub(crate) fn check_miner(&self, miner: &Miner) -> Result<()> {
        miner.validate()?;
        let bad = |field: &'static str, value: String, hint: &'static str| {
            Err(Error::InvalidConfig { field, value, hint })
        };
        if miner.decay_setting() != self.decay {
            return bad(
                "decay",
                format!("{:?}", miner.decay_setting()),
                "the decay the state was created with (MinerState::new)",
            );
        }
        if miner.events_setting() != self.events {
            return bad(
                "events",
                format!("{:?}", miner.events_setting()),
                "the events the state was created with (MinerState::new)",
            );
        }
        if miner.itemsets_setting() == Itemsets::Mine {
            return bad(
                "itemsets",
                "Mine".into(),
                "a miner state counts pairs only: mine itemset rules with a full Miner::mine",
            );
        }
        Ok(())
    }

    /// The counts as the miner's CSR, both directions, rows sorted.
    fn counts(&self) -> Result<Counts> {
        let n = self.skus.len();
        let weighted = self.decay != Decay::None || self.any_events;
        // A weighted count is stored as `f32`, as the full count does; one
        // that rounds to 0 is no pair there either.
        let keep = |s: f64| !weighted || (s as f32) > 0.0;
        let mut offsets = vec![0u32; n + 1];
        for (&k, &s) in self.keys.iter().zip(&self.sums) {
            if keep(s) {
                let (a, b) = unkey(k);
                offsets[a as usize + 1] += 1;
                offsets[b as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let entries = offsets[n] as usize;
        let mut targets = vec![0u32; entries];
        let mut fill = offsets.clone();
        // Keys ascend by (a, b): row r receives its neighbours below r
        // (from keys (a, r)) before those above (from keys (r, b)), each
        // ascending, so every row comes out sorted.
        let mut put = |row: u32, target: u32| {
            let slot = &mut fill[row as usize];
            let at = *slot as usize;
            *slot += 1;
            targets[at] = target;
            at
        };
        if weighted {
            let mut counts = vec![0f32; entries];
            for (&k, &s) in self.keys.iter().zip(&self.sums) {
                if keep(s) {
                    let (a, b) = unkey(k);
                    counts[put(a, b)] = s as f32;
                    counts[put(b, a)] = s as f32;
                }
            }
            Ok(Counts::Weighted(WeightedCoCounts::from_parts(
                self.item_counts.clone(),
                self.total,
                usize::try_from(self.n_orders).unwrap_or(usize::MAX),
                offsets,
                targets,
                counts,
            )))
        } else {
            let as_u32 = |c: f64, what: &'static str| {
                u32::try_from(c as u64).map_err(|_| Error::CapExceeded {
                    what,
                    cap: u64::from(u32::MAX),
                    got: c as u64,
                })
            };
            let mut counts = vec![0u32; entries];
            for (&k, &s) in self.keys.iter().zip(&self.sums) {
                let (a, b) = unkey(k);
                let c = as_u32(s, "pair count")?;
                counts[put(a, b)] = c;
                counts[put(b, a)] = c;
            }
            let items = self
                .item_counts
                .iter()
                .map(|&c| as_u32(c, "item count"))
                .collect::<Result<Vec<u32>>>()?;
            Ok(Counts::Plain(CoCounts::from_parts(
                items,
                usize::try_from(self.n_orders).unwrap_or(usize::MAX),
                offsets,
                targets,
                counts,
            )))
        }
    }
}

/// The key of pair `(a, b)`, `a < b`.
#[inline]
fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// The pair of a key.
#[inline]
fn unkey(k: u64) -> (u32, u32) {
    ((k >> 32) as u32, k as u32)
}

#[cfg(feature = "serde")]
mod wire {
    //! The serialised form: SKUs by state id, counts, pairs as
    //! `(a, b, count)` triples, and the weighting. Checked in full on the
    //! way in.

    use super::*;
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Wire {
        format: String,
        version: u32,
        /// The decay's half-life; `None` without decay.
        half_life: Option<Duration>,
        /// `[cart, view]` event weights; `None` for purchases only.
        event_weights: Option<[f32; 2]>,
        orders: u64,
        total: f64,
        any_events: bool,
        newest: Option<f64>,
        max_items: u64,
        max_pairs: u64,
        skus: Vec<String>,
        counts: Vec<f64>,
        pairs: Vec<(u32, u32, f64)>,
    }

    impl From<MinerState> for Wire {
        fn from(s: MinerState) -> Wire {
            Wire {
                format: STATE_FORMAT.to_owned(),
                version: STATE_VERSION,
                half_life: match s.decay {
                    Decay::None => None,
                    Decay::HalfLife(h) => Some(h),
                },
                event_weights: match s.events {
                    Events::PurchasesOnly => None,
                    Events::Weighted(w) => Some([w.cart, w.view]),
                },
                orders: s.n_orders,
                total: s.total,
                any_events: s.any_events,
                newest: s.newest,
                max_items: s.max_items as u64,
                max_pairs: s.max_pairs as u64,
                skus: s.skus.into_iter().map(String::from).collect(),
                counts: s.item_counts,
                pairs: s
                    .keys
                    .iter()
                    .zip(&s.sums)
                    .map(|(&k, &c)| {
                        let (a, b) = unkey(k);
                        (a, b, c)
                    })
                    .collect(),
            }
        }
    }

    impl TryFrom<Wire> for MinerState {
        type Error = Error;

        fn try_from(w: Wire) -> Result<MinerState> {
            let bad = |reason: String| {
                Err(Error::Snapshot {
                    reason: format!("miner state: {reason}"),
                })
            };
            if w.format != STATE_FORMAT {
                return bad(format!("format {:?} is not {STATE_FORMAT:?}", w.format));
            }
            if w.version != STATE_VERSION {
                return Err(Error::SnapshotVersion {
                    expected: STATE_VERSION,
                    found: w.version,
                });
            }
            let mut miner = Miner::new();
            if let Some(h) = w.half_life {
                miner.decay(Decay::HalfLife(h));
            }
            if let Some([cart, view]) = w.event_weights {
                miner.events(Events::Weighted(crate::mine::EventWeights::new(cart, view)));
            }
            miner.validate()?;
            let mut state = MinerState::new(&miner)?;
            state.max_items(usize::try_from(w.max_items).unwrap_or(usize::MAX));
            state.max_pairs(usize::try_from(w.max_pairs).unwrap_or(usize::MAX));
            let n = w.skus.len();
            if n > state.max_items {
                return bad(format!("{n} SKUs, past its cap of {}", state.max_items));
            }
            if w.pairs.len() > state.max_pairs {
                return bad(format!(
                    "{} pairs, past its cap of {}",
                    w.pairs.len(),
                    state.max_pairs
                ));
            }
            if w.counts.len() != n {
                return bad(format!("{} counts for {n} SKUs", w.counts.len()));
            }
            let finite = |x: f64| x.is_finite() && x >= 0.0;
            if !w.counts.iter().all(|&c| finite(c)) || !finite(w.total) {
                return bad("a count or the total is not finite and >= 0".into());
            }
            match (state.decay, w.newest) {
                (Decay::None, None) => {}
                (Decay::HalfLife(_), Some(t)) if t.is_finite() => {}
                (Decay::HalfLife(_), None) if w.orders == 0 => {}
                _ => return bad("newest time missing, not finite, or set without decay".into()),
            }
            let mut index = AHashMap::with_capacity(n);
            for (i, sku) in w.skus.iter().enumerate() {
                if sku.is_empty() {
                    return bad(format!("empty SKU at item {i}"));
                }
                if index
                    .insert(Box::<str>::from(sku.as_str()), i as u32)
                    .is_some()
                {
                    return bad(format!("SKU {sku:?} appears twice"));
                }
            }
            let mut keys = Vec::with_capacity(w.pairs.len());
            let mut sums = Vec::with_capacity(w.pairs.len());
            for &(a, b, c) in &w.pairs {
                if !(a < b && (b as usize) < n && finite(c)) {
                    return bad(format!(
                        "pair ({a}, {b}) out of range or unordered, or its count {c} not finite and >= 0"
                    ));
                }
                let k = key(a, b);
                if keys.last().is_some_and(|&last| last >= k) {
                    return bad(format!("pair ({a}, {b}) out of order or repeated"));
                }
                keys.push(k);
                sums.push(c);
            }
            state.skus = w.skus.into_iter().map(Box::from).collect();
            state.index = index;
            state.item_counts = w.counts;
            state.n_orders = w.orders;
            state.total = w.total;
            state.any_events = w.any_events;
            state.newest = w.newest;
            state.keys = keys;
            state.sums = sums;
            Ok(state)
        }
    }
}
