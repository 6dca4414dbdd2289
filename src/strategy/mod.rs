//! Strategies: where candidate suggestions come from.
//!
//! A [`Strategy`] looks at the cart and pushes candidates with evidence into
//! a caller-owned [`Candidates`] sink. The engine runs every strategy that
//! serves a requested [`Kind`], then filters the pooled candidates (never in
//! the cart, out of stock, over budget, excluded), scores them with a
//! [`Scorer`](crate::Scorer), and keeps the best.
//!
//! Built in:
//! * [`CrossSell`]: curated complement edges plus category rules.
//! * [`Upsell`]: higher tiers of a cart product's family, within a price step.
//! * [`Learned`]: weights fitted from order history, with a popularity
//!   prior and fallback.
//! * [`Associations`]: association rules mined from order history
//!   ([`crate::mine`]) or by Spark ([`crate::spark`]), with itemset rules
//!   that fire on two cart products together.
//!
//! Evidence accumulates: a product reached from two cart lines, or by two
//! strategies, is one candidate whose relevance is the sum of its evidence,
//! and whose explanation names the strongest piece and counts the rest.
//!
//! Writing your own is a matter of implementing one method; the engine
//! calls it once per request, so dynamic dispatch is paid once per strategy,
//! not per edge:
//!
//! ```
//! use cartwise::{Candidates, Catalog, Context, Kind, Strategy, Via};
//!
//! /// Suggests gift wrap with anything over 100.00.
//! #[derive(Debug)]
//! struct GiftWrap { wrap: cartwise::ProductId }
//!
//! impl<C: Catalog + ?Sized> Strategy<C> for GiftWrap {
//!     fn name(&self) -> &str { "gift-wrap" }
//!     fn kind(&self) -> Kind { Kind::CrossSell }
//!     fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
//!         for line in ctx.cart {
//!             if ctx.catalog.price(line.product).minor() > 100_00 {
//!                 sink.add_cross_sell(self.wrap, line.product, 0.3, Via::Custom);
//!             }
//!         }
//!     }
//! }
//! ```

use std::fmt;

use crate::cart::CartLine;
use crate::catalog::Catalog;
use crate::graph::EdgeMeta;
use crate::id::{CategoryId, ProductId};
use crate::recommend::Request;
use crate::relation::RelationId;

pub mod associations;
pub mod cross_sell;
pub mod learned;
pub mod similar;
pub mod upsell;

pub use associations::Associations;
pub use cross_sell::{CrossSell, CrossSellConfig};
pub use learned::{Learned, LearnedGraph};
pub use similar::Similar;
pub use upsell::{FeatureRule, Upsell, UpsellConfig};

/// The two kinds of suggestion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Kind {
    /// A complementary product to add beside the cart's.
    CrossSell,
    /// A better version of a product in the cart, to replace it.
    Upsell,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::CrossSell => "cross_sell",
            Kind::Upsell => "upsell",
        })
    }
}

/// How a piece of cross-sell evidence was found; it shapes the reason text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Via {
    /// A curated complement edge.
    Edge,
    /// A category -> category rule.
    CategoryRule,
    /// Weights learned from order history.
    Learned,
    /// Products commonly bought (popularity fallback).
    Popular,
    /// Shares category and features with a cart product ("more like this").
    Similar,
    /// A user-defined strategy; the reason names the strategy.
    Custom,
}

/// Everything a strategy or scorer may read during one request.
#[derive(Debug)]
pub struct Context<'a, C: ?Sized> {
    /// The catalog being served.
    pub catalog: &'a C,
    /// The cart's lines, merged (each product once) and validated.
    pub cart: &'a [CartLine],
    /// The request.
    pub request: &'a Request,
    /// Categories of the cart's products, sorted, without duplicates.
    pub cart_categories: &'a [CategoryId],
    /// The same lines as `cart`, sorted by product, so lookups stay
    /// O(log lines) for huge carts. May be left empty (then lookups scan
    /// `cart`).
    pub cart_by_product: &'a [CartLine],
}

