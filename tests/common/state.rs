//! Engine-state generators and helpers for the snapshot, hostile-input and
//! concurrency tests: small fixed states, random states with odd SKUs and
//! extreme prices, and answers rendered for comparison.
#![allow(dead_code)]

use std::collections::BTreeSet;

use cartwise::{
    catalog_json, CartLine, Catalog, CatalogBuilder, CategoryRules, ComplementGraph, Engine,
    EngineState, FeatureRule, Money, Product, ProductId, Recommender, Request, Rules,
};
use proptest::prelude::*;

/// The bundled demo catalog.
pub const DEMO: &str = include_str!("../../examples/data/electronics.json");

/// The demo catalog as an engine state.
pub fn demo_state() -> EngineState {
    EngineState::from_loaded(catalog_json::from_json_str(DEMO).unwrap()).unwrap()
}

/// A small fixed state: 4 products, two edges, one category rule, a family.
pub fn small_state() -> EngineState {
    let mut b = CatalogBuilder::new();
    b.add(
        Product::new("PH", "Phone", Money(50_000), "phones")
            .with_family("P", 1)
            .with_stock(3),
    )
    .unwrap();
    b.add(Product::new("PH2", "Phone 2", Money(60_000), "phones").with_family("P", 2))
        .unwrap();
    b.add(Product::new("CASE", "Case", Money(2_000), "cases").with_cost(Money(500)))
        .unwrap();
    b.add(Product::new("CAB", "Cable", Money(900), "cables").with_popularity(9))
        .unwrap();
    let catalog = b.build().unwrap();
    let mut g = ComplementGraph::builder(&catalog);
    g.add("PH", "CASE", 0.75).unwrap();
    g.add("PH2", "CASE", 0.5).unwrap();
    let graph = g.build().unwrap();
    let rules = CategoryRules::from_names(&catalog, [("phones", "cables", 0.25)]).unwrap();
    let mut state = EngineState::new(catalog, graph, rules).unwrap();
    state.version = 7;
    state.rules = Rules::new().boost("CASE", 1.5);
    state
}

/// SKU-like strings, including odd Unicode and control characters.
pub fn arb_sku() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z0-9-]{1,6}",
        "[a-z\u{0}-\u{1f}\u{7f}é💥\u{202e}\u{feff}]{1,4}",
    ]
}

/// Prices including the integer limits.
pub fn arb_price() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..100_000,
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>()
    ]
}

/// One generated product, before ids are assigned.
#[derive(Clone, Debug)]
pub struct GenProduct {
    pub sku: String,
    pub price: u64,
    pub category: u8,
    pub family: Option<u8>,
    pub features: Vec<u8>,
    pub stock: Option<u32>,
    pub cost: Option<u64>,
    pub popularity: u32,
}

prop_compose! {
    pub fn arb_product()(
        sku in arb_sku(),
        price in arb_price(),
        category in 0u8..4,
        family in proptest::option::of(0u8..2),
        features in proptest::collection::vec(0u8..5, 0..4),
        stock in proptest::option::of(0u32..3),
        cost in proptest::option::of(arb_price()),
        popularity in prop_oneof![0u32..100, Just(u32::MAX)],
    ) -> GenProduct {
        GenProduct { sku, price, category, family, features, stock, cost, popularity }
    }
}

/// The raw material of a random engine state.
#[derive(Clone, Debug)]
pub struct GenState {
    pub products: Vec<GenProduct>,
    pub edges: Vec<(usize, usize, f32)>,
    pub category_rules: Vec<(u8, u8, f32)>,
    pub boosts: Vec<(usize, f32)>,
    pub excluded: Vec<usize>,
    pub pins: Vec<usize>,
    pub max_per_category: Option<u32>,
    pub step_percent: u32,
    pub keep_features: bool,
    pub tiers_up: u32,
    pub fanout: usize,
    pub weights: [f32; 4],
    pub version: u64,
}

