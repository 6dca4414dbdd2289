//! Cross-sell from curated complement edges and category rules.

use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::graph::{CategoryRules, ComplementGraph, EdgeMeta};

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
/// Typed links ([`Link`](crate::Link)) add to this: a link whose relation
/// type feeds upsell (a replacement) is upgrade evidence for its line; a
/// link with a quantity suggests what the cart's line calls for minus what
/// the cart holds, and nothing once it holds enough; a pinned link's target
/// ranks first; a link or rule with a date range or segments fires only
/// for requests inside them.
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

    /// Cross-sells, and upsells through replacement links.
    fn serves(&self, _kinds: crate::Kinds) -> bool {
        true
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        let catalog = ctx.catalog;
        let graph = &*self.graph;
        let request = ctx.request;
        let conditional = graph.has_conditions();
        for (line_index, line) in ctx.cart.iter().enumerate() {
            let source = line.product;
            let range = graph.edge_range(source);
            for e in range.clone() {
                if conditional {
                    if let Some(c) = graph.condition(e) {
                        if !c.holds(request.date, &request.segments) {
                            continue;
                        }
                    }
                }
                let t = graph.target(e);
                let w = graph.edge_weight(e);
                let meta = graph.meta(e);
                if meta == EdgeMeta::default() {
                    sink.add_cross_sell(t, source, w, Via::Edge);
                    continue;
                }
                if catalog.relation(meta.relation).map(|r| r.kind) == Some(Kind::Upsell) {
                    // A replacement link: an upgrade of this line, weighted as given.
                    sink.add_upsell(t, line_index, source, w.min(1.0));
                    continue;
                }
                let (quantity, top_up) = if meta.quantity > 0 {
                    let needed = u32::from(meta.quantity).saturating_mul(line.quantity);
                    let held = ctx.quantity_in_cart(t);
                    if held >= needed {
                        continue; // the cart already holds enough
                    }
                    (needed - held, held > 0)
                } else {
                    (1, false)
                };
                sink.add_edge(t, source, w, Via::Edge, meta, quantity, top_up);
            }
            let rules = &*self.rules;
            for r in rules.rule_range(catalog.category(source)) {
                let (cat, w) = rules.rule(r);
                // A curated link into the category (one that applies to this
                // request) beats the rule.
                let linked = range.clone().any(|e| {
                    catalog.category(graph.target(e)) == cat
                        && graph
                            .condition(e)
                            .is_none_or(|c| c.holds(request.date, &request.segments))
                });
                if ctx.covers_category(cat) || linked {
                    continue;
                }
                if let Some(c) = rules.condition(r) {
                    if !c.holds(request.date, &request.segments) {
                        continue;
                    }
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