impl<C: Catalog + ?Sized> Context<'_, C> {
    /// Whether a product is in the cart. O(log cart lines).
    #[inline]
    pub fn in_cart(&self, product: ProductId) -> bool {
        self.line(product).is_some()
    }

    /// Units of a product the cart holds (0 when none). O(log cart lines).
    #[inline]
    pub fn quantity_in_cart(&self, product: ProductId) -> u32 {
        self.line(product).map_or(0, |l| l.quantity)
    }

    /// The cart line holding `product`: a binary search over
    /// `cart_by_product`, or a scan of `cart` when that was left empty.
    #[inline]
    fn line(&self, product: ProductId) -> Option<&CartLine> {
        if self.cart_by_product.len() == self.cart.len() {
            let i = self
                .cart_by_product
                .binary_search_by_key(&product, |l| l.product)
                .ok()?;
            self.cart_by_product.get(i)
        } else {
            self.cart.iter().find(|l| l.product == product)
        }
    }

    /// Whether the cart already holds a product of this category.
    #[inline]
    pub fn covers_category(&self, category: CategoryId) -> bool {
        self.cart_categories.binary_search(&category).is_ok()
    }
}

/// A source of candidate suggestions. Object-safe; the engine stores
/// `Box<dyn Strategy<C>>`.
///
/// # Contract
/// * Push only ids of `ctx.catalog`; weights must be finite and `>= 0`
///   (others are ignored by the sink, so a bad model cannot poison a
///   ranking).
/// * Be deterministic: the same context must push the same candidates in
///   the same order, or ties may break differently between calls.
/// * Do not filter for stock, budget or cart membership: the engine does
///   that once for all strategies. Filtering early is allowed as a speed-up.
pub trait Strategy<C: ?Sized>: Send + Sync + fmt::Debug {
    /// A short name for logs, reasons and evaluation tables.
    fn name(&self) -> &str;
    /// Which kind of suggestion this strategy mainly produces.
    fn kind(&self) -> Kind;
    /// Whether the strategy can produce any of the requested kinds; the
    /// engine skips it otherwise. Defaults to `kinds.includes(self.kind())`;
    /// a strategy that produces both kinds overrides it.
    fn serves(&self, kinds: crate::Kinds) -> bool {
        kinds.includes(self.kind())
    }
    /// Pushes candidates for the cart in `ctx` into `sink`.
    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates);
    /// Reads, and discards, the first data [`candidates`](Self::candidates)
    /// will need for this cart. Optional; the default does nothing, and
    /// the answer never depends on it.
    ///
    /// The engine calls `prefetch` of every strategy it is about to run
    /// before it calls any `candidates`. On a large catalog most of what a
    /// strategy reads per cart line is a cache miss, and the strategies run
    /// one after another, so the second one's misses would start only when
    /// the first has finished. A prefetch lets them start while the first
    /// strategy works. Keep it to the first one or two reads of a chain
    /// (a line's family, the family's member list): a load that waits for
    /// another blocks the processor from running ahead, and a prefetch that
    /// walked the whole chain measured slower than one that stops early.
    /// Where the address is known without a read, prefer a hint that
    /// nothing waits for: [`Catalog::prefetch`] for a product's serving
    /// data (cross-sell issues one per edge target).
    fn prefetch(&self, _ctx: &Context<'_, C>) {}
}

/// The strongest single piece of evidence behind a candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Evidence {
    /// "Goes with a cart product."
    Complement {
        /// The cart product it complements.
        source: ProductId,
        /// The weight of that piece of evidence.
        weight: f32,
        /// How it was found.
        via: Via,
        /// The relation type of the edge ([`RelationId::COMPLEMENT`] when
        /// not from a typed edge).
        relation: RelationId,
        /// Index of the strategy that pushed it, in engine order.
        strategy: u16,
    },
    /// "Replaces a cart line with a better tier."
    Upgrade {
        /// Index of the cart line (in the merged cart) it replaces.
        line: u16,
        /// The replaced product.
        replaces: ProductId,
        /// How well it fits, in `[0, 1]`: 1 is the smallest sensible step.
        fit: f32,
    },
}

