//! Scorers: how pooled candidates are ranked.
//!
//! A [`Scorer`] sets [`Candidate::score`] for a batch of candidates that
//! already passed the engine's filters. The engine then applies the
//! merchant's boosts and pins, and keeps the top `limit` by score, ties
//! broken by product id (that is, by SKU).
//!
//! [`DefaultScorer`] blends four terms, each in `[0, 1]`, with the
//! configurable [`ScoreWeights`]:
//!
//! | term | cross-sell | upsell |
//! |---|---|---|
//! | relevance | `w / (w + 0.5)` for the summed evidence weight `w` | the tier fit |
//! | margin | `(price - cost) / price`, 0 when the cost is unknown | same |
//! | price fit | 1 up to 30% of the anchor's price, falling linearly to 0 at 150% | `1 - step / cap` |
//! | popularity | `ln(1 + p) / ln(1 + max p)` | same |
//! | stock depth | 1 for untracked stock or at least `low_stock` units, else `stock / low_stock` | same |
//!
//! (The price fit compares prices as `f64`; a price above `i64::MAX` minor
//! units counts as `i64::MAX` there.)
//!
//! The score is `Σ weight × term`, so with the default weights (0.6, 0.15,
//! 0.1, 0.15, 0.05) relevance dominates and the others order close calls.
//!
//! # Worked example: margin and stock depth
//!
//! A phone (799.00) is in the cart. Two cases complement it with the same
//! edge weight 0.8, cost the same 29.00, sell equally well (popularity
//! term 0.5 for both), and both have a price fit of 1 (under 30% of the
//! phone's price):
//!
//! | | cost | margin term | stock | stock term | score |
//! |---|---|---|---|---|---|
//! | case A | 8.70 | 0.70 | 40 | 1.0 | 0.6·0.615 + 0.15·0.70 + 0.1·1 + 0.15·0.5 + 0.05·1.0 = 0.699 |
//! | case B | 17.40 | 0.40 | 2 | 0.4 | 0.6·0.615 + 0.15·0.40 + 0.1·1 + 0.15·0.5 + 0.05·0.4 = 0.624 |
//!
//! (relevance `0.8 / 1.3 = 0.615`). Case A ranks first: it earns more per
//! sale and will not sell out under the customer. Raise `margin` to let
//! margin override weaker relevance; raise `stock_depth` or `low_stock` to
//! steer traffic away from nearly sold-out products sooner.

use std::fmt;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::id::ProductId;
use crate::strategy::{Candidate, Context, Evidence};

/// Ranks candidates. Object-safe; the engine stores `Box<dyn Scorer<C>>`
/// and calls it once per request with the whole batch.
///
/// # Contract
/// Set `score` of every candidate to a finite value (higher is better);
/// the engine treats a non-finite score as the lowest possible. Be
/// deterministic. Do not reorder or remove candidates.
pub trait Scorer<C: ?Sized>: Send + Sync + fmt::Debug {
    /// A short name for logs and evaluation tables.
    fn name(&self) -> &str;
    /// Scores the batch in place.
    fn score(&self, ctx: &Context<'_, C>, candidates: &mut [Candidate]);
}

/// Weights of the [`DefaultScorer`] terms. Each must be finite and `>= 0`;
/// they need not sum to 1.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ScoreWeights {
    /// Relevance (edge weight or tier fit). Default 0.6.
    pub relevance: f32,
    /// Margin, when costs are known. Default 0.15.
    pub margin: f32,
    /// Price fit. Default 0.1.
    pub price_fit: f32,
    /// Popularity. Default 0.15.
    pub popularity: f32,
    /// Stock depth: penalises products with fewer than `low_stock` units
    /// left. Default 0.05.
    pub stock_depth: f32,
    /// The stock level under which the stock-depth term falls below 1.
    /// Default 5 units.
    pub low_stock: u32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            relevance: 0.6,
            margin: 0.15,
            price_fit: 0.1,
            popularity: 0.15,
            stock_depth: 0.05,
            low_stock: 5,
        }
    }
}

impl ScoreWeights {
    /// Weights that rank by relevance alone (as in offline evaluation).
    pub fn relevance_only() -> Self {
        ScoreWeights {
            relevance: 1.0,
            margin: 0.0,
            price_fit: 0.0,
            popularity: 0.0,
            stock_depth: 0.0,
            low_stock: 5,
        }
    }

    /// Checks that every weight is finite and non-negative.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("relevance", self.relevance),
            ("margin", self.margin),
            ("price_fit", self.price_fit),
            ("popularity", self.popularity),
            ("stock_depth", self.stock_depth),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidConfig {
                    field,
                    value: v.to_string(),
                    hint: "score weights must be finite and >= 0",
                });
            }
        }
        Ok(())
    }
}

