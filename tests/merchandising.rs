//! Merchandising (issue 5): relation types, positions and pins, variants,
//! quantities, bundles, placements, conditions and purchase history, the
//! "more like this" fallback, margin and stock depth.
//!
//! Each point of the issue has example tests on small hand-built shops (or a
//! JSON catalog), and a proptest property where it states an invariant.
//! Every answer goes through [`assert_merchandising_valid`].
//!
//! Not here: time decay and event weights (points 7 and 8a of the issue)
//! belong to the order-log miner, which lives on another branch.

use std::collections::BTreeSet;
use std::sync::Arc;

use cartwise::catalog_json::from_json_str;
use cartwise::{
    frequently_bought_together, BundleSpec, Bundles, Cart, CartLine, Catalog, CatalogBuilder,
    CategoryLink, CategoryRules, ComplementGraph, CrossSell, Day, DefaultScorer, Engine, Error,
    InMemoryCatalog, InlineCart, Kind, Kinds, Link, Money, Placement, Product, ProductId, Reason,
    Recommender, RelationType, RelevanceScorer, Request, ScoreWeights, Scorer, Similar, SkuContext,
    Suggestion, Symmetry, TogetherSet, Upsell,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers

fn product(sku: &str, name: &str, price: u64, category: &str) -> Product {
    Product::new(sku, name, Money(price), category)
}

/// A catalog of `products`, with `setup` applied to the builder first
/// (relation types, matching attributes, repurchasable categories).
fn catalog_with(
    products: impl IntoIterator<Item = Product>,
    setup: impl FnOnce(&mut CatalogBuilder),
) -> InMemoryCatalog {
    let mut b = CatalogBuilder::new();
    setup(&mut b);
    for p in products {
        b.add(p).expect("valid product");
    }
    b.build().expect("valid catalog")
}

fn catalog(products: impl IntoIterator<Item = Product>) -> InMemoryCatalog {
    catalog_with(products, |_| {})
}

fn graph(catalog: &InMemoryCatalog, links: &[Link]) -> ComplementGraph {
    let mut g = ComplementGraph::builder(catalog);
    for l in links {
        g.link(l).expect("valid link");
    }
    g.build().expect("graph builds")
}

/// Cross-sell over `links` and `category_links`, then upsell, ranked by `scorer`.
fn engine_over<S: Scorer<InMemoryCatalog> + 'static>(
    catalog: InMemoryCatalog,
    links: &[Link],
    category_links: &[CategoryLink],
    scorer: S,
) -> Engine {
    let g = graph(&catalog, links);
    let rules = CategoryRules::from_links(&catalog, category_links).expect("valid category rules");
    Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(g), Arc::new(rules)))
        .strategy(Upsell::default())
        .scorer(scorer)
        .build()
        .expect("engine builds")
}

/// The usual engine (default scorer) over `links`.
fn engine(catalog: InMemoryCatalog, links: &[Link]) -> Engine {
    engine_over(catalog, links, &[], DefaultScorer::default())
}

/// The engine ranking by relevance alone, so scores are the evidence itself.
fn relevance_engine(catalog: InMemoryCatalog, links: &[Link]) -> Engine {
    engine_over(catalog, links, &[], RelevanceScorer)
}

fn cart_of(engine: &Engine, lines: &[(&str, u32)]) -> InlineCart {
    InlineCart::from_skus(engine.catalog(), lines.iter().copied()).expect("cart SKUs are known")
}

/// The suggestions for a cart, checked by [`assert_merchandising_valid`].
fn ask(engine: &Engine, lines: &[(&str, u32)], request: &Request) -> Vec<Suggestion> {
    let cart = cart_of(engine, lines);
    let recs = engine.recommend(&cart, request).expect("valid request");
    if let Err(e) = assert_merchandising_valid(engine, &cart, request, &recs.suggestions) {
        panic!("{e}");
    }
    recs.suggestions
}

fn skus<'e>(engine: &'e Engine, recs: &[Suggestion]) -> Vec<&'e str> {
    recs.iter()
        .map(|s| engine.catalog().sku(s.product))
        .collect()
}

/// The suggestion of `sku`, if any.
fn find<'r>(engine: &Engine, recs: &'r [Suggestion], sku: &str) -> Option<&'r Suggestion> {
    let id = engine.catalog().id(sku).expect("known SKU");
    recs.iter().find(|s| s.product == id)
}

fn reason(engine: &Engine, s: &Suggestion) -> String {
    engine.explain(s).to_string()
}

fn day(s: &str) -> Day {
    s.parse().expect("valid date")
}