/// One pooled candidate with its accumulated evidence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The suggested product.
    pub product: ProductId,
    /// Sum of the cross-sell evidence weights.
    pub cross_weight: f32,
    /// Fit of the best upgrade evidence, 0 when none.
    pub upgrade_fit: f32,
    /// Number of pieces of evidence pooled.
    pub support: u16,
    /// The strongest complement evidence, if any.
    pub best_complement: Option<Evidence>,
    /// The best upgrade evidence, if any.
    pub upgrade: Option<Evidence>,
    /// Units to suggest (at least 1): from quantity-aware edges, what the
    /// cart's lines call for minus what it already holds.
    pub quantity: u32,
    /// Whether the product is already in the cart but short of what a
    /// quantity-aware edge calls for: the suggestion tops it up.
    pub top_up: bool,
    /// Whether a merchant pinned a link to it from a cart product.
    pub pinned: bool,
    /// The score, set by the scorer.
    pub score: f32,
}

impl Candidate {
    /// A candidate without evidence yet: one unit, score 0.
    #[inline]
    const fn new(product: ProductId) -> Self {
        Candidate {
            product,
            cross_weight: 0.0,
            upgrade_fit: 0.0,
            support: 0,
            best_complement: None,
            upgrade: None,
            quantity: 1,
            top_up: false,
            pinned: false,
            score: 0.0,
        }
    }

    /// Upsell when there is upgrade evidence (an upgrade of a cart product
    /// is an upsell even when an edge also points at it), else cross-sell.
    #[inline]
    pub fn kind(&self) -> Kind {
        if self.upgrade.is_some() {
            Kind::Upsell
        } else {
            Kind::CrossSell
        }
    }

    /// The evidence the reason is built from.
    #[inline]
    pub fn evidence(&self) -> Option<Evidence> {
        self.upgrade.or(self.best_complement)
    }

    /// The cart product this candidate relates to most.
    pub fn anchor(&self) -> Option<ProductId> {
        match self.evidence()? {
            Evidence::Complement { source, .. } => Some(source),
            Evidence::Upgrade { replaces, .. } => Some(replaces),
        }
    }
}

/// Whether a strategy's weight can be pooled: finite and `>= 0`, `-0.0`
/// included, as `w >= 0.0 && w.is_finite()`, on the bits: a non-negative
/// finite float is below the bits of `+inf`, and `-0.0` is the one
/// negative accepted. Written with float tests it compiled to about
/// fifteen instructions, run once per edge; this is three.
#[inline(always)]
fn usable(w: f32) -> bool {
    let bits = w.to_bits();
    bits < f32::INFINITY.to_bits() || bits == (-0.0f32).to_bits()
}

/// Pools one piece of complement evidence into `c`: its weight is added
/// to the sum, `signals` to the support, and it becomes the candidate's
/// strongest complement if it outweighs the one so far (the first wins a
/// tie). The sum saturates: each weight may be as large as `f32::MAX`, and
/// an infinite sum would leave the scorer a non-finite relevance, which
/// the engine ranks last.
#[inline(always)]
fn pool_complement(
    c: &mut Candidate,
    source: ProductId,
    weight: f32,
    signals: u16,
    via: Via,
    relation: RelationId,
    strategy: u16,
) {
    c.cross_weight = (c.cross_weight + weight).min(f32::MAX);
    c.support = c.support.saturating_add(signals);
    let stronger = match c.best_complement {
        Some(Evidence::Complement { weight: w, .. }) => weight > w,
        _ => true,
    };
    if stronger {
        c.best_complement = Some(Evidence::Complement {
            source,
            weight,
            via,
            relation,
            strategy,
        });
    }
}