/// The default blend of relevance, margin, price fit and popularity; see
/// the [module docs](self).
///
/// Given to an engine by value ([`Engine::standard`](crate::Engine::standard),
/// [`EngineBuilder::scorer`](crate::EngineBuilder::scorer)), it is applied
/// to each candidate as the engine's filter admits it, without the batch
/// and the dynamic call a [`Scorer`] otherwise gets; the scores are the
/// same either way.
#[derive(Clone, Debug, PartialEq)]
pub struct DefaultScorer {
    weights: ScoreWeights,
    /// `depth[s] = s / low_stock` for every `s` in `0..=low_stock`, when
    /// `low_stock` is at most [`DEPTH_TABLE`]: the stock-depth term by a
    /// lookup, the same values. A candidate's score took four divisions,
    /// slow instructions that share one unit; this removes one (calls
    /// 1-3% faster).
    depth: Vec<f32>,
}

/// The largest `low_stock` whose stock-depth terms [`DefaultScorer`]
/// keeps in a table.
const DEPTH_TABLE: u32 = 1024;

impl Default for DefaultScorer {
    fn default() -> Self {
        DefaultScorer::with_valid(ScoreWeights::default())
    }
}

impl DefaultScorer {
    /// A scorer with the given weights.
    ///
    /// # Errors
    /// As [`ScoreWeights::validate`].
    pub fn new(weights: ScoreWeights) -> Result<Self> {
        weights.validate()?;
        Ok(DefaultScorer::with_valid(weights))
    }

    fn with_valid(weights: ScoreWeights) -> Self {
        let low = weights.low_stock;
        let depth = if (1..=DEPTH_TABLE).contains(&low) {
            (0..=low).map(|s| s as f32 / low as f32).collect()
        } else {
            Vec::new()
        };
        DefaultScorer { weights, depth }
    }

    /// The weights.
    pub fn weights(&self) -> &ScoreWeights {
        &self.weights
    }
}

/// A price in minor units as `f64`, through the signed conversion: one
/// instruction, where `u64 as f64` is six on x86-64 without AVX-512 (cold
/// 1-line calls ×0.97, 5-line ×0.98, same answers). Up to `i64::MAX` minor
/// units (9.2 × 10^16 in major units) it is `x as f64` exactly; a larger
/// price is read as `i64::MAX` in the price-fit ratio, the only place this
/// is used.
#[inline(always)]
fn to_f64(x: u64) -> f64 {
    x.min(i64::MAX as u64) as i64 as f64
}

/// The price-fit term of a cross-sell at `price` for a cart product at
/// `anchor` (minor units): `1 - (price / anchor - 0.3) / 1.2` clamped to
/// `[0, 1]`, so 1 up to 30% of the anchor's price and 0 from 150%; 0.5 when
/// the anchor is free. Computed as `(1.5 anchor - price) / (1.2 anchor)`,
/// the same value with one division instead of two (a candidate's score
/// took three divisions, slow instructions that share one unit: calls at
/// 1k products ×0.96-0.97, cached ones at 1M ×0.96-0.98). The two forms
/// round differently in the last bits of the `f64`, which the `f32` result
/// almost never shows (every answer of the benchmark carts is the same).
#[inline(always)]
fn price_fit(price: u64, anchor: u64) -> f32 {
    if anchor == 0 {
        return 0.5;
    }
    let (price, anchor) = (to_f64(price), to_f64(anchor));
    ((1.5 * anchor - price) / (1.2 * anchor)).clamp(0.0, 1.0) as f32
}

/// Relevance of summed cross-sell evidence: `w / (w + 0.5)`, so 0.5 maps to
/// 0.5 and more evidence keeps helping with diminishing returns.
#[inline]
pub fn saturate(w: f32) -> f32 {
    if w <= 0.0 {
        0.0
    } else {
        w / (w + 0.5)
    }
}

impl<C: Catalog + ?Sized> Scorer<C> for DefaultScorer {
    fn name(&self) -> &str {
        "default"
    }

    fn score(&self, ctx: &Context<'_, C>, candidates: &mut [Candidate]) {
        for c in candidates.iter_mut() {
            c.score = self.score_of(ctx.catalog, c.product, c.evidence(), c.cross_weight);
        }
    }
}

