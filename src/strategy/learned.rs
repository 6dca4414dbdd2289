//! Cross-sell from weights learned on order history.
//!
//! A learned model is an item -> item weight matrix fitted offline (see the
//! `learn` module), kept sparse: each product keeps only its strongest
//! neighbours. Its weights may be negative: a linear model learns that some
//! products make others *less* likely (two brands of the same staple), and
//! that evidence is summed over the cart like the rest. Candidates whose
//! summed score is not positive are not suggested.

use std::cell::RefCell;
use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::id::ProductId;

/// A learned item -> item model over a catalog's ids, in CSR form, with an
/// optional popularity prior and the products in fallback order.
///
/// Invariants: `offsets.len() == products + 1`, non-decreasing, last equal
/// to `targets.len() == weights.len()`; each row's targets sorted by id,
/// distinct, never the row itself; weights finite (any sign); `prior` empty
/// or one finite, non-negative value per product; `popular` ids in range.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LearnedGraph {
    offsets: Vec<u32>,
    targets: Vec<ProductId>,
    weights: Vec<f32>,
    prior: Vec<f32>,
    popular: Vec<ProductId>,
}

impl LearnedGraph {
    /// A model over `products` products from `(from, to, weight)` triples
    /// (any order; a repeated pair keeps its last weight), a prior (empty,
    /// or one value per product) and the fallback order.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an id out of range, a self-edge, a
    /// non-finite weight, a prior of the wrong length or with a negative or
    /// non-finite value.
    pub fn from_edges(
        products: usize,
        mut edges: Vec<(ProductId, ProductId, f32)>,
        prior: Vec<f32>,
        popular: Vec<ProductId>,
    ) -> Result<Self> {
        let bad = |field: &'static str, value: String, hint: &'static str| Error::InvalidConfig {
            field,
            value,
            hint,
        };
        if let Some(e) = edges.iter().find(|e| {
            e.0.index() >= products || e.1.index() >= products || e.0 == e.1 || !e.2.is_finite()
        }) {
            return Err(bad(
                "learned edge",
                format!("{} -> {} ({})", e.0, e.1, e.2),
                "ids in range, no self-edges, finite weights",
            ));
        }
        if !prior.is_empty()
            && (prior.len() != products || prior.iter().any(|p| !(p.is_finite() && *p >= 0.0)))
        {
            return Err(bad(
                "prior",
                format!("{} values", prior.len()),
                "one finite, non-negative value per product, or none",
            ));
        }
        if let Some(p) = popular.iter().find(|p| p.index() >= products) {
            return Err(bad("popular", p.to_string(), "product ids of the catalog"));
        }
        if edges.len() >= u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "edges in a learned graph",
                cap: u64::from(u32::MAX) - 1,
                got: edges.len() as u64,
            });
        }
        // Stable sort keeps input order within a pair, so the last weight wins.
        edges.sort_by_key(|e| (e.0, e.1));
        let mut dedup: Vec<(ProductId, ProductId, f32)> = Vec::with_capacity(edges.len());
        for e in edges {
            match dedup.last_mut() {
                Some(last) if last.0 == e.0 && last.1 == e.1 => *last = e,
                _ => dedup.push(e),
            }
        }
        let mut offsets = vec![0u32; products + 1];
        for e in &dedup {
            offsets[e.0.index() + 1] += 1;
        }
        for i in 0..products {
            offsets[i + 1] += offsets[i];
        }
        Ok(LearnedGraph {
            offsets,
            targets: dedup.iter().map(|e| e.1).collect(),
            weights: dedup.iter().map(|e| e.2).collect(),
            prior,
            popular,
        })
    }

    /// Number of products the model spans.
    pub fn products(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of learned edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The learned neighbours of `from` and their weights.
    #[inline]
    pub fn neighbors(&self, from: ProductId) -> (&[ProductId], &[f32]) {
        let i = from.index();
        if i + 1 >= self.offsets.len() {
            return (&[], &[]);
        }
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.targets[s..e], &self.weights[s..e])
    }

    /// The prior of a product (0 without a prior).
    #[inline]
    pub fn prior(&self, p: ProductId) -> f32 {
        self.prior.get(p.index()).copied().unwrap_or(0.0)
    }

    /// Products for the popularity fallback, most popular first.
    pub fn popular(&self) -> &[ProductId] {
        &self.popular
    }

    /// Checks the invariants against a catalog of `products` products.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming what is inconsistent.
    pub fn validate(&self, products: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::Snapshot {
                reason: format!("learned graph: {reason}"),
            })
        };
        if self.offsets.len() != products + 1 || self.offsets.first() != Some(&0) {
            return bad("offsets do not match the catalog size");
        }
        if self.targets.len() != self.weights.len()
            || self.offsets.last().map(|&x| x as usize) != Some(self.targets.len())
        {
            return bad("edge arrays differ in length");
        }
        if self.offsets.windows(2).any(|w| w[0] > w[1]) {
            return bad("offsets decrease");
        }
        for i in 0..products {
            let (t, w) = self.neighbors(ProductId::from_index(i));
            if t.iter().any(|x| x.index() >= products || x.index() == i)
                || t.windows(2).any(|p| p[0] >= p[1])
                || w.iter().any(|x| !x.is_finite())
            {
                return bad("target out of range, unsorted, self-edge or non-finite weight");
            }
        }
        if (!self.prior.is_empty() && self.prior.len() != products)
            || self.prior.iter().any(|p| !(p.is_finite() && *p >= 0.0))
            || self.popular.iter().any(|p| p.index() >= products)
        {
            return bad("prior or popular list out of range");
        }
        Ok(())
    }

    /// Heap bytes held: 8 per edge, 4 per product (plus 4 with a prior),
    /// 4 per fallback product.
    pub fn heap_bytes(&self) -> usize {
        (self.offsets.capacity()
            + self.targets.capacity()
            + self.weights.capacity()
            + self.prior.capacity()
            + self.popular.capacity())
            * 4
    }
}

