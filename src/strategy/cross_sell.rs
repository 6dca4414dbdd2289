//! Cross-sell from curated complement edges and category rules.

use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::cart::CartLine;
use crate::catalog::Catalog;
use crate::graph::{CategoryRules, ComplementGraph, EdgeMeta};
use crate::id::{CategoryId, ProductId};

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

    /// Starts loading every line's edge offsets (prefetch instructions,
    /// nothing waits for them), so that those misses overlap the other
    /// strategies' prefetches (upsell's, in the standard engine).
    fn prefetch(&self, ctx: &Context<'_, C>) {
        for line in ctx.cart {
            self.graph.prefetch_range(line.product);
        }
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        // Lines are taken in batches of LINES, in three passes each. At a
        // million products every cart line's offsets, edge list and its
        // targets' catalog rows are likely cache misses; the first two
        // passes are small loops that start them for all lines of the
        // batch at once, so the misses overlap instead of being paid one
        // line after another. The last pass does the work, in cart order.
        const LINES: usize = 32;
        for (batch, lines) in ctx.cart.chunks(LINES).enumerate() {
            let mut ranges = [(0usize, 0usize); LINES];
            for (k, line) in lines.iter().enumerate() {
                let r = self.graph.edge_range(line.product);
                if !r.is_empty() {
                    // Start loading the line's targets and weights (the
                    // weights are read only in the last pass) alongside
                    // the other lines' loads.
                    self.graph.prefetch_edge(r.start);
                    self.graph.prefetch_edge(r.end - 1);
                }
                ranges[k] = (r.start, r.end);
            }
            // Start every target's catalog row in a loop of a few
            // instructions per edge, so their misses are in flight
            // together; `linked_rules` and the filter then find the rows
            // in cache or on their way. This pass read each row's category
            // first (5-line calls 17% faster, 20-line 16%, at a million
            // products, than meeting the misses in `linked_rules`); a
            // prefetch, which the processor need not wait for, gained
            // 4-18% more at 5 and 20 lines. `linked_rules` runs line by
            // line in the last pass, not in a pass of its own right after
            // this one: the first line's rows had not arrived by then, and
            // pooling a line's edges needs no row (seventh round: ×0.97
            // cold at 5 and 20 lines, paired rounds, ranges across 1).
            for &(a, b) in &ranges[..lines.len()] {
                for &t in self.graph.edge_slices(a..b).0 {
                    ctx.catalog.prefetch(t);
                }
            }
            for (k, line) in lines.iter().enumerate() {
                let range = ranges[k].0..ranges[k].1;
                let linked = self.linked_rules(ctx, line.product, range.clone());
                self.line_candidates(ctx, batch * LINES + k, line, range, linked, sink);
            }
        }
    }
}

impl CrossSell {
    /// Bit `i` set: the `i`-th category rule of `source`'s category (of the
    /// first 64) has its category already reached by one of `source`'s
    /// applicable edges, so the rule adds nothing. One pass over the edges
    /// reads each target's category once, however many rules there are.
    #[inline]
    fn linked_rules<C: Catalog + ?Sized>(
        &self,
        ctx: &Context<'_, C>,
        source: ProductId,
        edges: std::ops::Range<usize>,
    ) -> u64 {
        let (graph, catalog) = (&*self.graph, ctx.catalog);
        let (rule_targets, _) = self.rules.targets(catalog.category(source));
        if rule_targets.is_empty() {
            return 0;
        }
        let masked = &rule_targets[..rule_targets.len().min(64)];
        let mut mask = 0u64;
        // Branch-free: whether an edge links into a rule's category is as
        // good as random, and a mispredicted branch per edge and rule cost
        // more than the comparison.
        let mut link = |category: CategoryId| {
            for (i, &r) in masked.iter().enumerate() {
                mask |= u64::from(r == category) << i;
            }
        };
        if graph.has_conditions() {
            for e in edges {
                if graph
                    .condition(e)
                    .is_none_or(|c| c.holds(ctx.request.date, &ctx.request.segments))
                {
                    link(catalog.category(graph.target(e)));
                }
            }
        } else {
            // The targets' categories gathered into a small buffer, then
            // each rule's category compared against all of them: the
            // compiler turns the comparison into vector instructions,
            // several edges per instruction. Always all 64 slots (the
            // unused ones hold `u32::MAX`, which no category id reaches:
            // ids index the catalog's categories): a loop as long as the
            // line's degree mispredicted its exit for every rule, twice
            // with its scalar remainder (eleventh round: 15 fewer
            // simulated mispredictions per 5-line call at 1k products,
            // ×0.97-0.98 at 5 and 20 lines, same answers).
            for chunk in graph.edge_slices(edges).0.chunks(64) {
                let mut categories = [u32::MAX; 64];
                for (c, &t) in categories.iter_mut().zip(chunk) {
                    *c = catalog.category(t).0;
                }
                for (i, &r) in masked.iter().enumerate() {
                    let hit = categories
                        .iter()
                        .fold(0u32, |a, &c| a | u32::from(c == r.0));
                    mask |= u64::from(hit) << i;
                }
            }
        }
        mask
    }

    /// The candidates of one cart line: its edges, then its category rules
    /// (`linked` from [`Self::linked_rules`]).
    fn line_candidates<C: Catalog + ?Sized>(
        &self,
        ctx: &Context<'_, C>,
        line_index: usize,
        line: &CartLine,
        range: std::ops::Range<usize>,
        linked_mask: u64,
        sink: &mut Candidates,
    ) {
        let catalog = ctx.catalog;
        let graph = &*self.graph;
        let request = ctx.request;
        let conditional = graph.has_conditions();
        let source = line.product;
        if graph.is_plain() {
            // No metadata, no conditions: every edge is plain evidence.
            let (targets, weights) = graph.edge_slices(range.clone());
            sink.add_plain_edges(source, targets, weights);
        } else {
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
        }
        let rules = &*self.rules;
        let rule_range = rules.rule_range(catalog.category(source));
        for r in rule_range.clone() {
            let (cat, w) = rules.rule(r);
            // A rule adds nothing when the cart covers its category or
            // one of the line's edges already links into it.
            if ctx.covers_category(cat) {
                continue;
            }
            let linked = if r - rule_range.start < 64 {
                linked_mask & (1 << (r - rule_range.start)) != 0
            } else {
                range.clone().any(|e| {
                    catalog.category(graph.target(e)) == cat
                        && graph
                            .condition(e)
                            .is_none_or(|c| c.holds(request.date, &request.segments))
                })
            };
            if linked {
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
