//! Cross-sell from mined association rules: complement edges and itemset
//! rules learned from order history.

use std::sync::Arc;

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::graph::ComplementGraph;
use crate::itemset::ItemsetRules;

/// Cross-sell over association rules: a mined (or Spark-mined)
/// [`ComplementGraph`] of single-item rules `A -> C`, and [`ItemsetRules`]
/// `{A, B} -> C` that fire only when both A and B are in the cart.
///
/// For each cart line, every out-edge of its product is evidence for the
/// edge's target with the edge's weight; for each pair of cart products
/// that is the antecedent of itemset rules, each rule is evidence for its
/// consequent with the rule's weight, from the pair's smaller product id.
/// All evidence is [`Via::Learned`], so reasons read "often bought with".
/// Evidence adds up: a consequent of `A -> C`, `B -> C` and `{A, B} -> C`
/// collects all three weights, which is how a two-item rule lifts C above
/// what the single edges give it.
///
/// Unlike [`CrossSell`](crate::CrossSell), edges carry no merchant
/// metadata (relation type, quantity, pin, condition) and there are no
/// category rules: combine the two strategies in one engine to serve
/// curated and mined complements together.
///
/// Runs in O(Σ degree + m log K + m² log d) per call for a cart of m
/// lines (see [`crate::itemset`]), without allocating.
///
/// ```
/// use std::sync::Arc;
/// use cartwise::{Associations, Catalog, ComplementGraph, Engine, InlineCart, ItemsetRules, Kinds,
///                Money, Product, ProductId, Recommender, RelevanceScorer, Request};
/// let catalog = cartwise::InMemoryCatalog::from_products(
///     ["pasta", "parmesan", "tomatoes"].map(|s| Product::new(s, s, Money(100), "food")))?;
/// let id = |s| catalog.id(s).unwrap();
/// let graph = ComplementGraph::from_edges(3, [(id("pasta"), id("parmesan"), 0.2)])?;
/// let pairs = ItemsetRules::from_rules(3, [([id("pasta"), id("tomatoes")], id("parmesan"), 0.6)])?;
/// let engine = Engine::builder(catalog.clone())
///     .strategy(Associations::new(Arc::new(graph), Arc::new(pairs)))
///     .scorer(RelevanceScorer)
///     .build()?;
/// let cart = InlineCart::from_skus(engine.catalog(), [("pasta", 1), ("tomatoes", 1)])?;
/// let recs = engine.recommend(&cart, &Request::new().kinds(Kinds::CrossSell))?;
/// assert_eq!(recs.iter().next().map(|s| s.score), Some(0.2 + 0.6));
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Associations {
    graph: Arc<ComplementGraph>,
    itemsets: Arc<ItemsetRules>,
}

impl Associations {
    /// A strategy over single-item rules (`graph`) and two-item rules
    /// (`itemsets`), both over the catalog the engine serves.
    pub fn new(graph: Arc<ComplementGraph>, itemsets: Arc<ItemsetRules>) -> Self {
        Associations { graph, itemsets }
    }

    /// A strategy over single-item rules only.
    pub fn from_graph(graph: Arc<ComplementGraph>) -> Self {
        let products = graph.products();
        Associations::new(graph, Arc::new(ItemsetRules::empty(products)))
    }

    /// The single-item rules.
    pub fn graph(&self) -> &Arc<ComplementGraph> {
        &self.graph
    }

    /// The two-item rules.
    pub fn itemsets(&self) -> &Arc<ItemsetRules> {
        &self.itemsets
    }
}

impl<C: Catalog + ?Sized> Strategy<C> for Associations {
    fn name(&self) -> &str {
        "associations"
    }

    fn kind(&self) -> Kind {
        Kind::CrossSell
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        let graph = &*self.graph;
        for line in ctx.cart {
            let (targets, weights) = graph.neighbors(line.product);
            for (&t, &w) in targets.iter().zip(weights) {
                sink.add_cross_sell(t, line.product, w, Via::Learned);
            }
        }
        let rules = &*self.itemsets;
        if rules.is_empty() || ctx.cart.len() < 2 {
            return;
        }
        // Cart lines in cart order; each unordered pair once, looked up
        // from its smaller id, so the evidence order is deterministic.
        for (i, first) in ctx.cart.iter().enumerate() {
            for second in &ctx.cart[i + 1..] {
                let (a, b) = if first.product < second.product {
                    (first.product, second.product)
                } else {
                    (second.product, first.product)
                };
                let range = rules.antecedent_range(a);
                if range.is_empty() {
                    continue;
                }
                let keys = &rules.antecedents()[range.clone()];
                if let Ok(k) = keys.binary_search_by(|key| key[1].cmp(&b)) {
                    let (targets, weights) = rules.rules_of(range.start + k);
                    for (&c, &w) in targets.iter().zip(weights) {
                        sink.add_cross_sell(c, a, w, Via::Learned);
                    }
                }
            }
        }
    }
}