/// Checks what every merchandising answer must satisfy:
///
/// * at most `limit`, no product twice, at most one product per variant
///   group, never a variant whose group a cart line belongs to;
/// * each kind wanted by the request and matching its reason, whose cart
///   product is in the cart;
/// * a quantity of at least 1 that the stock covers, and price × quantity
///   within the budget;
/// * a product already in the cart only as a cross-sell (a top-up);
/// * finite scores.
fn assert_merchandising_valid(
    engine: &Engine,
    cart: &dyn Cart,
    request: &Request,
    recs: &[Suggestion],
) -> Result<(), TestCaseError> {
    let catalog = engine.catalog();
    let lines = cart.lines();
    let in_cart = |p: ProductId| lines.iter().any(|l| l.product == p);
    let cart_groups: BTreeSet<_> = lines
        .iter()
        .filter_map(|l| catalog.variant_group(l.product))
        .collect();
    prop_assert!(
        recs.len() <= request.limit,
        "{} suggestions for limit {}",
        recs.len(),
        request.limit
    );
    let mut seen = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for s in recs {
        let sku = catalog.sku(s.product);
        prop_assert!(seen.insert(s.product), "{} suggested twice", sku);
        if let Some(g) = catalog.variant_group(s.product) {
            prop_assert!(
                !cart_groups.contains(&g),
                "{} is a sibling variant of a cart line",
                sku
            );
            prop_assert!(groups.insert(g), "{} is a second variant of one group", sku);
        }
        prop_assert!(request.kinds.includes(s.kind), "{} is a {:?}", sku, s.kind);
        prop_assert!(s.score.is_finite(), "{} has score {}", sku, s.score);
        prop_assert!(s.quantity >= 1, "{} has quantity 0", sku);
        prop_assert!(
            catalog.available(s.product, s.quantity),
            "{}: {} units but stock {:?}",
            sku,
            s.quantity,
            catalog.stock(s.product)
        );
        if let Some(budget) = request.budget {
            let cost = catalog.price(s.product).checked_mul(s.quantity);
            prop_assert!(
                cost.is_some_and(|c| c <= budget),
                "{} x{} is above the budget",
                sku,
                s.quantity
            );
        }
        if in_cart(s.product) {
            prop_assert_eq!(s.kind, Kind::CrossSell, "{} is in the cart", sku);
        }
        match s.reason {
            Reason::Complements { source, .. } => {
                prop_assert_eq!(s.kind, Kind::CrossSell, "{}: kind and reason differ", sku);
                prop_assert!(in_cart(source), "{}: its source is not in the cart", sku);
            }
            Reason::Upgrade { replaces, .. } => {
                prop_assert_eq!(s.kind, Kind::Upsell, "{}: kind and reason differ", sku);
                prop_assert!(in_cart(replaces), "{}: replaces nothing in the cart", sku);
            }
            _ => prop_assert!(false, "unknown reason variant"),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. Relation types, positions and pins

/// A phone with one link of each kind of relation.
fn typed_shop() -> Engine {
    let c = catalog_with(
        [
            product("PH", "Phone", 80_000, "phones"),
            product("CASE", "Case", 3_000, "cases"),
            product("CARE", "Care Plan", 9_000, "services"),
            product("CBL", "Cable", 1_500, "cables"),
            product("INK", "Ink", 2_000, "ink"),
            product("PLAIN", "Plain Thing", 1_000, "misc"),
            product("WRAP", "Gift Wrap", 500, "gifts"),
        ],
        |b| {
            b.relation(RelationType::new("gift wrap"))
                .expect("valid relation");
        },
    );
    engine(
        c,
        &[
            Link::new("PH", "CASE", 0.9).relation("accessory"),
            Link::new("PH", "CARE", 0.8).relation("service"),
            Link::new("PH", "CBL", 0.7).relation("compatible"),
            Link::new("PH", "INK", 0.6).relation("consumable"),
            Link::new("PH", "PLAIN", 0.5),
            Link::new("PH", "WRAP", 0.4).relation("gift wrap"),
        ],
    )
}

#[test]
fn reason_names_the_relation_type() {
    let e = typed_shop();
    let recs = ask(&e, &[("PH", 1)], &Request::new().limit(10));
    let text = |sku| reason(&e, find(&e, &recs, sku).expect("suggested"));
    assert_eq!(text("CASE"), r#"accessory for "Phone" (weight 0.90)"#);
    assert_eq!(text("CARE"), r#"service for "Phone" (weight 0.80)"#);
    assert_eq!(text("CBL"), r#"compatible with "Phone" (weight 0.70)"#);
    assert_eq!(text("INK"), r#"consumable for "Phone" (weight 0.60)"#);
    assert_eq!(text("PLAIN"), r#"complements "Phone" (weight 0.50)"#);
    assert_eq!(text("WRAP"), r#"gift wrap for "Phone" (weight 0.40)"#);
}

#[test]
fn an_unknown_relation_type_is_a_typed_error() {
    let c = catalog([product("A", "A", 100, "x"), product("B", "B", 100, "y")]);
    let mut g = ComplementGraph::builder(&c);
    let err = g
        .link(&Link::new("A", "B", 0.5).relation("bogus"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { field: "relation", value, .. } if value == "\"bogus\""),
        "{err:?}"
    );
    assert!(g.is_empty());
}

/// An old model with a `replacement` link to the new one; neither has a family.
fn replacement_shop() -> Engine {
    let c = catalog([
        product("OLD", "Old Model", 10_000, "gadgets"),
        product("NEW", "New Model", 12_000, "gadgets"),
        product("BAG", "Bag", 2_000, "bags"),
    ]);
    relevance_engine(
        c,
        &[
            Link::new("OLD", "NEW", 0.7).relation("replacement"),
            Link::new("OLD", "BAG", 0.5),
        ],
    )
}

#[test]
fn a_replacement_link_produces_an_upsell() {
    let e = replacement_shop();
    let recs = ask(&e, &[("OLD", 1)], &Request::new());
    let new = find(&e, &recs, "NEW").expect("the new model is suggested");
    assert_eq!(new.kind, Kind::Upsell);
    let old = e.catalog().id("OLD").unwrap();
    assert!(
        matches!(new.reason, Reason::Upgrade { replaces, line: 0, price_delta: 2_000, .. } if replaces == old),
        "{:?}",
        new.reason
    );
    assert!(reason(&e, new).starts_with(r#"upgrade of "Old Model": +20% price (+20.00)"#));
    // The link's weight is the upgrade's fit.
    assert_eq!(new.score, 0.7);
    assert_eq!(find(&e, &recs, "BAG").unwrap().kind, Kind::CrossSell);
}

#[test]
fn a_replacement_link_is_left_out_of_a_cross_sell_only_request() {
    let e = replacement_shop();
    let recs = ask(&e, &[("OLD", 1)], &Request::new().kinds(Kinds::CrossSell));
    assert_eq!(skus(&e, &recs), ["BAG"]);
}

/// An upsell-only request (or placement) should still see upgrades that
/// come from `replacement` links.
#[test]
fn a_replacement_link_serves_an_upsell_only_request() {
    let e = replacement_shop();
    let recs = ask(&e, &[("OLD", 1)], &Request::new().kinds(Kinds::Upsell));
    assert_eq!(skus(&e, &recs), ["NEW"]);
    assert_eq!(recs[0].kind, Kind::Upsell);
}

fn pair_catalog() -> InMemoryCatalog {
    catalog_with(
        [
            product("CBL-A", "Cable A", 1_000, "cables"),
            product("CBL-B", "Cable B", 1_000, "adapters"),
        ],
        |b| {
            b.relation(RelationType::new("pairs").with_symmetry(Symmetry::Mirrored(0.5)))
                .expect("valid relation");
        },
    )
}

#[test]
fn a_compatible_link_adds_the_reverse_edge() {
    let c = pair_catalog();
    let g = graph(
        &c,
        &[Link::new("CBL-A", "CBL-B", 0.8).relation("compatible")],
    );
    let (a, b) = (c.id("CBL-A").unwrap(), c.id("CBL-B").unwrap());
    assert_eq!(g.weight(a, b), Some(0.8));
    assert_eq!(g.weight(b, a), Some(0.8));
    assert_eq!(g.edge_count(), 2);

    // A cart holding the target is offered the source, with the type named.
    let e = engine(
        c,
        &[Link::new("CBL-A", "CBL-B", 0.8).relation("compatible")],
    );
    let recs = ask(&e, &[("CBL-B", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CBL-A"]);
    assert_eq!(
        reason(&e, &recs[0]),
        r#"compatible with "Cable B" (weight 0.80)"#
    );
}

#[test]
fn an_explicit_reverse_edge_wins_over_the_mirror_in_either_order() {
    let forward = Link::new("CBL-A", "CBL-B", 0.8).relation("compatible");
    // Weaker than the mirror would be, and plainly typed: still the one kept.
    let reverse = Link::new("CBL-B", "CBL-A", 0.3);
    for links in [
        [forward.clone(), reverse.clone()],
        [reverse.clone(), forward.clone()],
    ] {
        let c = pair_catalog();
        let g = graph(&c, &links);
        let (a, b) = (c.id("CBL-A").unwrap(), c.id("CBL-B").unwrap());
        assert_eq!(g.weight(a, b), Some(0.8));
        assert_eq!(g.weight(b, a), Some(0.3));
        assert_eq!(g.edge_count(), 2);
        let e = engine(c, &links);
        let recs = ask(&e, &[("CBL-B", 1)], &Request::new());
        assert_eq!(
            reason(&e, &recs[0]),
            r#"complements "Cable B" (weight 0.30)"#
        );
    }
}

#[test]
fn two_mirrored_links_keep_both_explicit_weights() {
    let links = [
        Link::new("CBL-A", "CBL-B", 0.8).relation("compatible"),
        Link::new("CBL-B", "CBL-A", 0.2).relation("compatible"),
    ];
    let c = pair_catalog();
    let g = graph(&c, &links);
    let (a, b) = (c.id("CBL-A").unwrap(), c.id("CBL-B").unwrap());
    assert_eq!((g.weight(a, b), g.weight(b, a)), (Some(0.8), Some(0.2)));
}

#[test]
fn a_user_relation_mirrored_at_half_adds_the_reverse_edge_at_half_weight() {
    let c = pair_catalog();
    let links = [Link::new("CBL-A", "CBL-B", 0.8).relation("pairs")];
    let g = graph(&c, &links);
    let (a, b) = (c.id("CBL-A").unwrap(), c.id("CBL-B").unwrap());
    assert_eq!(g.weight(a, b), Some(0.8));
    assert_eq!(g.weight(b, a), Some(0.4));
    let e = engine(c, &links);
    let recs = ask(&e, &[("CBL-B", 1)], &Request::new());
    assert_eq!(reason(&e, &recs[0]), r#"pairs for "Cable B" (weight 0.40)"#);
}

#[test]
fn a_mirror_factor_outside_zero_to_one_is_rejected() {
    for f in [0.0, -0.5, 1.5, f32::NAN, f32::INFINITY] {
        let err = CatalogBuilder::new()
            .relation(RelationType::new("x").with_symmetry(Symmetry::Mirrored(f)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    field: "relation.symmetry",
                    ..
                }
            ),
            "{f}: {err:?}"
        );
    }
}

#[test]
fn positions_cap_later_links_at_the_weight_of_earlier_ones() {
    let c = catalog([
        product("S", "Source", 10_000, "s"),
        product("X", "X", 1_000, "t"),
        product("Y", "Y", 1_000, "t"),
        product("Z", "Z", 1_000, "t"),
    ]);
    // The merchant puts Z first, X second, Y third, against the weights.
    let links = [
        Link::new("S", "X", 0.9).position(2),
        Link::new("S", "Y", 0.8).position(3),
        Link::new("S", "Z", 0.3).position(1),
    ];
    let g = graph(&c, &links);
    let s = c.id("S").unwrap();
    let w = |sku| g.weight(s, c.id(sku).unwrap()).unwrap();
    assert_eq!((w("Z"), w("X"), w("Y")), (0.3, 0.3, 0.3));
    let e = relevance_engine(c, &links);
    let recs = ask(&e, &[("S", 1)], &Request::new());
    assert!(recs.iter().all(|r| r.score == 0.3));
}

#[test]
fn a_pinned_link_ranks_first_and_pins_nothing_without_its_source() {
    let c = catalog([
        product("PH", "Phone", 80_000, "phones"),
        product("LT", "Laptop", 120_000, "laptops"),
        product("CASE", "Case", 3_000, "cases"),
        product("CARE", "Care Plan", 9_000, "services"),
        product("BAG", "Bag", 5_000, "bags"),
    ]);
    let links = [
        Link::new("PH", "CASE", 0.95).relation("accessory"),
        Link::new("PH", "CARE", 0.1).relation("service").pinned(),
        Link::new("LT", "BAG", 0.9),
        Link::new("LT", "CARE", 0.05),
    ];
    let e = engine(c, &links);
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CARE", "CASE"]);
    // The laptop's link to the care plan is not pinned.
    let recs = ask(&e, &[("LT", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["BAG", "CARE"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A link at a later position never has more relevance than one at an
    /// earlier position of the same source, whatever the weights given.
    #[test]
    fn later_positions_never_outrank_earlier_ones_in_relevance(
        links in prop::collection::vec((0.0f64..2.0, prop::option::weighted(0.75, 1u32..=4)), 2..=6),
        extra in prop::collection::vec(0.0f64..2.0, 0..=2),
    ) {
        let mut products = vec![product("S", "Source", 10_000, "s")];
        for i in 0..links.len() {
            products.push(product(&format!("T{i}"), "T", 1_000, "t"));
        }
        // A second cart product linking elsewhere, unpositioned.
        products.push(product("O", "Other", 10_000, "o"));
        for i in 0..extra.len() {
            products.push(product(&format!("U{i}"), "U", 1_000, "u"));
        }
        let mut list: Vec<Link> = links
            .iter()
            .enumerate()
            .map(|(i, &(w, pos))| {
                let l = Link::new("S", format!("T{i}"), w);
                match pos {
                    Some(p) => l.position(p),
                    None => l,
                }
            })
            .collect();
        list.extend(extra.iter().enumerate().map(|(i, &w)| Link::new("O", format!("U{i}"), w)));
        let e = relevance_engine(catalog(products), &list);
        let recs = ask(&e, &[("S", 1), ("O", 1)], &Request::new().limit(20));
        prop_assert_eq!(recs.len(), links.len() + extra.len());
        let score = |i: usize| find(&e, &recs, &format!("T{i}")).map(|s| s.score).unwrap();
        for (i, &(w, pi)) in links.iter().enumerate() {
            // Never above the weight given.
            prop_assert!(f64::from(score(i)) <= w as f32 as f64);
            for (j, &(_, pj)) in links.iter().enumerate() {
                if let (Some(pi), Some(pj)) = (pi, pj) {
                    if pi < pj {
                        prop_assert!(
                            score(i) >= score(j),
                            "T{} at {} scores {} < T{} at {} scoring {}",
                            i, pi, score(i), j, pj, score(j)
                        );
                    }
                }
            }
        }
    }

    /// Whatever the weights, a pinned link's target comes first whenever its
    /// source is in the cart, even beside another cart line with heavier links.
    #[test]
    fn a_pinned_link_ranks_first_whenever_its_source_is_in_the_cart(
        weights in prop::collection::vec(0.0f64..1.0, 2..=6),
        pinned in any::<prop::sample::Index>(),
        other in prop::collection::vec(0.0f64..5.0, 0..=3),
        costs in prop::collection::vec(0u64..1_000, 10),
    ) {
        let pinned = pinned.index(weights.len());
        let mut products = vec![
            product("S", "Source", 10_000, "s"),
            product("O", "Other", 10_000, "o"),
        ];
        for (i, &cost) in costs.iter().take(weights.len()).enumerate() {
            products.push(
                product(&format!("T{i}"), "T", 1_000, &format!("t{i}")).with_cost(Money(cost)),
            );
        }
        for i in 0..other.len() {
            products.push(product(&format!("U{i}"), "U", 1_000, "u").with_popularity(100));
        }
        let mut list: Vec<Link> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let l = Link::new("S", format!("T{i}"), w);
                if i == pinned { l.pinned() } else { l }
            })
            .collect();
        list.extend(other.iter().enumerate().map(|(i, &w)| Link::new("O", format!("U{i}"), w)));
        let e = engine(catalog(products), &list);
        let recs = ask(&e, &[("O", 1), ("S", 1)], &Request::new().limit(3));
        prop_assert_eq!(e.catalog().sku(recs[0].product), format!("T{pinned}"));
        // Without its source, the target is not pinned (and not suggested).
        let recs = ask(&e, &[("O", 1)], &Request::new().limit(3));
        prop_assert!(recs.iter().all(|s| !e.catalog().sku(s.product).starts_with('T')));
    }
}

// ---------------------------------------------------------------------------
// 2. Variants

/// Trail watches in two sizes at two tiers, bands in three sizes, a phone
/// without a size. Suggestions match the cart's `size`.
fn variant_products(band_45_stock: u32) -> Vec<Product> {
    let watch = |sku: &str, name: &str, price, tier, group: &str, size: &str| {
        product(sku, name, price, "watches")
            .with_family("Trail", tier)
            .variant_of(group)
            .with_attribute("size", size)
            .with_stock(5)
    };
    let band = |sku: &str, size: &str, stock, popularity| {
        product(sku, &format!("Band {size}"), 4_900, "bands")
            .variant_of("BAND")
            .with_attribute("size", size)
            .with_stock(stock)
            .with_popularity(popularity)
    };
    vec![
        watch("W-41", "Watch 41mm", 29_900, 1, "W", "41mm"),
        watch("W-45", "Watch 45mm", 32_900, 1, "W", "45mm"),
        watch("WP-41", "Watch Pro 41mm", 39_900, 2, "WP", "41mm"),
        watch("WP-45", "Watch Pro 45mm", 42_900, 2, "WP", "45mm"),
        band("BAND-41", "41mm", 30, 300),
        band("BAND-45", "45mm", band_45_stock, 10),
        band("BAND-49", "49mm", 30, 500),
        product("PH", "Phone", 80_000, "phones"),
        product("CARE", "Watch Care", 5_900, "services"),
    ]
}

/// Every watch links to the 41mm band (as a merchant would, once).
fn variant_links() -> Vec<Link> {
    let mut links: Vec<Link> = ["W-41", "W-45", "WP-41", "WP-45"]
        .iter()
        .map(|w| Link::new(*w, "BAND-41", 0.8).relation("accessory"))
        .collect();
    links.push(Link::new("W-45", "CARE", 0.5).relation("service"));
    links.push(Link::new("PH", "BAND-41", 0.3));
    links.push(Link::new("PH", "BAND-45", 0.2));
    links
}

fn variant_shop(band_45_stock: u32) -> Engine {
    let c = catalog_with(variant_products(band_45_stock), |b| {
        b.match_attribute("size");
    });
    engine(c, &variant_links())
}

#[test]
fn a_suggestion_names_the_in_stock_variant_matching_the_carts_size() {
    let e = variant_shop(25);
    let recs = ask(&e, &[("W-45", 1)], &Request::new());
    let band = find(&e, &recs, "BAND-45").expect("the 45mm band");
    assert_eq!(band.kind, Kind::CrossSell);
    assert_eq!(
        reason(&e, band),
        r#"accessory for "Watch 45mm" (weight 0.80)"#
    );
    for other in ["BAND-41", "BAND-49"] {
        assert!(find(&e, &recs, other).is_none(), "{other} suggested too");
    }
    // The 41mm watch keeps the band the link names.
    let recs = ask(&e, &[("W-41", 1)], &Request::new());
    assert!(find(&e, &recs, "BAND-41").is_some());
}

#[test]
fn an_out_of_stock_matching_variant_falls_back_to_another_in_stock_one() {
    let e = variant_shop(0);
    let recs = ask(&e, &[("W-45", 1)], &Request::new());
    let bands: Vec<&str> = skus(&e, &recs)
        .into_iter()
        .filter(|s| s.starts_with("BAND"))
        .collect();
    // No size matches; the linked variant is preferred over the more popular 49mm.
    assert_eq!(bands, ["BAND-41"]);
}

#[test]
fn no_band_when_every_variant_is_out_of_stock() {
    let mut products = variant_products(0);
    for p in &mut products {
        if p.sku.starts_with("BAND") {
            p.stock = Some(0);
        }
    }
    let c = catalog_with(products, |b| {
        b.match_attribute("size");
    });
    let e = engine(c, &variant_links());
    let recs = ask(&e, &[("W-45", 1)], &Request::new());
    assert!(skus(&e, &recs).iter().all(|s| !s.starts_with("BAND")));
}

#[test]
fn the_upsell_keeps_the_size_one_tier_up() {
    let e = variant_shop(25);
    let recs = ask(&e, &[("W-45", 1)], &Request::new());
    let ups: Vec<&str> = recs
        .iter()
        .filter(|s| s.kind == Kind::Upsell)
        .map(|s| e.catalog().sku(s.product))
        .collect();
    assert_eq!(ups, ["WP-45"]);
    let recs = ask(&e, &[("W-41", 1)], &Request::new());
    assert!(find(&e, &recs, "WP-41").is_some_and(|s| s.kind == Kind::Upsell));
    assert!(find(&e, &recs, "WP-45").is_none());
}

#[test]
fn a_replacement_link_to_another_size_is_resolved_to_the_carts_size() {
    // Without the tier ladder, so the upgrade comes from the link alone.
    let mut products = variant_products(25);
    for p in &mut products {
        p.family = None;
        p.tier = None;
    }
    let c = catalog_with(products, |b| {
        b.match_attribute("size");
    });
    let e = engine(
        c,
        &[Link::new("W-45", "WP-41", 0.9).relation("replacement")],
    );
    let recs = ask(&e, &[("W-45", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["WP-45"]);
    assert_eq!(recs[0].kind, Kind::Upsell);
}

#[test]
fn never_a_sibling_of_a_cart_line() {
    let c = catalog_with(variant_products(25), |b| {
        b.match_attribute("size");
    });
    // A (silly) link from one size to the other.
    let e = engine(c, &[Link::new("BAND-41", "BAND-45", 0.9)]);
    let recs = ask(&e, &[("BAND-41", 1)], &Request::new());
    assert!(recs.is_empty(), "{:?}", skus(&e, &recs));
}

#[test]
fn one_suggestion_per_variant_group_when_the_cart_has_no_size() {
    // The phone links to two band sizes; it has no size to match.
    let e = variant_shop(25);
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    let bands = skus(&e, &recs)
        .into_iter()
        .filter(|s| s.starts_with("BAND"))
        .count();
    assert_eq!(bands, 1);
}

#[test]
fn one_suggestion_per_variant_group_without_matching_attributes() {
    // No `match_attribute`: two links to two sizes still give one band,
    // and the two Pro sizes give one upsell.
    let e = engine(catalog(variant_products(25)), &variant_links());
    let recs = ask(&e, &[("PH", 1), ("W-45", 1)], &Request::new().limit(10));
    let names = skus(&e, &recs);
    assert_eq!(
        names.iter().filter(|s| s.starts_with("BAND")).count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|s| s.starts_with("WP")).count(),
        1,
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------
// 3. Quantities

fn furniture(chair_stock: Option<u32>) -> Engine {
    let mut chair = product("CHAIR", "Chair", 5_000, "chairs");
    chair.stock = chair_stock;
    let c = catalog([product("TABLE", "Table", 40_000, "tables"), chair]);
    engine(c, &[Link::new("TABLE", "CHAIR", 0.9).quantity(4)])
}

fn chairs(engine: &Engine, cart: &[(&str, u32)], request: &Request) -> Option<u32> {
    let recs = ask(engine, cart, request);
    find(engine, &recs, "CHAIR").map(|s| s.quantity)
}

#[test]
fn four_chairs_per_table() {
    let e = furniture(None);
    let req = Request::new();
    assert_eq!(chairs(&e, &[("TABLE", 1)], &req), Some(4));
    assert_eq!(chairs(&e, &[("TABLE", 1), ("CHAIR", 1)], &req), Some(3));
    assert_eq!(chairs(&e, &[("TABLE", 1), ("CHAIR", 4)], &req), None);
    assert_eq!(chairs(&e, &[("TABLE", 1), ("CHAIR", 6)], &req), None);
    assert_eq!(chairs(&e, &[("TABLE", 2)], &req), Some(8));
    assert_eq!(chairs(&e, &[("TABLE", 2), ("CHAIR", 5)], &req), Some(3));
}

#[test]
fn a_top_up_is_a_cross_sell_of_a_line_already_in_the_cart() {
    let e = furniture(None);
    let recs = ask(&e, &[("TABLE", 1), ("CHAIR", 1)], &Request::new());
    let s = find(&e, &recs, "CHAIR").unwrap();
    assert_eq!((s.kind, s.quantity), (Kind::CrossSell, 3));
    assert_eq!(e.view(s).quantity, 3);
}

#[test]
fn a_cart_product_that_is_also_an_upgrade_comes_back_only_as_a_top_up() {
    // CHAIR-PRO is a higher tier of CHAIR (an upgrade of a cart line) and
    // the table calls for four of it (a top-up of a cart line). Upgrading
    // to a product the cart holds replaces nothing: the suggestion is the
    // top-up, a cross-sell; an upsell-only request gets nothing.
    let c = catalog([
        product("TABLE", "Table", 40_000, "tables"),
        product("CHAIR", "Chair", 5_000, "chairs").with_family("chairs", 1),
        product("CHAIR-PRO", "Chair Pro", 6_000, "chairs").with_family("chairs", 2),
    ]);
    let e = engine(c, &[Link::new("TABLE", "CHAIR-PRO", 0.9).quantity(4)]);
    let cart = [("TABLE", 1), ("CHAIR", 1), ("CHAIR-PRO", 1)];
    let recs = ask(&e, &cart, &Request::new());
    let s = find(&e, &recs, "CHAIR-PRO").expect("the top-up is suggested");
    assert_eq!((s.kind, s.quantity), (Kind::CrossSell, 3));
    assert!(matches!(s.reason, Reason::Complements { .. }));
    let upsell_only = ask(&e, &cart, &Request::new().kinds(Kinds::Upsell));
    assert!(find(&e, &upsell_only, "CHAIR-PRO").is_none());
}

#[test]
fn the_quantity_scales_with_the_source_lines_quantity() {
    // Three tables, given as a plain slice of lines: twelve chairs.
    let e = furniture(None);
    let table = e.catalog().id("TABLE").unwrap();
    let lines = [CartLine {
        product: table,
        quantity: 3,
    }];
    let recs = e.recommend(&lines, &Request::new()).unwrap();
    assert_eq!(recs.suggestions[0].quantity, 12);
}

#[test]
fn the_quantity_is_capped_by_stock() {
    let e = furniture(Some(3));
    assert_eq!(chairs(&e, &[("TABLE", 1)], &Request::new()), Some(3));
    let e = furniture(Some(0));
    assert_eq!(chairs(&e, &[("TABLE", 1)], &Request::new()), None);
}

#[test]
fn the_budget_applies_to_price_times_quantity() {
    let e = furniture(None);
    // 4 chairs at 50.00 are 200.00.
    assert_eq!(
        chairs(&e, &[("TABLE", 1)], &Request::new().budget(Money(20_000))),
        Some(4)
    );
    assert_eq!(
        chairs(&e, &[("TABLE", 1)], &Request::new().budget(Money(19_999))),
        None
    );
    // A top-up of 3 costs 150.00.
    assert_eq!(
        chairs(
            &e,
            &[("TABLE", 1), ("CHAIR", 1)],
            &Request::new().budget(Money(15_000))
        ),
        Some(3)
    );
}

#[test]
fn a_quantity_outside_one_to_255_is_rejected() {
    let c = catalog([product("A", "A", 100, "x"), product("B", "B", 100, "y")]);
    for q in [0, 256] {
        let mut g = ComplementGraph::builder(&c);
        let err = g.link(&Link::new("A", "B", 0.5).quantity(q)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { field: "quantity", value, .. } if *value == q.to_string()),
            "{err:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The suggested quantity is what the tables call for minus what the
    /// cart holds, capped by stock; none when the cart holds enough.
    #[test]
    fn chair_quantity_matches_the_arithmetic(
        per_table in 1u32..=6,
        tables in 1u32..=4,
        held in 0u32..=30,
        stock in prop::option::of(0u32..=30),
    ) {
        let mut chair = product("CHAIR", "Chair", 5_000, "chairs");
        chair.stock = stock;
        let c = catalog([product("TABLE", "Table", 40_000, "tables"), chair]);
        let e = engine(c, &[Link::new("TABLE", "CHAIR", 0.9).quantity(per_table)]);
        let mut cart = vec![("TABLE", tables)];
        if held > 0 {
            cart.push(("CHAIR", held));
        }
        let got = chairs(&e, &cart, &Request::new());
        let need = per_table * tables;
        let expected = if held >= need || stock == Some(0) {
            None
        } else {
            Some((need - held).min(stock.unwrap_or(u32::MAX)))
        };
        prop_assert_eq!(got, expected);
    }
}

// ---------------------------------------------------------------------------
// 4. Bundles

fn camera_catalog(bag_stock: u32) -> InMemoryCatalog {
    catalog([
        product("CAM", "Camera", 80_000, "cameras"),
        product("LENS", "Lens", 30_000, "lenses"),
        product("BAG", "Bag", 10_000, "bags").with_stock(bag_stock),
        product("SD", "Card", 2_000, "cards"),
    ])
}

fn spec(name: &str, skus: &[&str], price: Option<u64>, discount: Option<u32>) -> BundleSpec {
    BundleSpec {
        name: name.to_owned(),
        skus: skus.iter().map(|s| s.to_string()).collect(),
        price: price.map(Money),
        discount_percent: discount,
    }
}

fn camera_shop(bag_stock: u32) -> Engine {
    let c = camera_catalog(bag_stock);
    let bundles = Bundles::from_specs(
        &c,
        &[
            spec("Kit", &["CAM", "LENS", "BAG"], None, Some(10)),
            spec("Duo", &["CAM", "LENS"], Some(100_000), None),
        ],
    )
    .expect("valid bundles");
    let g = graph(&c, &[]);
    Engine::builder(c)
        .strategy(CrossSell::new(
            Arc::new(g),
            Arc::new(CategoryRules::default()),
        ))
        .bundles(bundles)
        .build()
        .expect("engine builds")
}

fn offers(e: &Engine, cart: &[(&str, u32)]) -> Vec<(String, Vec<String>, u64, u64, u64)> {
    let cart = cart_of(e, cart);
    e.bundle_offers(&cart)
        .expect("valid cart")
        .into_iter()
        .map(|o| {
            let missing = o
                .missing
                .iter()
                .map(|&p| e.catalog().sku(p).to_owned())
                .collect();
            (
                e.bundles().list()[o.bundle].name.clone(),
                missing,
                o.price.0,
                o.regular_price.0,
                o.saving.0,
            )
        })
        .collect()
}

#[test]
fn a_bundle_is_offered_for_part_of_it_with_the_saving() {
    let e = camera_shop(5);
    let got = offers(&e, &[("CAM", 1)]);
    // Fewest missing first. Duo: 1100.00 apart, 1000.00 together. Kit:
    // 1200.00 apart, 10% off = 1080.00.
    assert_eq!(
        got,
        [
            ("Duo".into(), vec!["LENS".into()], 100_000, 110_000, 10_000),
            (
                "Kit".into(),
                vec!["BAG".into(), "LENS".into()],
                108_000,
                120_000,
                12_000
            ),
        ]
    );
    let kit = &e.bundles().list()[0];
    assert_eq!(
        (kit.regular_price, kit.price),
        (Money(120_000), Money(108_000))
    );
}

#[test]
fn a_bundle_whose_missing_member_is_out_of_stock_is_not_offered() {
    let e = camera_shop(0);
    let got = offers(&e, &[("CAM", 1)]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "Duo");
    // An out-of-stock member already in the cart does not matter.
    let got = offers(&e, &[("CAM", 1), ("BAG", 1)]);
    assert!(got.iter().any(|o| o.0 == "Kit" && o.1 == ["LENS"]));
}

#[test]
fn no_bundle_when_the_cart_holds_all_or_none() {
    let e = camera_shop(5);
    assert!(offers(&e, &[("SD", 1)]).is_empty());
    let got = offers(&e, &[("CAM", 1), ("LENS", 1)]);
    // The duo is complete; only the kit is left to offer.
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0.as_str(), &got[0].1[..]),
        ("Kit", &["BAG".to_owned()][..])
    );
    assert!(offers(&e, &[("CAM", 1), ("LENS", 1), ("BAG", 1)]).is_empty());
}

#[test]
fn an_unknown_bundle_member_is_a_typed_error() {
    let c = camera_catalog(5);
    let err = Bundles::from_specs(&c, &[spec("X", &["CAM", "TRIPOD"], Some(1), None)]).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownSku { sku, context: SkuContext::Bundle } if sku == "TRIPOD"),
        "{err:?}"
    );
}

#[test]
fn a_bundle_of_one_member_is_rejected() {
    let c = camera_catalog(5);
    for skus in [&["CAM"][..], &["CAM", "CAM"][..]] {
        let err = Bundles::from_specs(&c, &[spec("X", skus, Some(1), None)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    field: "bundle.skus",
                    ..
                }
            ),
            "{skus:?}: {err:?}"
        );
    }
}

#[test]
fn a_bundle_needs_exactly_one_of_price_and_discount() {
    let c = camera_catalog(5);
    for (price, discount) in [(Some(1_000), Some(10)), (None, None)] {
        let err =
            Bundles::from_specs(&c, &[spec("X", &["CAM", "LENS"], price, discount)]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { field: "bundle.price", value, .. } if value == "\"X\""),
            "{err:?}"
        );
    }
    for d in [0, 101] {
        let err =
            Bundles::from_specs(&c, &[spec("X", &["CAM", "LENS"], None, Some(d))]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    field: "bundle.discount_percent",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn a_bundle_price_above_the_members_sum_is_rejected() {
    let c = camera_catalog(5);
    // Exactly the sum is allowed (no saving, but not a loss).
    assert!(Bundles::from_specs(&c, &[spec("X", &["CAM", "LENS"], Some(110_000), None)]).is_ok());
    let err =
        Bundles::from_specs(&c, &[spec("X", &["CAM", "LENS"], Some(110_001), None)]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { field: "bundle.price", value, .. } if value == "1100.01"),
        "{err:?}"
    );
}

/// Anchor A; neighbours B 0.9, C 0.8, D 0.5; an edge C -> B (0.3) closes
/// the triangle A, B, C; nothing joins D to B or C.
fn together_graph() -> (InMemoryCatalog, ComplementGraph) {
    let c = catalog(["A", "B", "C", "D"].map(|s| product(s, s, 1_000, s)));
    let g = graph(
        &c,
        &[
            Link::new("A", "B", 0.9),
            Link::new("A", "C", 0.8),
            Link::new("A", "D", 0.5),
            Link::new("C", "B", 0.3),
        ],
    );
    (c, g)
}

fn set_skus(c: &InMemoryCatalog, sets: &[TogetherSet]) -> Vec<(String, f32)> {
    sets.iter()
        .map(|s| {
            let names: Vec<&str> = s.products.iter().map(|&p| c.sku(p)).collect();
            (names.join("+"), s.weight)
        })
        .collect()
}

#[test]
fn frequently_bought_together_gives_pairs_and_closed_triples_by_weight() {
    let (c, g) = together_graph();
    let a = c.id("A").unwrap();
    let sets = frequently_bought_together(&c, &g, a, 3, 10);
    assert_eq!(
        set_skus(&c, &sets),
        [
            ("A+B+C".to_owned(), 0.9 + 0.8 + 0.3),
            ("A+B".to_owned(), 0.9),
            ("A+C".to_owned(), 0.8),
            ("A+D".to_owned(), 0.5),
        ]
    );
    // `max_sets` keeps the strongest; `fanout` limits the neighbours.
    assert_eq!(frequently_bought_together(&c, &g, a, 3, 2).len(), 2);
    let sets = frequently_bought_together(&c, &g, a, 1, 10);
    assert_eq!(set_skus(&c, &sets), [("A+B".to_owned(), 0.9)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Against a brute-force reference: every pair of the anchor and one of
    /// its `fanout` strongest available neighbours, and every triple of two
    /// such neighbours joined by an edge (either way), by weight.
    #[test]
    fn frequently_bought_together_matches_a_reference(
        edges in prop::collection::vec((0usize..6, 0usize..6, 0.0f64..1.0), 0..=20),
        stock in prop::collection::vec(prop::option::of(0u32..=2), 6),
        fanout in 1usize..=5,
        max_sets in 1usize..=12,
    ) {
        let products: Vec<Product> = (0..6)
            .map(|i| {
                let mut p = product(&format!("P{i}"), "P", 1_000, "x");
                p.stock = stock[i];
                p
            })
            .collect();
        let c = catalog(products);
        let links: Vec<Link> = edges
            .iter()
            .filter(|e| e.0 != e.1)
            .map(|&(f, t, w)| Link::new(format!("P{f}"), format!("P{t}"), w))
            .collect();
        let g = graph(&c, &links);
        let id = |i: usize| c.id(&format!("P{i}")).unwrap();
        let anchor = id(0);
        let got = frequently_bought_together(&c, &g, anchor, fanout, max_sets);

        // Reference: the largest weight of each edge, by brute force.
        let weight = |f: usize, t: usize| {
            links
                .iter()
                .filter(|l| l.from == format!("P{f}") && l.to == format!("P{t}"))
                .map(|l| l.weight as f32)
                .fold(None, |m: Option<f32>, w| Some(m.map_or(w, |m| m.max(w))))
        };
        let mut top: Vec<(usize, f32)> = (1..6)
            .filter(|&i| c.available(id(i), 1))
            .filter_map(|i| weight(0, i).map(|w| (i, w)))
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then(id(a.0).cmp(&id(b.0))));
        top.truncate(fanout);
        let mut want: Vec<(Vec<ProductId>, f32)> = Vec::new();
        for (x, &(a, wa)) in top.iter().enumerate() {
            want.push((vec![anchor, id(a)], wa));
            for &(b, wb) in &top[x + 1..] {
                let ab = weight(a, b).unwrap_or(0.0).max(weight(b, a).unwrap_or(0.0));
                if ab > 0.0 {
                    want.push((vec![anchor, id(a), id(b)], wa + wb + ab));
                }
            }
        }
        want.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        want.truncate(max_sets);
        let got: Vec<(Vec<ProductId>, f32)> =
            got.iter().map(|s| (s.products.to_vec(), s.weight)).collect();
        prop_assert_eq!(&got, &want);
        for w in got.windows(2) {
            prop_assert!(w[0].1 >= w[1].1, "not sorted by weight");
        }
        for (set, _) in &got {
            prop_assert!(set.len() == 2 || set.len() == 3);
            if set.len() == 3 {
                prop_assert!(g.weight(set[1], set[2]).or(g.weight(set[2], set[1])).is_some());
            }
        }
    }
}

#[test]
fn bundles_load_from_json_with_their_location_on_error() {
    let text = r#"{
  "products": [
    {"sku": "CAM", "name": "Camera", "price": 80000, "category": "cameras"},
    {"sku": "LENS", "name": "Lens", "price": 30000, "category": "lenses"}
  ],
  "bundles": [
    {"name": "Duo", "skus": ["CAM", "LENS"], "discount_percent": 5},
    {"name": "Bad", "skus": ["CAM", "TRIPOD"], "price": 1000}
  ]
}"#;
    let err = from_json_str(text).unwrap_err();
    match &err {
        Error::Located { location, line, .. } => {
            assert_eq!((location.as_str(), *line), ("bundles[1]", 8))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err.root_cause(),
        Error::UnknownSku { sku, context: SkuContext::Bundle } if sku == "TRIPOD"
    ));
    let good = text.replace(
        ",\n    {\"name\": \"Bad\", \"skus\": [\"CAM\", \"TRIPOD\"], \"price\": 1000}",
        "",
    );
    let e = from_json_str(&good).unwrap().into_engine().unwrap();
    let got = offers(&e, &[("LENS", 1)]);
    assert_eq!(
        got,
        [("Duo".into(), vec!["CAM".into()], 104_500, 110_000, 5_500)]
    );
}

// ---------------------------------------------------------------------------
// 5. Placements

#[test]
fn placements_respect_their_limits_and_kinds_and_never_repeat() {
    let e = from_json_str(include_str!("../examples/data/electronics.json"))
        .unwrap()
        .into_engine()
        .unwrap();
    let cart = cart_of(&e, &[("PH-15", 1)]);
    let placements = [
        Placement::new("product_page", 3, Kinds::Both),
        Placement::new("upgrades", 2, Kinds::Upsell),
        Placement::cart(),
        Placement::checkout(),
    ];
    let answers = e
        .recommend_placements(&cart, &Request::new(), &placements)
        .unwrap();
    assert_eq!(answers.len(), placements.len());
    let mut seen = BTreeSet::new();
    for (p, recs) in placements.iter().zip(&answers) {
        assert!(recs.len() <= p.limit, "{}", p.name);
        assert!(recs.iter().all(|s| p.kinds.includes(s.kind)), "{}", p.name);
        for s in recs {
            assert!(
                seen.insert(s.product),
                "{} repeated",
                e.catalog().sku(s.product)
            );
        }
    }
    assert_eq!(answers[0].len(), 3);
    assert_eq!(answers[2].len(), 4);
    assert!(answers[2].iter().all(|s| s.kind == Kind::CrossSell));
    // The same request alone would have given the first placement's answer.
    let alone = e.recommend(&cart, &Request::new().limit(3)).unwrap();
    assert_eq!(answers[0].suggestions, alone.suggestions);
}

#[test]
fn placement_presets() {
    assert_eq!(
        Placement::product_page(),
        Placement::new("product_page", 6, Kinds::Both)
    );
    assert_eq!(
        Placement::cart(),
        Placement::new("cart", 4, Kinds::CrossSell)
    );
    assert_eq!(
        Placement::checkout(),
        Placement::new("checkout", 2, Kinds::CrossSell)
    );
    assert_eq!(Placement::email(), Placement::new("email", 8, Kinds::Both));
}

#[test]
fn a_placement_with_a_bad_limit_fails_the_call() {
    let e = furniture(None);
    let cart = cart_of(&e, &[("TABLE", 1)]);
    let err = e
        .recommend_placements(
            &cart,
            &Request::new(),
            &[Placement::cart(), Placement::new("x", 0, Kinds::Both)],
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidLimit { limit: 0, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// Random shops with variants, typed links and quantities, for the
// variant and placement properties.

const SIZES: [&str; 3] = ["S", "M", "L"];
const CATEGORIES: [&str; 3] = ["a", "b", "c"];
const RELATIONS: [&str; 6] = [
    "complement",
    "accessory",
    "consumable",
    "service",
    "compatible",
    "replacement",
];

#[derive(Clone, Debug)]
struct World {
    products: Vec<Product>,
    links: Vec<Link>,
    match_size: bool,
}

fn arb_stock() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), Just(Some(0)), (1u32..=4).prop_map(Some)]
}

prop_compose! {
    /// 1 to 4 variant groups of 1 to 3 sizes (some groups forming a tier
    /// ladder), and 1 to 4 plain products, some with a size.
    fn arb_products()(
        groups in prop::collection::vec(
            (prop::collection::btree_set(0usize..3, 1..=3), 0usize..3, any::<bool>()),
            1..=4,
        ),
        singles in prop::collection::vec((0usize..3, prop::option::of(0usize..3)), 1..=4),
        stock in prop::collection::vec(arb_stock(), 20),
        popularity in prop::collection::vec(0u32..5, 20),
    ) -> Vec<Product> {
        let mut out = Vec::new();
        for (g, (sizes, category, in_family)) in groups.iter().enumerate() {
            for &s in sizes {
                let mut p = product(
                    &format!("G{g}-{}", SIZES[s]),
                    &format!("Group {g} {}", SIZES[s]),
                    1_000 + 200 * g as u64 + 10 * s as u64,
                    CATEGORIES[*category],
                )
                .variant_of(format!("G{g}"))
                .with_attribute("size", SIZES[s]);
                if *in_family {
                    p = p.with_family("F", g as u32 + 1);
                }
                out.push(p);
            }
        }
        for (j, (category, size)) in singles.iter().enumerate() {
            let mut p = product(&format!("P{j}"), &format!("Plain {j}"), 1_500, CATEGORIES[*category]);
            if let Some(s) = size {
                p = p.with_attribute("size", SIZES[*s]);
            }
            out.push(p);
        }
        for (i, p) in out.iter_mut().enumerate() {
            p.stock = stock[i % stock.len()];
            p.popularity = popularity[i % popularity.len()];
        }
        out
    }
}

prop_compose! {
    fn arb_world()(products in arb_products())(
        links in prop::collection::vec(
            (
                0..products.len(),
                0..products.len(),
                0.0f64..1.0,
                0..RELATIONS.len(),
                prop::option::weighted(0.3, 1u32..=3),
                prop::bool::weighted(0.15),
            ),
            0..=14,
        ),
        match_size in any::<bool>(),
        products in Just(products),
    ) -> World {
        let links = links
            .into_iter()
            .filter(|l| l.0 != l.1)
            .map(|(f, t, w, r, q, pinned)| {
                let mut l = Link::new(&products[f].sku, &products[t].sku, w).relation(RELATIONS[r]);
                l.quantity = q;
                l.pinned = pinned;
                l
            })
            .collect();
        World { products, links, match_size }
    }
}

fn world_engine(world: &World) -> Engine {
    let c = catalog_with(world.products.clone(), |b| {
        if world.match_size {
            b.match_attribute("size");
        }
    });
    engine(c, &world.links)
}

fn world_cart(world: &World, lines: &[(usize, u32)]) -> Vec<(String, u32)> {
    lines
        .iter()
        .map(|&(i, q)| (world.products[i % world.products.len()].sku.clone(), q))
        .collect()
}

fn arb_kinds() -> impl Strategy<Value = Kinds> {
    prop_oneof![
        Just(Kinds::Both),
        Just(Kinds::CrossSell),
        Just(Kinds::Upsell)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Never a sibling variant of a cart line, one product per variant
    /// group, every suggestion in stock for its quantity and within the
    /// budget at that quantity.
    #[test]
    fn variants_never_repeat_a_group_or_a_cart_lines_siblings(
        world in arb_world(),
        lines in prop::collection::vec((0usize..40, 1u32..=3), 1..=3),
        kinds in arb_kinds(),
        budget in prop::option::of(1_000u64..5_000),
    ) {
        let e = world_engine(&world);
        let lines = world_cart(&world, &lines);
        let lines: Vec<(&str, u32)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        let cart = cart_of(&e, &lines);
        let mut request = Request::new().limit(10).kinds(kinds);
        if let Some(b) = budget {
            request = request.budget(Money(b));
        }
        let recs = e.recommend(&cart, &request).unwrap();
        assert_merchandising_valid(&e, &cart, &request, &recs.suggestions)?;
    }

    /// Several placements for one page never repeat a product, and each
    /// respects its limit and kinds.
    #[test]
    fn placements_never_repeat_a_product(
        world in arb_world(),
        lines in prop::collection::vec((0usize..40, 1u32..=3), 1..=3),
        placements in prop::collection::vec((1usize..=4, arb_kinds()), 1..=4),
    ) {
        let e = world_engine(&world);
        let lines = world_cart(&world, &lines);
        let lines: Vec<(&str, u32)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        let cart = cart_of(&e, &lines);
        let placements: Vec<Placement> = placements
            .iter()
            .enumerate()
            .map(|(i, &(limit, kinds))| Placement::new(format!("p{i}"), limit, kinds))
            .collect();
        let answers = e.recommend_placements(&cart, &Request::new(), &placements).unwrap();
        prop_assert_eq!(answers.len(), placements.len());
        let mut seen = BTreeSet::new();
        for (p, recs) in placements.iter().zip(&answers) {
            let request = Request::new().limit(p.limit).kinds(p.kinds);
            assert_merchandising_valid(&e, &cart, &request, &recs.suggestions)?;
            for s in recs {
                prop_assert!(
                    seen.insert(s.product),
                    "{} repeated in {}",
                    e.catalog().sku(s.product),
                    p.name
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Conditions and purchase history

fn conditional_shop() -> Engine {
    let c = catalog([
        product("PH", "Phone", 80_000, "phones"),
        product("GIFT", "Gift Box", 500, "gifts"),
        product("LT", "Laptop", 120_000, "laptops"),
        product("MON", "Monitor", 30_000, "monitors"),
        product("CASE", "Case", 3_000, "cases"),
    ]);
    let mut rule = CategoryLink::new("phones", "cases", 0.5);
    rule.segments.push("vip".into());
    rule.start = Some(day("2026-01-01"));
    engine_over(
        c,
        &[
            Link::new("PH", "GIFT", 0.6).between(day("2026-12-01"), day("2026-12-24")),
            Link::new("LT", "MON", 0.5).segment("b2b"),
        ],
        &[rule],
        DefaultScorer::default(),
    )
}

fn suggested(e: &Engine, cart: &[(&str, u32)], request: &Request, sku: &str) -> bool {
    find(e, &ask(e, cart, request), sku).is_some()
}

#[test]
fn a_dated_link_fires_only_inside_its_range() {
    let e = conditional_shop();
    let on = |d: &str| Request::new().on(day(d));
    assert!(!suggested(&e, &[("PH", 1)], &Request::new(), "GIFT"));
    assert!(!suggested(&e, &[("PH", 1)], &on("2026-11-30"), "GIFT"));
    assert!(suggested(&e, &[("PH", 1)], &on("2026-12-01"), "GIFT"));
    assert!(suggested(&e, &[("PH", 1)], &on("2026-12-24"), "GIFT"));
    assert!(!suggested(&e, &[("PH", 1)], &on("2026-12-25"), "GIFT"));
    assert!(!suggested(&e, &[("PH", 1)], &on("2025-12-10"), "GIFT"));
}

#[test]
fn a_segment_limited_link_fires_only_for_that_segment() {
    let e = conditional_shop();
    assert!(!suggested(&e, &[("LT", 1)], &Request::new(), "MON"));
    assert!(!suggested(
        &e,
        &[("LT", 1)],
        &Request::new().segment("b2c"),
        "MON"
    ));
    assert!(suggested(
        &e,
        &[("LT", 1)],
        &Request::new().segment("b2b"),
        "MON"
    ));
    assert!(suggested(
        &e,
        &[("LT", 1)],
        &Request::new().segment("vip").segment("b2b"),
        "MON"
    ));
}

#[test]
fn a_category_rule_with_a_segment_and_a_start_date() {
    let e = conditional_shop();
    let vip = || Request::new().segment("vip");
    assert!(!suggested(
        &e,
        &[("PH", 1)],
        &Request::new().on(day("2026-06-01")),
        "CASE"
    ));
    assert!(!suggested(&e, &[("PH", 1)], &vip(), "CASE"), "no date");
    assert!(!suggested(
        &e,
        &[("PH", 1)],
        &vip().on(day("2025-12-31")),
        "CASE"
    ));
    let recs = ask(&e, &[("PH", 1)], &vip().on(day("2026-06-01")));
    let case = find(&e, &recs, "CASE").expect("the rule fires");
    assert_eq!(
        reason(&e, case),
        r#"goes with "Phone" (category rule phones -> cases, weight 0.50)"#
    );
}

#[test]
fn an_invalid_date_range_is_a_typed_error() {
    let c = catalog([product("A", "A", 100, "x"), product("B", "B", 100, "y")]);
    let mut g = ComplementGraph::builder(&c);
    let err = g
        .link(&Link::new("A", "B", 0.5).between(day("2026-12-24"), day("2026-12-01")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidDateRange { start, end } if start == "2026-12-24" && end == "2026-12-01"),
        "{err:?}"
    );
    assert!(g.is_empty());
    // A one-day range is fine.
    g.link(&Link::new("A", "B", 0.5).between(day("2026-12-24"), day("2026-12-24")))
        .unwrap();

    let mut rule = CategoryLink::new("x", "y", 0.5);
    rule.start = Some(day("2026-02-01"));
    rule.end = Some(day("2026-01-31"));
    let err = CategoryRules::from_links(&c, &[rule]).unwrap_err();
    assert!(matches!(err, Error::InvalidDateRange { .. }), "{err:?}");
}

#[test]
fn an_invalid_date_range_in_json_is_located() {
    let text = r#"{
  "products": [
    {"sku": "A", "name": "A", "price": 100, "category": "x"},
    {"sku": "B", "name": "B", "price": 100, "category": "y"}
  ],
  "complements": [
    {"from": "A", "to": "B", "weight": 0.5, "start": "2026-12-24", "end": "2026-12-01"}
  ]
}"#;
    let err = from_json_str(text).unwrap_err();
    assert!(
        matches!(&err, Error::Located { location, line: 7, .. } if location == "complements[0]"),
        "{err:?}"
    );
    assert!(matches!(err.root_cause(), Error::InvalidDateRange { .. }));
}

fn history_shop() -> Engine {
    let c = catalog_with(
        [
            product("PRN", "Printer", 20_000, "printers"),
            product("CABLE", "USB Cable", 1_000, "cables"),
            product("INK", "Ink", 2_500, "ink"),
            product("PAPER", "Paper", 900, "paper"),
            product("STAND", "Stand", 3_000, "stands"),
        ],
        |b| {
            b.repurchasable_category("ink");
        },
    );
    engine(
        c,
        &[
            Link::new("PRN", "CABLE", 0.9),
            Link::new("PRN", "INK", 0.8),
            Link::new("PRN", "PAPER", 0.7).relation("consumable"),
            Link::new("PRN", "STAND", 0.6),
        ],
    )
}

#[test]
fn past_purchases_hide_durable_goods_but_not_consumables() {
    let e = history_shop();
    let cart = [("PRN", 1)];
    let all = ask(&e, &cart, &Request::new());
    assert_eq!(all.len(), 4);
    let bought = Request::new()
        .purchased("CABLE")
        .purchased("INK")
        .purchased("PAPER")
        .purchased("NOT-A-SKU");
    let recs = ask(&e, &cart, &bought);
    let mut got = skus(&e, &recs);
    got.sort_unstable();
    // The cable is durable; ink is in a repurchasable category; paper is
    // reached by a consumable link; the stand was never bought.
    assert_eq!(got, ["INK", "PAPER", "STAND"]);
}

#[test]
fn an_unknown_repurchasable_category_is_a_typed_error() {
    let mut b = CatalogBuilder::new();
    b.add(product("A", "A", 100, "x")).unwrap();
    b.repurchasable_category("nope");
    let err = b.build().unwrap_err();
    assert!(
        matches!(&err, Error::UnknownCategory { category, .. } if category == "nope"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// 8. Other signals: "more like this"

fn shoe_shop(edges: &[Link]) -> Engine {
    let c = catalog([
        product("SHOE-A", "Shoe A", 9_000, "shoes").with_features(["leather", "waterproof"]),
        product("SHOE-B", "Shoe B", 9_500, "shoes").with_features(["leather", "waterproof"]),
        product("SHOE-C", "Shoe C", 8_000, "shoes").with_features(["leather", "laces"]),
        product("SHOE-D", "Shoe D", 7_000, "shoes").with_features(["canvas"]),
        product("BOOT", "Boot", 12_000, "boots").with_features(["leather", "waterproof"]),
        product("SOCK-1", "Sock 1", 500, "socks"),
        product("SOCK-2", "Sock 2", 500, "socks"),
        product("SOCK-3", "Sock 3", 500, "socks"),
    ]);
    let g = graph(&c, edges);
    Engine::builder(c)
        .strategy(CrossSell::new(
            Arc::new(g),
            Arc::new(CategoryRules::default()),
        ))
        .strategy(Similar::default())
        .scorer(RelevanceScorer)
        .build()
        .unwrap()
}

#[test]
fn similar_suggests_same_category_products_sharing_features() {
    let e = shoe_shop(&[]);
    let recs = ask(&e, &[("SHOE-A", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["SHOE-B", "SHOE-C"]);
    // Jaccard similarity 2/2 and 1/3, times the default scale 0.3.
    assert_eq!(
        reason(&e, &recs[0]),
        r#"similar to "Shoe A" (similarity 0.30)"#
    );
    assert_eq!(
        reason(&e, &recs[1]),
        r#"similar to "Shoe A" (similarity 0.10)"#
    );
    assert_eq!(recs[0].score, 0.3);
    assert_eq!(recs[1].score, 0.3 * (1.0 / 3.0));
}

#[test]
fn similar_is_only_a_fallback_below_the_limit() {
    let edges: Vec<Link> = (1..=3)
        .map(|i| Link::new("SHOE-A", format!("SOCK-{i}"), 0.5))
        .collect();
    let e = shoe_shop(&edges);
    let similar = |limit| {
        let recs = ask(&e, &[("SHOE-A", 1)], &Request::new().limit(limit));
        recs.iter()
            .filter(|s| reason(&e, s).starts_with("similar to"))
            .count()
    };
    assert_eq!(similar(3), 0, "three curated candidates fill a limit of 3");
    assert_eq!(similar(2), 0);
    assert_eq!(similar(4), 1, "one slot left: the best similar shoe");
    assert_eq!(similar(5), 2);
}

// ---------------------------------------------------------------------------
// 9. Margin and stock depth

/// The worked example of the `cartwise::score` module docs.
#[test]
fn the_worked_example_of_the_score_docs() {
    let c = catalog([
        product("PH", "Phone", 79_900, "phones").with_popularity(15),
        product("CASE-A", "Case A", 2_900, "cases")
            .with_cost(Money(870))
            .with_stock(40)
            .with_popularity(3),
        product("CASE-B", "Case B", 2_900, "cases")
            .with_cost(Money(1_740))
            .with_stock(2)
            .with_popularity(3),
    ]);
    let e = engine(
        c,
        &[
            Link::new("PH", "CASE-A", 0.8),
            Link::new("PH", "CASE-B", 0.8),
        ],
    );
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CASE-A", "CASE-B"]);

    // The documented formula, term by term.
    let w = ScoreWeights::default();
    let relevance = 0.8f32 / (0.8 + 0.5);
    let price_fit = (1.0 - (2_900.0 / 79_900.0 - 0.3) / 1.2f64).clamp(0.0, 1.0) as f32;
    let popularity = (1.0f32 + 3.0).ln() / (1.0f32 + 15.0).ln();
    assert_eq!(price_fit, 1.0);
    assert!((popularity - 0.5).abs() < 1e-6);
    let score = |cost: f32, stock: f32| {
        let margin = (2_900.0 - cost) / 2_900.0;
        let depth = (stock / w.low_stock as f32).min(1.0);
        w.relevance * relevance
            + w.margin * margin
            + w.price_fit * price_fit
            + w.popularity * popularity
            + w.stock_depth * depth
    };
    let (a, b) = (score(870.0, 40.0), score(1_740.0, 2.0));
    assert_eq!(format!("{a:.3} {b:.3}"), "0.699 0.624");
    assert!((recs[0].score - a).abs() < 1e-5, "{} vs {a}", recs[0].score);
    assert!((recs[1].score - b).abs() < 1e-5, "{} vs {b}", recs[1].score);
}

fn twins(stock_a: u32, stock_b: u32, weights: ScoreWeights) -> Engine {
    let c = catalog([
        product("PH", "Phone", 79_900, "phones"),
        product("A", "A", 2_900, "cases").with_stock(stock_a),
        product("B", "B", 2_900, "cases").with_stock(stock_b),
    ]);
    engine_over(
        c,
        &[Link::new("PH", "A", 0.8), Link::new("PH", "B", 0.8)],
        &[],
        DefaultScorer::new(weights).unwrap(),
    )
}

#[test]
fn low_stock_is_de_emphasised() {
    // Identical but for stock: the one with fewer than 5 left ranks second,
    // though it would win the tie by SKU.
    let e = twins(1, 10, ScoreWeights::default());
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["B", "A"]);
    assert!((recs[0].score - recs[1].score - 0.05 * 0.8).abs() < 1e-6);

    // At or above the threshold there is no penalty: the tie goes by SKU.
    let e = twins(5, 10, ScoreWeights::default());
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["A", "B"]);
    assert_eq!(recs[0].score, recs[1].score);

    // The threshold and the weight are configurable.
    let mut w = ScoreWeights::default();
    w.low_stock = 1;
    let e = twins(1, 10, w);
    assert_eq!(
        skus(&e, &ask(&e, &[("PH", 1)], &Request::new())),
        ["A", "B"]
    );
    let mut w = ScoreWeights::default();
    w.stock_depth = 0.0;
    let e = twins(1, 10, w);
    assert_eq!(
        skus(&e, &ask(&e, &[("PH", 1)], &Request::new())),
        ["A", "B"]
    );
}

// ---------------------------------------------------------------------------
// The JSON sections

#[test]
fn the_json_sections_carry_every_merchandising_setting() {
    let text = r#"{
  "products": [
    {"sku": "W-41", "name": "Watch 41mm", "price": 30000, "category": "watches",
     "variant_of": "W", "attributes": {"size": "41mm"}},
    {"sku": "W-45", "name": "Watch 45mm", "price": 33000, "category": "watches",
     "variant_of": "W", "attributes": {"size": "45mm"}},
    {"sku": "B-41", "name": "Band 41mm", "price": 5000, "category": "bands",
     "variant_of": "B", "attributes": {"size": "41mm"}},
    {"sku": "B-45", "name": "Band 45mm", "price": 5000, "category": "bands",
     "variant_of": "B", "attributes": {"size": "45mm"}},
    {"sku": "STRAP", "name": "Strap", "price": 1000, "category": "straps", "stock": 10},
    {"sku": "WRAP", "name": "Wrap", "price": 300, "category": "gifts"}
  ],
  "relations": [
    {"name": "gift", "kind": "cross_sell", "symmetry": {"mirrored": 0.5}, "repurchasable": true}
  ],
  "match_attributes": ["size"],
  "repurchasable_categories": ["straps"],
  "complements": [
    {"from": "W-45", "to": "B-41", "weight": 0.8, "relation": "accessory", "position": 1},
    {"from": "W-45", "to": "STRAP", "weight": 0.9, "quantity": 2, "position": 2},
    {"from": "W-45", "to": "WRAP", "weight": 0.1, "relation": "gift", "pinned": true,
     "start": "2026-12-01", "end": "2026-12-24", "segments": ["vip"]}
  ],
  "bundles": [{"name": "Set", "skus": ["W-45", "B-45"], "price": 36000}]
}"#;
    let loaded = from_json_str(text).unwrap();
    let c = &loaded.catalog;
    let (w45, wrap) = (c.id("W-45").unwrap(), c.id("WRAP").unwrap());
    // The mirrored user relation at half weight; the position cap.
    assert_eq!(loaded.graph.weight(wrap, w45), Some(0.05));
    assert_eq!(loaded.graph.weight(w45, c.id("STRAP").unwrap()), Some(0.8));
    // Writing it out and reading it back keeps everything.
    let again = from_json_str(&loaded.to_json()).unwrap();
    assert_eq!(again, loaded);

    let e = loaded.into_engine().unwrap();
    let vip = Request::new().segment("vip").on(day("2026-12-10"));
    let recs = ask(&e, &[("W-45", 1)], &vip);
    assert_eq!(skus(&e, &recs), ["WRAP", "B-45", "STRAP"]);
    assert_eq!(
        reason(&e, &recs[0]),
        r#"gift for "Watch 45mm" (weight 0.10)"#
    );
    assert_eq!(recs[2].quantity, 2);
    // Out of season, the gift link is gone; a past buyer still gets straps.
    let recs = ask(&e, &[("W-45", 1)], &Request::new().purchased("STRAP"));
    assert_eq!(skus(&e, &recs), ["B-45", "STRAP"]);
    let offer = &e.bundle_offers(&cart_of(&e, &[("W-45", 1)])).unwrap()[0];
    assert_eq!(offer.saving, Money(2_000));
}