/// The first slot to probe for `product` in a table of `size` slots, a
/// power of two (Fibonacci hashing: the multiply spreads consecutive ids;
/// the top bits index the table).
#[inline(always)]
fn home_slot(product: u32, size: usize) -> usize {
    (u64::from(product).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - size.trailing_zeros()))
        as usize
}

/// An empty slot of the candidate table.
const EMPTY: u64 = u64::MAX;

/// Smallest table: 256 slots (2 KiB), enough for a 5-line cart's
/// candidates at half load.
const MIN_TABLE: usize = 256;

/// The candidate sink: a small open-addressing hash set over product ids
/// plus the candidates in insertion order.
///
/// The table is sized to the candidates, not to the catalog: a table of one
/// slot per product (4 MB at a million products) cost a cache miss per
/// edge visited, while this one stays in L1 for a typical cart. Adding is
/// O(1) expected; clearing is O(candidates): the used slots are reset one
/// by one, or, once they are an eighth of the table or more, the whole
/// table is refilled (see [`reset`](Self::reset)). Iteration follows
/// insertion order, so answers never depend on hashing.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// `(product << 32) | index into list`, or [`EMPTY`].
    table: Vec<u64>,
    /// Slots in use, to clear them in O(candidates).
    used: Vec<u32>,
    list: Vec<Candidate>,
    /// Ids at or above this are ignored (not in the catalog).
    products: usize,
    strategy: u16,
}

impl Candidates {
    /// An empty sink; it grows to the number of candidates on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the sink and prepares it for a catalog of `products`
    /// products: ids at or above `products` are ignored from then on. A
    /// sink from [`new`](Self::new) accepts no id until it is reset.
    ///
    /// The engine resets the sink it passes to strategies; call this on a
    /// sink of your own, for example in a strategy that runs another one
    /// and re-weights what it proposes. It keeps the buffers, so a reused
    /// sink does not allocate once it has grown.
    ///
    /// ```
    /// use cartwise::{Candidates, ProductId, Via};
    /// let mut sink = Candidates::new();
    /// sink.reset(10);
    /// sink.add_cross_sell(ProductId(3), ProductId(1), 0.5, Via::Custom);
    /// sink.add_cross_sell(ProductId(12), ProductId(1), 0.5, Via::Custom); // not in the catalog
    /// assert_eq!(sink.len(), 1);
    /// sink.reset(10);
    /// assert!(sink.is_empty());
    /// ```
    pub fn reset(&mut self, products: usize) {
        // Refilling the whole table is a vectorised fill, a few stores per
        // 32 bytes; resetting slot by slot costs a few instructions per
        // slot used. Fill once an eighth of the slots were used: a 5-line
        // cart uses about 100 of 256 (the fill is much cheaper), a 20-line
        // cart about 400 of 2048 (about even).
        if self.used.len() * 8 >= self.table.len() {
            self.table.fill(EMPTY);
        } else {
            for &u in &self.used {
                self.table[u as usize] = EMPTY;
            }
        }
        self.used.clear();
        self.list.clear();
        if self.table.len() < MIN_TABLE {
            self.table.clear();
            self.table.resize(MIN_TABLE, EMPTY);
        }
        self.products = products;
        self.strategy = 0;
    }

    /// The first slot to probe for `product` in this table.
    #[inline]
    fn home(&self, product: u32) -> usize {
        home_slot(product, self.table.len())
    }

