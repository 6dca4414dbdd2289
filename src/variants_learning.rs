//! Learning at the parent level of variants.
//!
//! Sizes and colours split a product's sales: a T-shirt sold in five sizes
//! co-occurs with socks five times as thinly per SKU as it does as a model.
//! Mining at the parent level pools that evidence:
//!
//! 1. [`by_variant_group`] rewrites an order log so that every SKU the
//!    catalog knows as a variant becomes its group's representative SKU
//!    (the group member with the lowest id), merging repeats in an order;
//! 2. mine that log as usual ([`Miner`](crate::Miner)) and map the result
//!    onto the catalog ([`MinedGraph::to_graph`](crate::MinedGraph::to_graph));
//! 3. [`spread_to_variants`] copies each edge out of a representative to
//!    every member of its group, so any size in the cart finds the
//!    complements.
//!
//! Edge targets stay on the representatives; at serving time the engine
//! swaps a variant target for the in-stock member that matches the cart's
//! attributes (see [`Engine`](crate::Engine)), so the learned edge to "the
//! sock" becomes the customer's size of sock.

use crate::catalog::Catalog;
use crate::error::Result;
use crate::graph::ComplementGraph;
use crate::orders::OrderLog;

/// The order log with every variant SKU replaced by its group's
/// representative SKU (lowest id); SKUs the catalog does not know, or that
/// are not variants, are kept. Order ids, order order and first-appearance
/// item order are kept; timestamps and events are not carried over.
///
/// # Errors
/// As [`OrderLog::from_rows`] (not expected: the input log was valid).
pub fn by_variant_group<C: Catalog + ?Sized>(log: &OrderLog, catalog: &C) -> Result<OrderLog> {
    let parent: Vec<&str> = (0..log.n_items() as u32)
        .map(|i| {
            let sku = log.sku(i);
            catalog
                .id(sku)
                .and_then(|p| catalog.variant_group(p))
                .and_then(|g| catalog.variant_members(g).first())
                .map_or(sku, |&rep| catalog.sku(rep))
        })
        .collect();
    let mut rows = Vec::with_capacity(log.n_lines());
    for o in 0..log.len() {
        let id = log.order_id(o);
        for &i in log.order(o) {
            rows.push((id, parent[i as usize]));
        }
    }
    OrderLog::from_rows(rows)
}

/// Copies every edge out of a variant group's representative to the other
/// members of the group (the members' own edges, if any, win: a repeated
/// edge keeps its largest weight). Graphs without metadata only.
///
/// # Errors
/// As [`ComplementGraph::from_edges`].
pub fn spread_to_variants<C: Catalog + ?Sized>(
    graph: &ComplementGraph,
    catalog: &C,
) -> Result<ComplementGraph> {
    let mut edges: Vec<_> = graph.edges().collect();
    for (from, to, w) in graph.edges() {
        let Some(g) = catalog.variant_group(from) else {
            continue;
        };
        let members = catalog.variant_members(g);
        if members.first() != Some(&from) {
            continue;
        }
        for &m in &members[1..] {
            if m != to {
                edges.push((m, to, w));
            }
        }
    }
    ComplementGraph::from_edges(graph.products(), edges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CatalogBuilder, InlineCart, Kinds, Miner, Money, Product, Recommender, Request};

    /// Three sizes of a tee, each bought once with socks: per SKU no pair
    /// reaches a count of 2; per model the pair counts 3.
    #[test]
    fn parent_level_mining_pools_variant_evidence() {
        let mut b = CatalogBuilder::new();
        b.match_attribute("size");
        for size in ["S", "M", "L"] {
            b.add(
                Product::new(
                    format!("TEE-{size}"),
                    format!("Tee {size}"),
                    Money(2000),
                    "tees",
                )
                .variant_of("TEE")
                .with_attribute("size", size),
            )
            .unwrap();
            b.add(
                Product::new(
                    format!("SOCK-{size}"),
                    format!("Socks {size}"),
                    Money(500),
                    "socks",
                )
                .variant_of("SOCK")
                .with_attribute("size", size),
            )
            .unwrap();
        }
        let catalog = b.build().unwrap();
        let log = OrderLog::from_rows([
            ("1", "TEE-S"),
            ("1", "SOCK-S"),
            ("2", "TEE-M"),
            ("2", "SOCK-M"),
            ("3", "TEE-L"),
            ("3", "SOCK-L"),
        ])
        .unwrap();
        let mut miner = Miner::new();
        miner.min_count(2.0);
        let per_sku = miner.mine(log.view()).unwrap();
        assert_eq!(per_sku.to_graph(&catalog).unwrap().0.edge_count(), 0);

        let parent_log = by_variant_group(&log, &catalog).unwrap();
        assert_eq!(parent_log.n_items(), 2);
        let mined = miner.mine(parent_log.view()).unwrap();
        let (graph, _) = mined.to_graph(&catalog).unwrap();
        let graph = spread_to_variants(&graph, &catalog).unwrap();
        // Each tee size now has the sock edge (and each sock size the tee edge).
        for size in ["S", "M", "L"] {
            let tee = catalog.id(&format!("TEE-{size}")).unwrap();
            assert_eq!(graph.neighbors(tee).0.len(), 1, "TEE-{size}");
        }
        // Served: a medium tee gets medium socks.
        let engine =
            crate::Engine::standard(catalog, graph, crate::CategoryRules::default()).unwrap();
        let cart = InlineCart::from_skus(engine.catalog(), [("TEE-M", 1)]).unwrap();
        let recs = engine
            .recommend(&cart, &Request::new().kinds(Kinds::CrossSell))
            .unwrap();
        let skus: Vec<&str> = recs
            .iter()
            .map(|s| engine.catalog().sku(s.product))
            .collect();
        assert_eq!(skus, ["SOCK-M"]);
    }
}