prop_compose! {
    pub fn arb_gen_state()(
        products in proptest::collection::vec(arb_product(), 1..12),
        edges in proptest::collection::vec((0usize..64, 0usize..64, 0f32..2.0), 0..30),
        category_rules in proptest::collection::vec((0u8..4, 0u8..4, 0f32..1.0), 0..5),
        boosts in proptest::collection::vec((0usize..64, 0f32..3.0), 0..3),
        excluded in proptest::collection::vec(0usize..64, 0..2),
        pins in proptest::collection::vec(0usize..64, 0..2),
        max_per_category in proptest::option::of(1u32..3),
        step_percent in prop_oneof![Just(50u32), 0u32..=10_000],
        keep_features in any::<bool>(),
        tiers_up in 1u32..4,
        fanout in 0usize..4,
        weights in [0f32..1.0, 0f32..1.0, 0f32..1.0, 0f32..1.0],
        version in any::<u64>(),
    ) -> GenState {
        GenState {
            products, edges, category_rules, boosts, excluded, pins, max_per_category,
            step_percent, keep_features, tiers_up, fanout, weights, version,
        }
    }
}

/// Builds a state from generated material: duplicate SKUs are dropped,
/// tiers are numbered inside each family, indices wrap around.
pub fn build_state(g: &GenState) -> EngineState {
    let mut seen = BTreeSet::new();
    let mut tiers = [0u32; 2];
    let mut b = CatalogBuilder::new();
    for p in &g.products {
        if !seen.insert(p.sku.clone()) {
            continue;
        }
        let mut product = Product::new(
            p.sku.clone(),
            format!("name of {}", p.sku),
            Money(p.price),
            format!("cat-{}", p.category),
        )
        .with_features(p.features.iter().map(|f| format!("f{f}")))
        .with_popularity(p.popularity);
        if let Some(f) = p.family {
            tiers[f as usize] += 1;
            product = product.with_family(format!("fam-{f}"), tiers[f as usize]);
        }
        product.stock = p.stock;
        product.cost = p.cost.map(Money);
        b.add(product).unwrap();
    }
    let catalog = b.build().unwrap();
    let n = catalog.len();
    let id = |i: usize| ProductId::from_index(i % n);
    let edges: Vec<_> = g
        .edges
        .iter()
        .filter(|e| e.0 % n != e.1 % n)
        .map(|&(f, t, w)| (id(f), id(t), w))
        .collect();
    let graph = ComplementGraph::from_edges(n, edges).unwrap();
    let cats = catalog.category_count();
    let names: Vec<String> = (0..cats)
        .map(|c| {
            catalog
                .category_name(cartwise::CategoryId::from_index(c))
                .to_owned()
        })
        .collect();
    let rules: Vec<(&str, &str, f64)> = g
        .category_rules
        .iter()
        .filter(|r| (r.0 as usize) % cats != (r.1 as usize) % cats)
        .map(|&(f, t, w)| {
            (
                names[f as usize % cats].as_str(),
                names[t as usize % cats].as_str(),
                f64::from(w),
            )
        })
        .collect();
    let category_rules = CategoryRules::from_names(&catalog, rules).unwrap();
    let sku = |i: usize| catalog.sku(id(i)).to_owned();
    let mut merchant = Rules::new();
    for &(i, f) in &g.boosts {
        merchant = merchant.boost(sku(i), f);
    }
    for &i in &g.excluded {
        merchant = merchant.exclude_sku(sku(i));
    }
    for &i in &g.pins {
        merchant = merchant.pin(sku(i));
    }
    merchant.max_per_category = g.max_per_category;
    let mut state = EngineState::new(catalog, graph, category_rules).unwrap();
    state.rules = merchant;
    state.version = g.version;
    state.upsell.max_price_step_percent = g.step_percent;
    state.upsell.features = if g.keep_features {
        FeatureRule::MustKeepAll
    } else {
        FeatureRule::Any
    };
    state.upsell.max_tiers_up = g.tiers_up;
    state.cross_sell.category_fanout = g.fanout;
    state.weights.relevance = g.weights[0];
    state.weights.margin = g.weights[1];
    state.weights.price_fit = g.weights[2];
    state.weights.popularity = g.weights[3];
    state
}

/// Random engine states.
pub fn arb_state() -> impl Strategy<Value = EngineState> {
    arb_gen_state().prop_map(|g| build_state(&g))
}

/// Carts as (index, quantity) pairs; indices wrap around the catalog.
pub fn arb_cart_spec() -> impl Strategy<Value = Vec<(usize, u32)>> {
    proptest::collection::vec((0usize..64, 1u32..4), 0..5)
}

/// The cart lines of a spec over a catalog of `n` products.
pub fn cart(spec: &[(usize, u32)], n: usize) -> Vec<CartLine> {
    spec.iter()
        .map(|&(i, q)| CartLine {
            product: ProductId::from_index(i % n),
            quantity: q,
        })
        .collect()
}