    /// Doubles the table and reinserts every candidate.
    #[cold]
    fn grow(&mut self) {
        let size = (self.table.len() * 2).max(MIN_TABLE);
        self.table.clear();
        self.table.resize(size, EMPTY);
        self.used.clear();
        let mask = size - 1;
        for (i, c) in self.list.iter().enumerate() {
            let mut h = home_slot(c.product.0, size);
            while self.table[h] != EMPTY {
                h = (h + 1) & mask;
            }
            self.table[h] = (u64::from(c.product.0) << 32) | i as u64;
            self.used.push(h as u32);
        }
    }

    /// The slot holding `product`, or the empty slot where it would go.
    #[inline]
    fn find(&self, product: ProductId) -> (usize, bool) {
        let mask = self.table.len() - 1;
        let mut h = self.home(product.0);
        loop {
            let e = self.table[h];
            if e == EMPTY {
                return (h, false);
            }
            if (e >> 32) as u32 == product.0 {
                return (h, true);
            }
            h = (h + 1) & mask;
        }
    }

    /// The position in [`as_slice`](Self::as_slice) of `product`'s
    /// candidate, if it is one.
    #[inline]
    pub(crate) fn index_of(&self, product: ProductId) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let (h, found) = self.find(product);
        found.then(|| (self.table[h] & 0xFFFF_FFFF) as usize)
    }

    pub(crate) fn set_strategy(&mut self, index: usize) {
        self.strategy = u16::try_from(index).unwrap_or(u16::MAX);
    }

    // Always inlined: it runs once per edge, and as a call it spent a
    // sixth of its instructions saving and restoring registers.
    #[inline(always)]
    fn entry(&mut self, product: ProductId) -> Option<&mut Candidate> {
        if product.index() >= self.products {
            return None;
        }
        // Keep the load at most one half, so probes stay short.
        if (self.list.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let (h, found) = self.find(product);
        if found {
            return self.list.get_mut((self.table[h] & 0xFFFF_FFFF) as usize);
        }
        self.table[h] = (u64::from(product.0) << 32) | self.list.len() as u64;
        self.used.push(h as u32);
        self.list.push(Candidate::new(product));
        self.list.last_mut()
    }

    /// Adds cross-sell evidence: `product` complements the cart product
    /// `source` with `weight`. Non-finite or negative weights, and ids
    /// outside the catalog, are ignored.
    #[inline]
    pub fn add_cross_sell(&mut self, product: ProductId, source: ProductId, weight: f32, via: Via) {
        self.add_edge(product, source, weight, via, EdgeMeta::default(), 1, false);
    }

    /// Adds cross-sell evidence from a typed edge: as
    /// [`add_cross_sell`](Self::add_cross_sell), plus the edge's relation
    /// type and pin, the units to suggest, and whether they top up a line
    /// already in the cart.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn add_edge(
        &mut self,
        product: ProductId,
        source: ProductId,
        weight: f32,
        via: Via,
        meta: EdgeMeta,
        quantity: u32,
        top_up: bool,
    ) {
        if !usable(weight) {
            return;
        }
        let strategy = self.strategy;
        let Some(c) = self.entry(product) else { return };
        pool_complement(c, source, weight, 1, via, meta.relation, strategy);
        c.pinned |= meta.pinned;
        if c.support == 1 || quantity > c.quantity {
            c.quantity = quantity.max(1);
            c.top_up = top_up;
        }
    }

    /// [`add_cross_sell`](Self::add_cross_sell) of every plain curated
    /// edge of `source` (no metadata: one unit, no top-up, not pinned):
    /// cross-sell's shortest loop. The same evidence, in the same order, as
    /// `add_edge` with the defaults; a candidate's quantity starts at 1 and
    /// only a quantity-aware edge raises it, so there is nothing to update.
    ///
    /// The table is grown once up front for every target being new, so
    /// the loop keeps the table, its mask and the list in registers instead
    /// of reloading them per edge around a possible growth.
    pub(crate) fn add_plain_edges(
        &mut self,
        source: ProductId,
        targets: &[ProductId],
        weights: &[f32],
    ) {
        let n = targets.len().min(weights.len());
        if n == 0 {
            return;
        }
        while (self.list.len() + n) * 2 > self.table.len() {
            self.grow();
        }
        self.list.reserve(n);
        self.used.reserve(n);
        let Candidates {
            table,
            used,
            list,
            products,
            strategy,
        } = self;
        let (products, strategy) = (*products, *strategy);
        let (mask, size) = (table.len() - 1, table.len());
        for (&product, &weight) in targets.iter().zip(weights) {
            if !usable(weight) || product.index() >= products {
                continue;
            }
            let mut h = home_slot(product.0, size);
            let evidence = Evidence::Complement {
                source,
                weight,
                via: Via::Edge,
                relation: RelationId::COMPLEMENT,
                strategy,
            };
            loop {
                let e = table[h & mask];
                if e == EMPTY {
                    // Most targets are new: write the candidate once, as
                    // pooling this one piece into a fresh one would leave it.
                    table[h & mask] = (u64::from(product.0) << 32) | list.len() as u64;
                    used.push((h & mask) as u32);
                    list.push(Candidate {
                        // `0.0 +`, as pooling does: it turns a -0.0 weight
                        // into +0.0, which a relevance score would rank apart.
                        cross_weight: (0.0 + weight).min(f32::MAX),
                        support: 1,
                        best_complement: Some(evidence),
                        ..Candidate::new(product)
                    });
                    break;
                }
                if (e >> 32) as u32 == product.0 {
                    if let Some(c) = list.get_mut((e & 0xFFFF_FFFF) as usize) {
                        pool_complement(
                            c,
                            source,
                            weight,
                            1,
                            Via::Edge,
                            RelationId::COMPLEMENT,
                            strategy,
                        );
                    }
                    break;
                }
                h += 1;
            }
        }
    }

    /// Adds upsell evidence: `product` upgrades cart line `line` (holding
    /// `replaces`) with fit `fit` in `[0, 1]`. The best fit is kept.
    #[inline]
    pub fn add_upsell(&mut self, product: ProductId, line: usize, replaces: ProductId, fit: f32) {
        if !usable(fit) {
            return;
        }
        let fit = fit.min(1.0);
        let Some(c) = self.entry(product) else { return };
        c.support = c.support.saturating_add(1);
        if fit > c.upgrade_fit || c.upgrade.is_none() {
            c.upgrade_fit = fit;
            c.upgrade = Some(Evidence::Upgrade {
                line: u16::try_from(line).unwrap_or(u16::MAX),
                replaces,
                fit,
            });
        }
    }

    /// Adds a learned candidate whose evidence was summed by the strategy:
    /// `score` becomes its cross-sell weight (added to any other evidence),
    /// `source` its strongest cart product, `signals` the number of pieces
    /// of evidence. Non-finite or negative scores are ignored.
    pub fn add_learned(&mut self, product: ProductId, source: ProductId, score: f32, signals: u16) {
        if !usable(score) {
            return;
        }
        let strategy = self.strategy;
        let Some(c) = self.entry(product) else { return };
        pool_complement(
            c,
            source,
            score,
            signals,
            Via::Learned,
            RelationId::COMPLEMENT,
            strategy,
        );
    }

    /// Whether `product` is already a candidate.
    #[inline]
    pub fn contains(&self, product: ProductId) -> bool {
        self.index_of(product).is_some()
    }

    /// The candidates so far, in insertion order.
    pub fn as_slice(&self) -> &[Candidate] {
        &self.list
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{usable, Candidates, Via};

    /// The bit test accepts exactly what `w >= 0.0 && w.is_finite()` does.
    #[test]
    fn usable_weights_are_the_finite_non_negative_ones() {
        let specials = [
            0.0f32,
            -0.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
            1.0,
            -1.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7F80_0001),
        ];
        for w in specials {
            assert_eq!(
                usable(w),
                w >= 0.0 && w.is_finite(),
                "{w:?} ({:#x})",
                w.to_bits()
            );
        }
        // And every 2^-16th of the bit patterns, both signs.
        for hi in 0u32..=0xFFFF {
            let w = f32::from_bits(hi << 16 | hi);
            assert_eq!(usable(w), w >= 0.0 && w.is_finite(), "{:#x}", w.to_bits());
        }
    }
    use crate::id::ProductId;
    use proptest::prelude::*;

    /// The plain-edge loop writes a new candidate in its final form by
    /// hand; it must equal pooling the same edge into a fresh candidate,
    /// to the bit: `-0.0` becomes `+0.0`, repeats keep the first strongest.
    #[test]
    fn plain_edges_equal_pooling_one_edge_at_a_time() {
        let targets: Vec<ProductId> = [3u32, 7, 3, 9, 7, 11, 3, 13].map(ProductId).to_vec();
        let weights = [-0.0f32, 0.5, 0.5, 0.0, -0.0, 2.0, 1.5, -0.0];
        let mut plain = Candidates::new();
        plain.reset(100);
        plain.add_plain_edges(ProductId(1), &targets, &weights);
        let mut pooled = Candidates::new();
        pooled.reset(100);
        for (&t, &w) in targets.iter().zip(&weights) {
            pooled.add_cross_sell(t, ProductId(1), w, Via::Edge);
        }
        let bits = |s: &Candidates| -> Vec<String> {
            s.as_slice()
                .iter()
                .map(|c| format!("{c:?} {:#x}", c.cross_weight.to_bits()))
                .collect()
        };
        assert_eq!(bits(&plain), bits(&pooled));
        // Product 13 saw only a -0.0 weight.
        let last = plain.as_slice().last().unwrap();
        assert_eq!(
            (last.product, last.cross_weight.to_bits()),
            (ProductId(13), 0)
        );
    }

    proptest! {
        /// The hash-table sink equals a naive one: one candidate per
        /// product in first-insertion order, weights summed, ids outside
        /// the catalog ignored; across growth and across resets.
        #[test]
        fn sink_matches_a_naive_reference(
            calls in proptest::collection::vec(
                proptest::collection::vec((0u32..3000, 0u32..4), 0..1500),
                1..4,
            ),
            plain_chunk in 0usize..40,
        ) {
            let mut sink = Candidates::new();
            for adds in &calls {
                sink.reset(2500);
                let mut reference: Vec<(u32, f32, u16)> = Vec::new();
                // Either one edge at a time, or as plain edge lists of
                // `plain_chunk` edges (a cart line's edges).
                if plain_chunk > 0 {
                    for chunk in adds.chunks(plain_chunk) {
                        let targets: Vec<ProductId> = chunk.iter().map(|a| ProductId(a.0)).collect();
                        let weights: Vec<f32> = chunk.iter().map(|a| a.1 as f32).collect();
                        sink.add_plain_edges(ProductId(0), &targets, &weights);
                    }
                }
                for &(p, w) in adds {
                    if plain_chunk == 0 {
                        sink.add_cross_sell(ProductId(p), ProductId(0), w as f32, Via::Custom);
                    }
                    if p >= 2500 {
                        continue;
                    }
                    match reference.iter_mut().find(|r| r.0 == p) {
                        Some(r) => {
                            r.1 += w as f32;
                            r.2 += 1;
                        }
                        None => reference.push((p, w as f32, 1)),
                    }
                }
                let got: Vec<(u32, f32, u16)> = sink
                    .as_slice()
                    .iter()
                    .map(|c| (c.product.0, c.cross_weight, c.support))
                    .collect();
                prop_assert_eq!(&got, &reference);
                for p in [0u32, 1, 2499, 2500, 2999] {
                    prop_assert_eq!(
                        sink.contains(ProductId(p)),
                        reference.iter().any(|r| r.0 == p)
                    );
                }
            }
        }
    }
}