impl DefaultScorer {
    /// The score of a candidate for `product` with `evidence` (its
    /// [`Candidate::evidence`]) and summed cross-sell weight
    /// `cross_weight`: what [`Scorer::score`] sets, one candidate at a
    /// time. The engine calls it as it filters, without a batch.
    #[inline(always)]
    pub(crate) fn score_of<C: Catalog + ?Sized>(
        &self,
        cat: &C,
        product: ProductId,
        evidence: Option<Evidence>,
        cross_weight: f32,
    ) -> f32 {
        let w = &self.weights;
        // One row read per candidate: price, both precomputed terms and
        // stock share a cache line in the in-memory catalog.
        let price = cat.price(product).minor();
        let margin = cat.margin(product);
        let (relevance, price_fit) = match evidence {
            Some(Evidence::Upgrade { fit, .. }) => (fit, fit),
            Some(Evidence::Complement { source, .. }) => {
                let fit = price_fit(price, cat.price(source).minor());
                (saturate(cross_weight), fit)
            }
            None => (0.0, 0.0),
        };
        let popularity = cat.popularity_term(product);
        // s / low_stock below low_stock, else 1 (low / low is exactly
        // 1.0); untracked stock counts as plenty. Branch-free, since
        // tracked or not is close to random per candidate.
        let depth = if w.low_stock == 0 {
            1.0
        } else {
            let s = cat.stock_level(product).min(w.low_stock);
            match self.depth.get(s as usize) {
                Some(&d) => d,
                None => s as f32 / w.low_stock as f32,
            }
        };
        w.relevance * relevance
            + w.margin * margin
            + w.price_fit * price_fit
            + w.popularity * popularity
            + w.stock_depth * depth
    }
}

/// Scores by raw evidence alone: summed cross-sell weight, or upgrade fit.
/// The ranking offline evaluation measures, and a good choice for learned
/// graphs whose weights already encode popularity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelevanceScorer;

impl<C: Catalog + ?Sized> Scorer<C> for RelevanceScorer {
    fn name(&self) -> &str {
        "relevance"
    }

    fn score(&self, _ctx: &Context<'_, C>, candidates: &mut [Candidate]) {
        for c in candidates {
            c.score = if c.upgrade.is_some() {
                c.upgrade_fit
            } else {
                c.cross_weight
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{price_fit, to_f64, DefaultScorer, ScoreWeights, DEPTH_TABLE};
    use proptest::prelude::*;

    proptest! {
        /// The signed conversion is the unsigned one up to `i64::MAX`, bit
        /// for bit (odd values past 2^53 included, where both round), and
        /// saturates above.
        #[test]
        fn price_conversion_is_exact_up_to_i64_max(x in any::<u64>(), small in 0u64..1 << 54) {
            for x in [x, small, x >> 1, x >> 11] {
                if x <= i64::MAX as u64 {
                    prop_assert_eq!(to_f64(x).to_bits(), (x as f64).to_bits());
                } else {
                    prop_assert_eq!(to_f64(x), i64::MAX as f64);
                }
            }
        }
    }

    proptest! {
        /// The one-division price fit is the textbook formula, to within
        /// one `f32` step (the forms round differently in the last `f64`
        /// bits), with the same clamps at 30% and 150% of the anchor.
        #[test]
        fn price_fit_is_the_textbook_formula(anchor in 1u64..10_000_000_000, ratio in 0.0f64..3.0) {
            let price = (anchor as f64 * ratio) as u64;
            let textbook = (1.0 - (price as f64 / anchor as f64 - 0.3) / 1.2).clamp(0.0, 1.0) as f32;
            let got = price_fit(price, anchor);
            prop_assert!((got - textbook).abs() <= f32::EPSILON, "{} vs {}", got, textbook);
            if price * 10 <= anchor * 3 {
                prop_assert_eq!(got, 1.0);
            }
            if price * 2 >= anchor * 3 {
                prop_assert_eq!(got, 0.0);
            }
        }
    }

    #[test]
    fn price_fit_of_a_free_anchor_is_one_half() {
        assert_eq!(price_fit(1999, 0), 0.5);
        assert_eq!(price_fit(0, 100), 1.0);
        assert_eq!(price_fit(30, 100), 1.0);
        assert_eq!(price_fit(150, 100), 0.0);
        assert!((price_fit(90, 100) - 0.5).abs() <= f32::EPSILON);
    }

    #[test]
    fn price_conversion_at_the_edges() {
        for x in [0, 1, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, i64::MAX as u64] {
            assert_eq!(to_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        }
        assert_eq!(to_f64(i64::MAX as u64 + 1), i64::MAX as f64);
        assert_eq!(to_f64(u64::MAX), i64::MAX as f64);
    }

    /// The stock-depth table holds exactly what the division gives, and
    /// is left empty (the division used) above its size.
    #[test]
    fn depth_table_equals_the_division() {
        for low in [1u32, 2, 3, 5, 7, 10, 100, DEPTH_TABLE, DEPTH_TABLE + 1] {
            let scorer = DefaultScorer::new(ScoreWeights {
                low_stock: low,
                ..ScoreWeights::default()
            })
            .unwrap();
            assert_eq!(scorer.depth.is_empty(), low > DEPTH_TABLE, "low {low}");
            for s in 0..=low {
                let want = s as f32 / low as f32;
                if let Some(&got) = scorer.depth.get(s as usize) {
                    assert_eq!(got.to_bits(), want.to_bits(), "low {low}, stock {s}");
                }
            }
        }
        assert_eq!(DefaultScorer::default().depth.len(), 6);
    }
}
