//! Cross-sell from weights learned on order history.

use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::graph::ComplementGraph;
use crate::id::ProductId;

/// A learned item -> item model over a catalog's ids: a sparse graph of
/// non-negative weights (each product keeps only its strongest
/// neighbours), an optional per-product popularity prior, and the products
/// in descending prior order for carts with no known edges.
///
/// Built by the learning module from order history, or from any source of
/// weights with [`LearnedGraph::new`].
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LearnedGraph {
    graph: ComplementGraph,
    /// Per-product prior added to every candidate's score; empty = none.
    prior: Vec<f32>,
    /// Products for the popularity fallback, most popular first.
    popular: Vec<ProductId>,
}

impl LearnedGraph {
    /// A model from its parts.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `prior` is neither empty nor one
    /// finite, non-negative value per product of the graph, or when
    /// `popular` names a product outside the graph.
    pub fn new(graph: ComplementGraph, prior: Vec<f32>, popular: Vec<ProductId>) -> Result<Self> {
        let n = graph.products();
        if !prior.is_empty()
            && (prior.len() != n || prior.iter().any(|p| !(p.is_finite() && *p >= 0.0)))
        {
            return Err(Error::InvalidConfig {
                field: "prior",
                value: format!("{} values", prior.len()),
                hint: "one finite, non-negative value per product, or none",
            });
        }
        if let Some(p) = popular.iter().find(|p| p.index() >= n) {
            return Err(Error::InvalidConfig {
                field: "popular",
                value: p.to_string(),
                hint: "product ids of the graph's catalog",
            });
        }
        Ok(LearnedGraph {
            graph,
            prior,
            popular,
        })
    }

    /// The weight graph.
    pub fn graph(&self) -> &ComplementGraph {
        &self.graph
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

    /// Checks the model against a catalog of `products` products.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming what is inconsistent.
    pub fn validate(&self, products: usize) -> Result<()> {
        self.graph.validate(products)?;
        if (!self.prior.is_empty() && self.prior.len() != products)
            || self.prior.iter().any(|p| !(p.is_finite() && *p >= 0.0))
            || self.popular.iter().any(|p| p.index() >= products)
        {
            return Err(Error::Snapshot {
                reason: "learned graph: prior or popular list out of range".into(),
            });
        }
        Ok(())
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.graph.heap_bytes() + self.prior.capacity() * 4 + self.popular.capacity() * 4
    }
}

/// Cross-sell from a [`LearnedGraph`]: for each cart line, its learned
/// neighbours with their weights (summed over the cart); every candidate
/// it introduced then gets the product's prior; and while fewer than `limit` candidates
/// exist, the most popular products fill in (with their prior as weight,
/// [`Via::Popular`]), so a cart with no known edges still gets suggestions.
///
/// Runs in O(Σ degree + candidates + limit) per call.
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
        let first = sink.len();
        for line in ctx.cart {
            let (targets, weights) = model.graph.neighbors(line.product);
            for (&t, &w) in targets.iter().zip(weights) {
                sink.add_cross_sell(t, line.product, w, Via::Learned);
            }
        }
        if !model.prior.is_empty() {
            sink.add_to_weights(first, |p| model.prior(p));
        }
        let Some(anchor) = ctx.cart.first().map(|l| l.product) else {
            return;
        };
        // Fill: a few more than the limit, since the engine may still drop
        // some (stock, budget, exclusions).
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