/// Every suggestion of every request kind for `cart`, rendered with SKUs,
/// so answers from two engines over equal catalogs can be compared.
pub fn answers(engine: &Engine, cart: &[CartLine]) -> Vec<String> {
    let mut out = Vec::new();
    for kinds in [
        cartwise::Kinds::Both,
        cartwise::Kinds::CrossSell,
        cartwise::Kinds::Upsell,
    ] {
        match engine.recommend(&cart.to_vec(), &Request::new().limit(10).kinds(kinds)) {
            Ok(recs) => {
                for s in &recs {
                    let v = engine.view(s);
                    out.push(format!(
                        "{} {} {} {:?} {}",
                        recs.version, v.sku, v.kind, v.score, v.reason
                    ));
                }
            }
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out
}

/// The raw material of the optional sections: learned edges, a prior or
/// not, a popular list, mined edges and itemset rules (indices wrap around
/// the catalog; weights in quarters).
#[derive(Clone, Debug)]
pub struct GenExtras {
    /// Learned edges, whether there is a prior, the popular list.
    pub learned: Option<(Vec<GenEdge>, bool, Vec<usize>)>,
    /// Mined edges and itemset rules `(a, b, c, weight)`.
    pub associations: Option<(Vec<GenEdge>, Vec<GenItemsetRule>)>,
}

/// A generated edge: from, to, weight in quarters.
pub type GenEdge = (usize, usize, u8);

/// A generated itemset rule: two antecedents, a consequent, a weight in
/// quarters.
pub type GenItemsetRule = (usize, usize, usize, u8);

prop_compose! {
    pub fn arb_extras()(
        learned in proptest::option::of((
            proptest::collection::vec((0usize..64, 0usize..64, 0u8..8), 0..12),
            any::<bool>(),
            proptest::collection::vec(0usize..64, 0..4),
        )),
        associations in proptest::option::of((
            proptest::collection::vec((0usize..64, 0usize..64, 0u8..8), 0..12),
            proptest::collection::vec((0usize..64, 0usize..64, 0usize..64, 0u8..8), 0..8),
        )),
    ) -> GenExtras {
        GenExtras { learned, associations }
    }
}

/// Adds a learned model and association rules made from `g` to `state`.
pub fn with_extras(mut state: EngineState, g: &GenExtras) -> EngineState {
    use std::sync::Arc;
    let n = state.catalog.len();
    let id = |i: usize| ProductId::from_index(i % n);
    let edges = |list: &[(usize, usize, u8)]| {
        let e: Vec<_> = list
            .iter()
            .filter(|e| e.0 % n != e.1 % n)
            .map(|&(f, t, w)| (id(f), id(t), f32::from(w) / 4.0))
            .collect();
        ComplementGraph::from_edges(n, e).unwrap()
    };
    if let Some((learned, with_prior, popular)) = &g.learned {
        let prior = if *with_prior {
            (0..n).map(|i| (i % 5) as f32 * 0.25).collect()
        } else {
            Vec::new()
        };
        let popular = popular.iter().map(|&i| id(i)).collect();
        let edges: Vec<_> = learned
            .iter()
            .filter(|e| e.0 % n != e.1 % n)
            .map(|&(f, t, w)| (id(f), id(t), f32::from(w) / 4.0 - 0.5))
            .collect();
        let model = cartwise::LearnedGraph::from_edges(n, edges, prior, popular).unwrap();
        state.learned = Some(Arc::new(model));
    }
    if let Some((mined, itemsets)) = &g.associations {
        let rules: Vec<_> = itemsets
            .iter()
            .filter(|r| {
                let (a, b, c) = (r.0 % n, r.1 % n, r.2 % n);
                a != b && c != a && c != b
            })
            .map(|&(a, b, c, w)| ([id(a), id(b)], id(c), f32::from(w) / 4.0))
            .collect();
        let rules = cartwise::ItemsetRules::from_rules(n, rules).unwrap();
        state.associations = Some(cartwise::Associations::new(
            Arc::new(edges(mined)),
            Arc::new(rules),
        ));
    }
    state
}

/// Random engine states, with or without a learned model and association
/// rules.
pub fn arb_full_state() -> impl Strategy<Value = EngineState> {
    (arb_gen_state(), arb_extras()).prop_map(|(g, x)| with_extras(build_state(&g), &x))
}