/// Per-thread accumulator for signed sums: dense scores with a stamp per
/// product (O(1) reset), the touched products, and each one's strongest
/// positive source.
#[derive(Default)]
struct Accumulator {
    score: Vec<f32>,
    stamp: Vec<u32>,
    best: Vec<(f32, ProductId, u16)>,
    now: u32,
    touched: Vec<ProductId>,
}

impl Accumulator {
    fn start(&mut self, products: usize) {
        if self.score.len() != products {
            self.score = vec![0.0; products];
            self.stamp = vec![0; products];
            self.best = vec![(0.0, ProductId(0), 0); products];
            self.now = 0;
        }
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
        self.touched.clear();
    }
}

thread_local! {
    static ACCUMULATOR: RefCell<Accumulator> = RefCell::new(Accumulator::default());
}

/// Cross-sell from a [`LearnedGraph`]: a candidate's score is its prior
/// plus the sum, over the cart's lines, of the learned weights from the
/// line's product to it (weights may be negative). Candidates with a
/// positive score become cross-sell evidence (`Via::Learned`, credited to
/// the cart line that contributed most; the evidence count is the number of
/// positive contributions). While fewer than twice the request's limit
/// candidates exist, the most popular products fill in with their prior
/// (`Via::Popular`), so a cart with no known edges still gets suggestions.
///
/// Signed sums are accumulated in a per-thread buffer the size of the
/// catalog, allocated on the first call of each thread; later calls do not
/// allocate. Runs in O(Σ degree + limit) per call.
#[derive(Clone, Debug)]
pub struct Learned {
    model: Arc<LearnedGraph>,
    name: String,
}

impl Learned {
    /// A strategy over a learned model.
    pub fn new(model: Arc<LearnedGraph>) -> Self {
        Learned {
            model,
            name: "learned".into(),
        }
    }

    /// Renames the strategy (for evaluation tables with several variants).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model.
    pub fn model(&self) -> &Arc<LearnedGraph> {
        &self.model
    }
}

impl<C: Catalog + ?Sized> Strategy<C> for Learned {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> Kind {
        Kind::CrossSell
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        let model = &*self.model;
        let Some(anchor) = ctx.cart.first().map(|l| l.product) else {
            return;
        };
        ACCUMULATOR.with(|cell| {
            let Ok(mut acc) = cell.try_borrow_mut() else {
                return;
            };
            let acc = &mut *acc;
            acc.start(model.products());
            let now = acc.now;
            for line in ctx.cart {
                let (targets, weights) = model.neighbors(line.product);
                for (&t, &w) in targets.iter().zip(weights) {
                    let i = t.index();
                    if acc.stamp[i] != now {
                        acc.stamp[i] = now;
                        acc.score[i] = model.prior(t);
                        acc.best[i] = (0.0, line.product, 0);
                        acc.touched.push(t);
                    }
                    acc.score[i] += w;
                    let b = &mut acc.best[i];
                    if w > 0.0 {
                        b.2 = b.2.saturating_add(1);
                        if w > b.0 {
                            b.0 = w;
                            b.1 = line.product;
                        }
                    }
                }
            }
            for &t in &acc.touched {
                let i = t.index();
                let score = acc.score[i];
                if score > 0.0 && !ctx.in_cart(t) {
                    let (_, source, signals) = acc.best[i];
                    sink.add_learned(t, source, score, signals.max(1));
                }
            }
        });
        let want = ctx.request.limit.saturating_mul(2);
        for &p in &model.popular {
            if sink.len() >= want {
                break;
            }
            if !sink.contains(p) && !ctx.in_cart(p) {
                sink.add_cross_sell(p, anchor, model.prior(p), Via::Popular);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_csr_and_validates() {
        let g = LearnedGraph::from_edges(
            3,
            vec![
                (ProductId(0), ProductId(2), 0.5),
                (ProductId(0), ProductId(1), -0.25),
                (ProductId(0), ProductId(2), 0.75),
            ],
            vec![0.1, 0.2, 0.3],
            vec![ProductId(2), ProductId(1)],
        )
        .unwrap();
        assert_eq!(
            g.neighbors(ProductId(0)),
            (&[ProductId(1), ProductId(2)][..], &[-0.25, 0.75][..])
        );
        g.validate(3).unwrap();
        assert!(g.validate(4).is_err());
        assert!(LearnedGraph::from_edges(
            2,
            vec![(ProductId(0), ProductId(0), 1.0)],
            vec![],
            vec![]
        )
        .is_err());
        assert!(LearnedGraph::from_edges(
            2,
            vec![(ProductId(0), ProductId(1), f32::NAN)],
            vec![],
            vec![]
        )
        .is_err());
        assert!(LearnedGraph::from_edges(2, vec![], vec![-1.0, 0.0], vec![]).is_err());
    }
}
