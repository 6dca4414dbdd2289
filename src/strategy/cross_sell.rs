//! Cross-sell from curated complement edges and category rules.

use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::graph::{CategoryRules, ComplementGraph};

/// How many products one category rule contributes by default: the most
/// popular available products of the target category.
pub const DEFAULT_CATEGORY_FANOUT: usize = 2;

/// Configuration of [`CrossSell`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CrossSellConfig {
    /// Products a category rule contributes per cart line: the most popular
    /// available ones of the target category. Default
    /// [`DEFAULT_CATEGORY_FANOUT`].
    pub category_fanout: usize,
}

impl Default for CrossSellConfig {
    fn default() -> Self {
        CrossSellConfig {
            category_fanout: DEFAULT_CATEGORY_FANOUT,
        }
    }
}

/// Cross-sell over a [`ComplementGraph`] and [`CategoryRules`].
///
/// For each cart line, every out-edge of its product is evidence for the
/// edge's target, with the edge's weight. Category rules extend this to
/// products without curated links:
///
/// * a rule `A -> B` fires for a cart product of category `A` only when that
///   product has no curated edge into category `B` (the merchant's specific
///   case beats the most popular generic one);
/// * it never fires when the cart already holds a product of category `B`
///   (no second helmet for a bike whose cart already holds one; within `B`,
///   a better product is an upsell, not a cross-sell);
/// * it contributes the [`category_fanout`](CrossSellConfig::category_fanout)
///   most popular products of `B` that are in stock and not in the cart.
///
/// Runs in O(Σ degree + rules × fanout) per call.
#[derive(Clone, Debug)]
pub struct CrossSell {
    graph: Arc<ComplementGraph>,
    rules: Arc<CategoryRules>,
    config: CrossSellConfig,
}

impl CrossSell {
    /// A strategy over a graph and category rules.
    pub fn new(graph: Arc<ComplementGraph>, rules: Arc<CategoryRules>) -> Self {
        CrossSell {
            graph,
            rules,
            config: CrossSellConfig::default(),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: CrossSellConfig) -> Self {
        self.config = config;
        self
    }

    /// The graph.
    pub fn graph(&self) -> &Arc<ComplementGraph> {
        &self.graph
    }

    /// The category rules.
    pub fn rules(&self) -> &Arc<CategoryRules> {
        &self.rules
    }
}

impl<C: Catalog + ?Sized> Strategy<C> for CrossSell {
    fn name(&self) -> &str {
        "cross-sell"
    }

    fn kind(&self) -> Kind {
        Kind::CrossSell
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        let catalog = ctx.catalog;
        for line in ctx.cart {
            let source = line.product;
            let (targets, weights) = self.graph.neighbors(source);
            for (&t, &w) in targets.iter().zip(weights) {
                sink.add_cross_sell(t, source, w, Via::Edge);
            }
            let (cats, cat_weights) = self.rules.targets(catalog.category(source));
            for (&cat, &w) in cats.iter().zip(cat_weights) {
                if ctx.covers_category(cat) || targets.iter().any(|&t| catalog.category(t) == cat) {
                    continue;
                }
                let mut taken = 0;
                for &p in catalog.category_products(cat) {
                    if taken == self.config.category_fanout {
                        break;
                    }
                    if catalog.available(p, 1) && !ctx.in_cart(p) {
                        sink.add_cross_sell(p, source, w, Via::CategoryRule);
                        taken += 1;
                    }
                }
            }
        }
    }
}
