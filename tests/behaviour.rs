//! Example-based tests: each rule of the engine on a small hand-built shop,
//! the demo shop, and the JSON round trip.
//!
//! Most tests rank with [`RelevanceScorer`] so that scores are the evidence
//! itself (summed edge weight or upgrade fit) and can be stated exactly.
//! Every answer also goes through [`common::assert_suggestions_valid`].

mod common;

use std::sync::{Arc, Mutex};

use cartwise::catalog_json::{from_json_str, to_json_string};
use cartwise::{
    Candidate, Candidates, Cart, CartLine, Catalog, CategoryRules, ComplementGraph, Context,
    CrossSell, DefaultScorer, Engine, Error, FeatureRule, InMemoryCatalog, InlineCart, Kind, Kinds,
    Money, Product, Reason, Recommender, RelevanceScorer, Request, Rules, ScoreWeights, Scorer,
    Scratch, Strategy, Suggestion, Upsell, UpsellConfig, Via,
};
use common::{assert_suggestions_valid, assert_suggestions_valid_pinned};

const DEMO: &str = include_str!("../examples/data/electronics.json");

fn product(sku: &str, name: &str, price: u64, category: &str) -> Product {
    Product::new(sku, name, Money(price), category)
}

/// The graph and category rules over `catalog`.
fn links(
    catalog: &InMemoryCatalog,
    edges: &[(&str, &str, f64)],
    category_rules: &[(&str, &str, f64)],
) -> (ComplementGraph, CategoryRules) {
    let mut g = ComplementGraph::builder(catalog);
    for &(f, t, w) in edges {
        g.add(f, t, w).unwrap();
    }
    let rules = CategoryRules::from_names(catalog, category_rules.iter().copied()).unwrap();
    (g.build().unwrap(), rules)
}

/// Cross-sell and upsell ranked by relevance, with upsell settings and
/// merchant rules.
fn engine_with(
    products: Vec<Product>,
    edges: &[(&str, &str, f64)],
    category_rules: &[(&str, &str, f64)],
    upsell: UpsellConfig,
    rules: Rules,
) -> Engine {
    let catalog = InMemoryCatalog::from_products(products).unwrap();
    let (graph, category_rules) = links(&catalog, edges, category_rules);
    Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(graph), Arc::new(category_rules)))
        .strategy(Upsell::new(upsell).unwrap())
        .scorer(RelevanceScorer)
        .rules(rules)
        .build()
        .unwrap()
}

/// As [`engine_with`], with the default upsell settings and no rules.
fn engine(
    products: Vec<Product>,
    edges: &[(&str, &str, f64)],
    category_rules: &[(&str, &str, f64)],
) -> Engine {
    engine_with(
        products,
        edges,
        category_rules,
        UpsellConfig::default(),
        Rules::new(),
    )
}

/// Asks for suggestions and checks every invariant on the answer.
fn ask_with(
    engine: &Engine,
    cart: &[(&str, u32)],
    request: &Request,
    upsell: &UpsellConfig,
) -> Vec<Suggestion> {
    let cart = InlineCart::from_skus(engine.catalog(), cart.iter().copied()).unwrap();
    let recs = engine.recommend(&cart, request).unwrap();
    assert_suggestions_valid(engine, &cart, request, &recs.suggestions, upsell).unwrap();
    recs.suggestions
}

fn ask(engine: &Engine, cart: &[(&str, u32)], request: &Request) -> Vec<Suggestion> {
    ask_with(engine, cart, request, &UpsellConfig::default())
}

fn skus<'e>(engine: &'e Engine, recs: &[Suggestion]) -> Vec<&'e str> {
    recs.iter()
        .map(|s| engine.catalog().sku(s.product))
        .collect()
}

fn reasons(engine: &Engine, recs: &[Suggestion]) -> Vec<String> {
    recs.iter().map(|s| engine.explain(s).to_string()).collect()
}

fn kinds(recs: &[Suggestion]) -> Vec<Kind> {
    recs.iter().map(|s| s.kind).collect()
}

// ---- cross-sell ----------------------------------------------------------

/// A phone, its case and charger, a laptop, and a cable.
fn accessories() -> Vec<Product> {
    vec![
        product("PH", "Phone", 80_000, "phones"),
        product("LT", "Laptop", 120_000, "laptops"),
        product("CASE", "Case", 2_900, "cases"),
        product("CHG", "Charger", 1_900, "chargers"),
        product("CBL", "Cable", 900, "cables"),
    ]
}

#[test]
fn cross_sell_follows_the_cart_products_edges() {
    let e = engine(
        accessories(),
        &[
            ("PH", "CASE", 0.9),
            ("PH", "CHG", 0.4),
            ("CASE", "CBL", 0.3),
        ],
        &[],
    );
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    // The cable hangs off the case, which is not in the cart.
    assert_eq!(skus(&e, &recs), ["CASE", "CHG"]);
    assert_eq!(kinds(&recs), [Kind::CrossSell, Kind::CrossSell]);
    assert_eq!(recs[0].score, 0.9);
    assert_eq!(recs[1].score, 0.4);
    assert_eq!(
        reasons(&e, &recs),
        [
            r#"complements "Phone" (weight 0.90)"#,
            r#"complements "Phone" (weight 0.40)"#
        ]
    );
}

#[test]
fn evidence_from_two_cart_products_accumulates() {
    let e = engine(
        accessories(),
        &[("PH", "CHG", 0.5), ("LT", "CHG", 0.3), ("PH", "CASE", 0.7)],
        &[],
    );
    let recs = ask(&e, &[("PH", 1), ("LT", 1)], &Request::new());
    // 0.5 + 0.3 beats the single 0.7.
    assert_eq!(skus(&e, &recs), ["CHG", "CASE"]);
    assert_eq!(recs[0].score, 0.5f32 + 0.3f32);
    match recs[0].reason {
        Reason::Complements {
            source,
            weight,
            signals,
            via,
            ..
        } => {
            assert_eq!(e.catalog().sku(source), "PH");
            assert_eq!((weight, signals, via), (0.5, 2, Via::Edge));
        }
        other => panic!("expected Complements, got {other:?}"),
    }
    assert_eq!(
        reasons(&e, &recs)[0],
        r#"complements "Phone" (weight 0.50; 0.80 from 2 signals)"#
    );
}

#[test]
fn huge_weights_from_two_cart_products_rank_first() {
    // Regression: f32::MAX is a valid weight, and two of them summed to
    // +inf, which the engine ranked as the lowest score (fixed in 9ef4d65).
    let max = f64::from(f32::MAX);
    let e = engine(
        accessories(),
        &[("PH", "CHG", max), ("LT", "CHG", max), ("PH", "CASE", 1.0)],
        &[],
    );
    let recs = ask(&e, &[("PH", 1), ("LT", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CHG", "CASE"]);
    assert_eq!(recs[0].score, f32::MAX);
}

#[test]
fn huge_boost_of_a_huge_score_stays_finite() {
    // Regression: a boost multiplied a large score past f32::MAX into a
    // non-finite score in the answer (fixed in 9ef4d65).
    let e = engine_with(
        accessories(),
        &[("PH", "CHG", f64::from(f32::MAX)), ("PH", "CASE", 1.0)],
        &[],
        UpsellConfig::default(),
        Rules::new().boost("CHG", 1e30),
    );
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CHG", "CASE"]);
    assert_eq!(recs[0].score, f32::MAX);
}

/// Laptops, bags and mice for the category-rule tests.
fn bags() -> Vec<Product> {
    vec![
        product("LT-NEW", "New Laptop", 150_000, "laptops"),
        product("LT-OLD", "Old Laptop", 90_000, "laptops"),
        product("BAG-A", "Bag A", 5_000, "bags").with_popularity(100),
        product("BAG-B", "Bag B", 5_000, "bags")
            .with_popularity(90)
            .with_stock(0),
        product("BAG-C", "Bag C", 5_000, "bags").with_popularity(30),
        product("BAG-D", "Bag D", 5_000, "bags").with_popularity(10),
        product("MOUSE", "Mouse", 2_500, "mice").with_popularity(5),
    ]
}

const BAG_RULES: [(&str, &str, f64); 2] = [("laptops", "bags", 0.55), ("laptops", "mice", 0.4)];

#[test]
fn category_rule_covers_a_product_without_edges() {
    let e = engine(bags(), &[], &BAG_RULES[..1]);
    let recs = ask(&e, &[("LT-NEW", 1)], &Request::new());
    // The two most popular bags in stock; BAG-B is sold out.
    assert_eq!(skus(&e, &recs), ["BAG-A", "BAG-C"]);
    assert_eq!(
        reasons(&e, &recs)[0],
        r#"goes with "New Laptop" (category rule laptops -> bags, weight 0.55)"#
    );
    assert!(matches!(
        recs[0].reason,
        Reason::Complements {
            via: Via::CategoryRule,
            ..
        }
    ));
}

#[test]
fn category_rule_skips_a_category_the_cart_covers() {
    let e = engine(bags(), &[], &BAG_RULES);
    let recs = ask(&e, &[("LT-NEW", 1), ("BAG-D", 1)], &Request::new());
    // No second bag; the mice rule still fires.
    assert_eq!(skus(&e, &recs), ["MOUSE"]);
}

#[test]
fn category_rule_yields_to_a_curated_edge_into_the_category() {
    let e = engine(bags(), &[("LT-OLD", "BAG-D", 0.2)], &BAG_RULES);
    let recs = ask(&e, &[("LT-OLD", 1)], &Request::new());
    // The merchant's bag, not the most popular ones; mice still by rule.
    assert_eq!(skus(&e, &recs), ["MOUSE", "BAG-D"]);
    assert_eq!(
        reasons(&e, &recs),
        [
            r#"goes with "Old Laptop" (category rule laptops -> mice, weight 0.40)"#,
            r#"complements "Old Laptop" (weight 0.20)"#
        ]
    );
}

/// Cross-sell checks which rule categories a line's edges reach in chunks
/// of edges (64 at a time) and rules (up to 64 by bit): an edge far down a
/// long list still stops its category's rule, and rules past the first
/// ones are checked alike.
#[test]
fn category_rule_yields_to_an_edge_anywhere_in_a_long_list() {
    // A laptop with 150 edges into "parts" and one more edge whose target
    // category depends on the case; seven rules from laptops.
    let rule_categories = ["bags", "mice", "pads", "hubs", "pens", "docks", "fans"];
    let mut products = vec![product("LT", "Laptop", 150_000, "laptops")];
    for i in 0..150 {
        products.push(product(&format!("PART-{i:03}"), "Part", 100, "parts"));
    }
    for c in rule_categories {
        // The linked product sells least, so a rule would pick the other.
        products.push(product(&format!("{c}-LINKED"), c, 1_000, c).with_popularity(1));
        products.push(product(&format!("{c}-TOP"), c, 1_000, c).with_popularity(50));
    }
    let rules: Vec<(&str, &str, f64)> = rule_categories
        .iter()
        .map(|&c| ("laptops", c, 0.5))
        .collect();
    for (position, linked) in [(0, "bags"), (64, "mice"), (100, "docks"), (150, "fans")] {
        let mut edges: Vec<(String, String, f64)> = (0..150)
            .map(|i| ("LT".to_owned(), format!("PART-{i:03}"), 0.01))
            .collect();
        edges.insert(position, ("LT".into(), format!("{linked}-LINKED"), 0.02));
        let edges: Vec<(&str, &str, f64)> = edges
            .iter()
            .map(|(f, t, w)| (f.as_str(), t.as_str(), *w))
            .collect();
        let e = engine(products.clone(), &edges, &rules);
        let recs = ask(&e, &[("LT", 1)], &Request::new().limit(100));
        let got = skus(&e, &recs);
        for c in rule_categories {
            let (top, via_edge) = (format!("{c}-TOP"), format!("{c}-LINKED"));
            if c == linked {
                // The edge at `position` reaches the category: no rule.
                assert!(!got.contains(&top.as_str()), "{c} at {position}: {got:?}");
                assert!(got.contains(&via_edge.as_str()), "{c} at {position}");
            } else {
                assert!(got.contains(&top.as_str()), "{c} at {position}: {got:?}");
            }
        }
    }
}

// ---- upsell --------------------------------------------------------------

/// Phone 15 in five tiers: mini (1) to ultra (5).
fn phones() -> Vec<Product> {
    vec![
        product("PH-15-MINI", "Phone 15 mini", 70_000, "phones").with_family("Phone 15", 1),
        product("PH-15", "Phone 15", 80_000, "phones")
            .with_family("Phone 15", 2)
            .with_features(["5g", "oled"]),
        product("PH-15-PLUS", "Phone 15 Plus", 90_000, "phones")
            .with_family("Phone 15", 3)
            .with_features(["5g", "oled", "large-battery"]),
        product("PH-15-PRO", "Phone 15 Pro", 96_000, "phones")
            .with_family("Phone 15", 4)
            .with_features(["5g", "oled", "telephoto", "120hz"]),
        product("PH-15-ULTRA", "Phone 15 Ultra", 100_000, "phones").with_family("Phone 15", 5),
        product("CASE-15", "Case for Phone 15", 2_900, "cases"),
    ]
}

#[test]
fn upsell_proposes_higher_tiers_only_and_at_most_two_up() {
    let e = engine(phones(), &[], &[]);
    let recs = ask(&e, &[("PH-15", 1)], &Request::new());
    // Not the mini (lower), not the ultra (three tiers up).
    assert_eq!(skus(&e, &recs), ["PH-15-PLUS", "PH-15-PRO"]);
    assert_eq!(kinds(&recs), [Kind::Upsell, Kind::Upsell]);
}

#[test]
fn upsell_looks_further_up_when_configured() {
    let mut cfg = UpsellConfig::default();
    cfg.max_tiers_up = 3;
    let e = engine_with(phones(), &[], &[], cfg.clone(), Rules::new());
    let recs = ask_with(&e, &[("PH-15", 1)], &Request::new(), &cfg);
    assert_eq!(skus(&e, &recs), ["PH-15-PLUS", "PH-15-PRO", "PH-15-ULTRA"]);
}

/// Three two-tier families whose upgrade costs `steps[i]` more than 100.00.
fn ladders(steps: [u64; 3]) -> Vec<Product> {
    let mut out = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        let family = format!("F{i}");
        out.push(product(&format!("{family}-1"), &family, 10_000, "x").with_family(&family, 1));
        out.push(
            product(
                &format!("{family}-2"),
                &format!("{family} up"),
                10_000 + step,
                "x",
            )
            .with_family(&family, 2),
        );
    }
    out
}

#[test]
fn upsell_price_cap_is_plus_fifty_percent_inclusive() {
    let e = engine(ladders([4_900, 5_000, 5_100]), &[], &[]);
    let cart = [("F0-1", 1), ("F1-1", 1), ("F2-1", 1)];
    let recs = ask(&e, &cart, &Request::new());
    // +49% and +50% pass; +51% does not.
    let mut got = skus(&e, &recs);
    got.sort_unstable();
    assert_eq!(got, ["F0-2", "F1-2"]);
    let mut texts = reasons(&e, &recs);
    texts.sort();
    assert_eq!(
        texts,
        [
            r#"upgrade of "F0": +49% price (+49.00), same features"#,
            r#"upgrade of "F1": +50% price (+50.00), same features"#
        ]
    );
}

#[test]
fn upsell_price_cap_is_integer_arithmetic() {
    // 9.99 + 50% is 14.985; in integers the cap is 999 + 999 * 50 / 100 = 1498.
    let family = |sku: &str, price: u64, tier: u32| {
        product(sku, sku, price, "x").with_family(format!("F-{}", &sku[..1]), tier)
    };
    let e = engine(
        vec![
            family("A1", 999, 1),
            family("A2", 1_498, 2),
            family("B1", 999, 1),
            family("B2", 1_499, 2),
        ],
        &[],
        &[],
    );
    let recs = ask(&e, &[("A1", 1), ("B1", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["A2"]);
}

#[test]
fn upsell_can_require_every_feature_of_the_replaced_product() {
    let products = || {
        vec![
            product("CAM-1", "Camera", 50_000, "cameras")
                .with_family("Cam", 1)
                .with_features(["4k", "wifi"]),
            // Drops wifi.
            product("CAM-2", "Camera II", 55_000, "cameras")
                .with_family("Cam", 2)
                .with_features(["4k", "zoom"]),
            product("CAM-3", "Camera III", 60_000, "cameras")
                .with_family("Cam", 3)
                .with_features(["4k", "wifi", "zoom"]),
        ]
    };
    let any = engine(products(), &[], &[]);
    let mut recs = skus(&any, &ask(&any, &[("CAM-1", 1)], &Request::new()));
    recs.sort_unstable();
    assert_eq!(recs, ["CAM-2", "CAM-3"]);

    let mut cfg = UpsellConfig::default();
    cfg.features = FeatureRule::MustKeepAll;
    let keep = engine_with(products(), &[], &[], cfg.clone(), Rules::new());
    let recs = ask_with(&keep, &[("CAM-1", 1)], &Request::new(), &cfg);
    assert_eq!(skus(&keep, &recs), ["CAM-3"]);
}

#[test]
fn upsell_skips_an_out_of_stock_upgrade() {
    let e = engine(
        vec![
            product("TV-1", "TV", 40_000, "tvs").with_family("TV", 1),
            product("TV-2", "TV Plus", 45_000, "tvs")
                .with_family("TV", 2)
                .with_stock(0),
            product("TV-3", "TV Max", 50_000, "tvs")
                .with_family("TV", 3)
                .with_stock(1),
        ],
        &[],
        &[],
    );
    let recs = ask(&e, &[("TV-1", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["TV-3"]);
}

#[test]
fn upsell_reason_names_the_line_and_the_price_difference() {
    let e = engine(phones(), &[], &[]);
    let recs = ask(
        &e,
        &[("CASE-15", 1), ("PH-15", 1)],
        &Request::new().exclude_sku("PH-15-PLUS"),
    );
    assert_eq!(skus(&e, &recs), ["PH-15-PRO"]);
    let phone = e.catalog().id("PH-15").unwrap();
    assert_eq!(
        recs[0].reason,
        Reason::Upgrade {
            replaces: phone,
            line: 1,
            price_delta: 16_000,
            percent: Some(20),
            features_added: 2,
            features_lost: 0,
        }
    );
    assert_eq!(
        e.explain(&recs[0]).to_string(),
        r#"upgrade of "Phone 15": +20% price (+160.00), adds 2 features"#
    );
    let view = e.view(&recs[0]);
    assert_eq!(view.replaces.as_deref(), Some("PH-15"));
    assert_eq!(view.price_delta, Some(16_000));
    assert_eq!(view.kind, Kind::Upsell);
}

#[test]
fn upsell_reason_counts_features_added_and_dropped() {
    let e = engine(
        vec![
            product("A", "Base", 10_000, "x")
                .with_family("F", 1)
                .with_features(["a", "b"]),
            product("B", "Swap", 10_500, "x")
                .with_family("F", 2)
                .with_features(["a", "c"]),
        ],
        &[],
        &[],
    );
    let recs = ask(&e, &[("A", 1)], &Request::new());
    assert_eq!(
        reasons(&e, &recs),
        [r#"upgrade of "Base": +5% price (+5.00), adds 1 and drops 1 feature"#]
    );
}

#[test]
fn an_edge_target_that_is_also_an_upgrade_comes_out_once_as_an_upsell() {
    let e = engine(
        phones(),
        &[("PH-15", "PH-15-PRO", 0.9), ("PH-15", "CASE-15", 0.5)],
        &[],
    );
    let recs = ask(&e, &[("PH-15", 1)], &Request::new());
    let pro: Vec<_> = recs
        .iter()
        .filter(|s| e.catalog().sku(s.product) == "PH-15-PRO")
        .collect();
    assert_eq!(pro.len(), 1);
    assert_eq!(pro[0].kind, Kind::Upsell);
    assert!(matches!(pro[0].reason, Reason::Upgrade { .. }));
}

// ---- requests ------------------------------------------------------------

#[test]
fn kinds_filter_the_answer() {
    let e = engine(phones(), &[("PH-15", "CASE-15", 0.5)], &[]);
    let cart = [("PH-15", 1)];
    let both = ask(&e, &cart, &Request::new());
    assert_eq!(skus(&e, &both), ["PH-15-PLUS", "PH-15-PRO", "CASE-15"]);
    let cross = ask(&e, &cart, &Request::new().kinds(Kinds::CrossSell));
    assert_eq!(skus(&e, &cross), ["CASE-15"]);
    let up = ask(&e, &cart, &Request::new().kinds(Kinds::Upsell));
    assert_eq!(skus(&e, &up), ["PH-15-PLUS", "PH-15-PRO"]);
    assert!(up.iter().all(|s| s.kind == Kind::Upsell));
}

#[test]
fn limit_caps_the_answer() {
    let e = engine(phones(), &[("PH-15", "CASE-15", 0.5)], &[]);
    let recs = ask(&e, &[("PH-15", 1)], &Request::new().limit(2));
    assert_eq!(skus(&e, &recs), ["PH-15-PLUS", "PH-15-PRO"]);
}

#[test]
fn budget_is_an_inclusive_ceiling() {
    let e = engine(
        phones(),
        &[("PH-15", "CASE-15", 0.5), ("PH-15", "PH-15-MINI", 0.1)],
        &[],
    );
    let recs = ask(&e, &[("PH-15", 1)], &Request::new().budget(Money(2_900)));
    // Not the upgrades (90.00 and up) nor the mini; the case at exactly the budget.
    assert_eq!(skus(&e, &recs), ["CASE-15"]);
    let recs = ask(&e, &[("PH-15", 1)], &Request::new().budget(Money(2_899)));
    assert!(recs.is_empty());
}

#[test]
fn request_exclusions_by_sku_and_category_ignore_unknown_names() {
    let e = engine(
        accessories(),
        &[("PH", "CASE", 0.9), ("PH", "CHG", 0.5), ("PH", "CBL", 0.2)],
        &[],
    );
    let request = Request::new()
        .exclude_sku("CASE")
        .exclude_sku("NO-SUCH-SKU")
        .exclude_category("chargers")
        .exclude_category("no-such-category");
    let recs = ask(&e, &[("PH", 1)], &request);
    assert_eq!(skus(&e, &recs), ["CBL"]);
}

// ---- merchant rules ------------------------------------------------------

const RULE_EDGES: [(&str, &str, f64); 4] = [
    ("PH", "CASE", 0.9),
    ("PH", "CASE-2", 0.8),
    ("PH", "CHG", 0.5),
    ("PH", "CBL", 0.1),
];

fn rule_shop(rules: Rules) -> Engine {
    let mut products = accessories();
    products.push(product("CASE-2", "Case 2", 3_900, "cases"));
    products.push(product("GIFT", "Gift card", 5_000, "gifts"));
    engine_with(products, &RULE_EDGES, &[], UpsellConfig::default(), rules)
}

#[test]
fn rules_exclude_a_sku() {
    let e = rule_shop(Rules::new().exclude_sku("CASE"));
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CASE-2", "CHG", "CBL"]);
}

#[test]
fn rules_exclude_a_category() {
    let e = rule_shop(Rules::new().exclude_category("cases"));
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CHG", "CBL"]);
}

#[test]
fn rules_boost_multiplies_the_score() {
    let e = rule_shop(Rules::new().boost("CHG", 2.0).boost("CASE", 0.5));
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CHG", "CASE-2", "CASE", "CBL"]);
    assert_eq!(recs[0].score, 1.0);
    assert_eq!(recs[2].score, 0.45);
}

#[test]
fn rules_pin_ranks_a_candidate_first_but_adds_no_candidate() {
    let e = rule_shop(Rules::new().pin("GIFT").pin("CBL").pin("CHG"));
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    // The gift card is no candidate for a phone; the pins that are come
    // first, in pin order.
    assert_eq!(skus(&e, &recs), ["CBL", "CHG", "CASE", "CASE-2"]);
}

#[test]
fn rules_cap_suggestions_per_category_unless_the_request_overrides() {
    let e = rule_shop(Rules::new().max_per_category(1));
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CASE", "CHG", "CBL"]);
    let recs = ask(&e, &[("PH", 1)], &Request::new().max_per_category(2));
    assert_eq!(skus(&e, &recs), ["CASE", "CASE-2", "CHG", "CBL"]);
}

// ---- scoring -------------------------------------------------------------

/// Two cases alike in all but cost; `CASE-A` sorts first by SKU but earns less.
fn margin_shop(weights: ScoreWeights) -> Engine {
    let catalog = InMemoryCatalog::from_products([
        product("PH", "Phone", 80_000, "phones"),
        product("CASE-A", "Case A", 2_900, "cases")
            .with_cost(Money(2_000))
            .with_popularity(10),
        product("CASE-B", "Case B", 2_900, "cases")
            .with_cost(Money(900))
            .with_popularity(10),
    ])
    .unwrap();
    let (graph, rules) = links(
        &catalog,
        &[("PH", "CASE-A", 0.8), ("PH", "CASE-B", 0.8)],
        &[],
    );
    Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(graph), Arc::new(rules)))
        .scorer(DefaultScorer::new(weights).unwrap())
        .build()
        .unwrap()
}

#[test]
fn default_scorer_prefers_the_higher_margin_when_relevance_ties() {
    let e = margin_shop(ScoreWeights::default());
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CASE-B", "CASE-A"]);
    assert!(recs[0].score > recs[1].score);
    // Without the margin term the two tie, and the SKU breaks the tie.
    let e = margin_shop(ScoreWeights::relevance_only());
    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["CASE-A", "CASE-B"]);
    assert_eq!(recs[0].score, recs[1].score);
}

/// A field name, how to break it, and the value the error shows.
type BadWeight = (&'static str, fn(&mut ScoreWeights), &'static str);

#[test]
fn score_weights_must_be_finite_and_non_negative() {
    let cases: [BadWeight; 4] = [
        ("relevance", |w| w.relevance = -1.0, "-1"),
        ("margin", |w| w.margin = f32::NAN, "NaN"),
        ("popularity", |w| w.popularity = f32::INFINITY, "inf"),
        ("price_fit", |w| w.price_fit = -0.5, "-0.5"),
    ];
    for (name, set, shown) in cases {
        let mut w = ScoreWeights::default();
        set(&mut w);
        match DefaultScorer::new(w).unwrap_err() {
            Error::InvalidConfig { field, value, .. } => {
                assert_eq!(field, name);
                assert_eq!(value, shown);
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }
    DefaultScorer::new(ScoreWeights::relevance_only()).unwrap();
}

// ---- carts ---------------------------------------------------------------

/// Records the cart the engine hands to strategies.
#[derive(Debug, Default)]
struct Probe {
    seen: Mutex<Vec<CartLine>>,
}

impl<C: Catalog + ?Sized> Strategy<C> for Probe {
    fn name(&self) -> &str {
        "probe"
    }
    fn kind(&self) -> Kind {
        Kind::CrossSell
    }
    fn candidates(&self, ctx: &Context<'_, C>, _sink: &mut Candidates) {
        *self.seen.lock().unwrap() = ctx.cart.to_vec();
    }
}

#[test]
fn repeated_cart_lines_are_merged_with_quantities_summed() {
    let catalog = InMemoryCatalog::from_products(accessories()).unwrap();
    let (graph, rules) = links(&catalog, &[("PH", "CASE", 0.9), ("CHG", "CBL", 0.3)], &[]);
    let probe = Arc::new(Probe::default());
    let e: Engine = Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(graph), Arc::new(rules)))
        .shared_strategy(probe.clone())
        .build()
        .unwrap();
    let id = |sku| e.catalog().id(sku).unwrap();
    let line = |sku, quantity| CartLine {
        product: id(sku),
        quantity,
    };
    let repeated = vec![line("PH", 1), line("CHG", 1), line("PH", 2)];
    let a = e.recommend(&repeated, &Request::new()).unwrap();
    assert_eq!(*probe.seen.lock().unwrap(), [line("PH", 3), line("CHG", 1)]);
    let b = e
        .recommend(&vec![line("PH", 3), line("CHG", 1)], &Request::new())
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(skus(&e, &a.suggestions), ["CASE", "CBL"]);

    let mut cart = InlineCart::new();
    cart.add(e.catalog(), "PH", 1).unwrap();
    cart.add(e.catalog(), "CHG", 1).unwrap();
    cart.add(e.catalog(), "PH", 2).unwrap();
    assert_eq!(cart.lines(), [line("PH", 3), line("CHG", 1)]);
}

// ---- plugging in ---------------------------------------------------------

/// Suggests gift wrap with anything over 100.00.
#[derive(Debug)]
struct GiftWrap {
    wrap: cartwise::ProductId,
}

impl<C: Catalog + ?Sized> Strategy<C> for GiftWrap {
    fn name(&self) -> &str {
        "gift-wrap"
    }
    fn kind(&self) -> Kind {
        Kind::CrossSell
    }
    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        for line in ctx.cart {
            if ctx.catalog.price(line.product).minor() > 10_000 {
                sink.add_cross_sell(self.wrap, line.product, 0.3, Via::Custom);
            }
        }
    }
}

/// Ranks cheaper suggestions first.
#[derive(Debug)]
struct Cheapest;

impl<C: Catalog + ?Sized> Scorer<C> for Cheapest {
    fn name(&self) -> &str {
        "cheapest"
    }
    fn score(&self, ctx: &Context<'_, C>, candidates: &mut [Candidate]) {
        for c in candidates {
            c.score = -(ctx.catalog.price(c.product).minor() as f32);
        }
    }
}

#[test]
fn custom_strategy_and_scorer_plug_in() {
    let mut products = accessories();
    products.push(product("WRAP", "Gift wrap", 499, "gifts"));
    let catalog = InMemoryCatalog::from_products(products).unwrap();
    let (graph, rules) = links(&catalog, &[("PH", "CASE", 0.9), ("PH", "CHG", 0.5)], &[]);
    let wrap = catalog.id("WRAP").unwrap();
    let e: Engine = Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(graph), Arc::new(rules)))
        .strategy(GiftWrap { wrap })
        .scorer(Cheapest)
        .build()
        .unwrap();
    assert_eq!(
        e.strategy_names().collect::<Vec<_>>(),
        ["cross-sell", "gift-wrap"]
    );
    assert_eq!(e.scorer().name(), "cheapest");

    let recs = ask(&e, &[("PH", 1)], &Request::new());
    assert_eq!(skus(&e, &recs), ["WRAP", "CHG", "CASE"]);
    assert_eq!(recs[0].score, -499.0);
    assert_eq!(
        reasons(&e, &recs)[0],
        r#"suggested by "gift-wrap" for "Phone" (weight 0.30)"#
    );
    // A cheap cart gets no wrap.
    let recs = ask(&e, &[("CBL", 1)], &Request::new());
    assert!(recs.is_empty());
}

// ---- entry points --------------------------------------------------------

fn demo_engine() -> Engine {
    from_json_str(DEMO).unwrap().into_engine().unwrap()
}

/// The demo shop (variants, quantity links, pinned links, merchant rules)
/// ranked with the default scorer inline (given by value) and through a
/// batch (shared as a trait object): every one- and two-line cart of its
/// products, under several requests, gets the same answer to the bit.
#[test]
fn inline_default_scoring_equals_the_batch_on_the_demo_shop() {
    // With the shop's merchant rules, and without them (the calls the
    // engine's plain filter takes, until a variant or pinned link's target
    // sends it to the full one).
    for merchant_rules in [true, false] {
        let build = |shared: bool| {
            let loaded = from_json_str(DEMO).unwrap();
            let b = Engine::builder(loaded.catalog)
                .strategy(CrossSell::new(
                    Arc::new(loaded.graph),
                    Arc::new(loaded.category_rules),
                ))
                .strategy(Upsell::default())
                .rules(if merchant_rules {
                    loaded.rules
                } else {
                    Rules::new()
                })
                .bundles(loaded.bundles);
            if shared {
                b.shared_scorer(Arc::new(DefaultScorer::default()))
            } else {
                b.scorer(DefaultScorer::default())
            }
            .build()
            .unwrap()
        };
        let inline = if merchant_rules {
            demo_engine()
        } else {
            build(false)
        };
        inline_equals_batch_on_every_small_cart(&inline, &build(true));
    }
}

/// Every one- and two-line cart of `inline`'s shop (three second lines
/// per first), under four requests, answered alike by both engines.
fn inline_equals_batch_on_every_small_cart(inline: &Engine, batch: &Engine) {
    let n = inline.catalog().len() as u32;
    let requests = [
        Request::new().limit(10),
        Request::new().limit(3).kinds(Kinds::Upsell),
        Request::new().limit(5).budget(Money(5_000)),
        Request::new().limit(10).max_per_category(1),
    ];
    let mut answers = 0;
    for a in 0..n {
        for b in [None, Some((a + 1) % n), Some((a * 7 + 3) % n)] {
            let mut cart = vec![CartLine {
                product: cartwise::ProductId(a),
                quantity: 2,
            }];
            if let Some(b) = b {
                cart.push(CartLine {
                    product: cartwise::ProductId(b),
                    quantity: 1,
                });
            }
            for request in &requests {
                let x = inline.recommend(&cart, request).unwrap();
                let y = batch.recommend(&cart, request).unwrap();
                assert_eq!(x.suggestions, y.suggestions, "cart {cart:?}, {request:?}");
                answers += usize::from(!x.suggestions.is_empty());
            }
        }
    }
    // The comparison means something only if most carts get suggestions.
    assert!(answers > n as usize * 6, "{answers} non-empty answers");
}

/// The four sample carts of `examples/shop.rs`.
const SHOP_CARTS: [&[(&str, u32)]; 4] = [
    &[("PH-15-PRO", 1)],
    &[("LT-AIR13", 1), ("MOUSE-WL", 1)],
    &[("PH-15", 1), ("CASE-15", 1)],
    &[("HP-SW-PLUS", 1), ("TB-PAD", 1), ("LT-STUDIO-15", 1)],
];

#[test]
fn recommend_and_recommend_with_agree() {
    let e = demo_engine();
    let mut scratch = Scratch::new();
    for request in [
        Request::new(),
        Request::new().limit(6).kinds(Kinds::CrossSell),
        Request::new().limit(3).budget(Money(5_000)),
    ] {
        // Reusing one scratch across carts must not leak state between them.
        for lines in SHOP_CARTS.iter().chain(SHOP_CARTS.iter().rev()) {
            let cart = InlineCart::from_skus(e.catalog(), lines.iter().copied()).unwrap();
            let owned = e.recommend(&cart, &request).unwrap();
            let borrowed = e.recommend_with(&mut scratch, &cart, &request).unwrap();
            assert_eq!(owned.suggestions, borrowed);
        }
    }
}

// ---- the demo shop -------------------------------------------------------

#[test]
fn demo_catalog_answers_each_sample_cart() {
    let e = demo_engine();
    let catalog = e.catalog();
    assert!(catalog.len() >= 60);
    assert!(catalog.category_count() >= 6);
    let graph = from_json_str(DEMO).unwrap().graph;
    let request = Request::new().limit(6);
    for lines in SHOP_CARTS {
        let cart = InlineCart::from_skus(catalog, lines.iter().copied()).unwrap();
        let recs = e.recommend(&cart, &request).unwrap().suggestions;
        // The demo pins some links (undated, for every segment): their
        // targets rank first.
        let pinned: Vec<_> = cart
            .lines()
            .iter()
            .flat_map(|l| graph.edge_range(l.product))
            .filter(|&edge| graph.meta(edge).pinned && graph.condition(edge).is_none())
            .map(|edge| graph.target(edge))
            .collect();
        let upsell = UpsellConfig::default();
        assert_suggestions_valid_pinned(&e, &cart, &request, &recs, &upsell, &pinned).unwrap();
        assert!(
            recs.len() >= 3,
            "{lines:?}: only {} suggestions",
            recs.len()
        );
        for s in &recs {
            assert!(catalog.available(s.product, 1));
            assert!(!e.explain(s).to_string().is_empty());
        }
    }
}

#[test]
fn demo_never_suggests_the_sold_out_protector_for_the_pro_phone() {
    let e = demo_engine();
    let catalog = e.catalog();
    let (phone, protector) = (
        catalog.id("PH-15-PRO").unwrap(),
        catalog.id("SP-15PRO").unwrap(),
    );
    // The test means something only if the protector is a linked, sold-out
    // complement of the phone.
    assert_eq!(catalog.stock(protector), Some(0));
    let loaded = from_json_str(DEMO).unwrap();
    assert!(loaded.graph.weight(phone, protector).is_some());

    let recs = ask(&e, &[("PH-15-PRO", 1)], &Request::new().limit(10));
    assert!(!recs.iter().any(|s| s.product == protector));
    assert!(recs.iter().any(|s| s.kind == Kind::CrossSell));
}

#[test]
fn demo_catalog_round_trips_through_json() {
    let loaded = from_json_str(DEMO).unwrap();
    let text = to_json_string(
        &loaded.catalog,
        &loaded.graph,
        &loaded.category_rules,
        &loaded.rules,
    );
    let again = from_json_str(&text).unwrap();
    assert_eq!(again.catalog, loaded.catalog);
    assert_eq!(again.graph, loaded.graph);
    assert_eq!(again.category_rules, loaded.category_rules);
    assert_eq!(again.rules, loaded.rules);
    // Writing the reloaded catalog gives the same text.
    assert_eq!(
        to_json_string(
            &again.catalog,
            &again.graph,
            &again.category_rules,
            &again.rules
        ),
        text
    );
}

/// A strategy that records when the engine calls it.
#[derive(Debug)]
struct Recording {
    name: &'static str,
    kind: Kind,
    log: Arc<Mutex<Vec<String>>>,
}

impl Strategy<InMemoryCatalog> for Recording {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> Kind {
        self.kind
    }
    fn prefetch(&self, ctx: &Context<'_, InMemoryCatalog>) {
        let lines = ctx.cart.len();
        self.log
            .lock()
            .unwrap()
            .push(format!("prefetch {} ({lines} lines)", self.name));
    }
    fn candidates(&self, _ctx: &Context<'_, InMemoryCatalog>, _sink: &mut Candidates) {
        self.log
            .lock()
            .unwrap()
            .push(format!("candidates {}", self.name));
    }
}

/// The engine calls `prefetch` of every strategy it runs, with the merged
/// cart, before any `candidates`; a strategy that does not serve the
/// requested kinds gets neither call.
#[test]
fn prefetch_runs_for_every_served_strategy_before_any_candidates() {
    let catalog = InMemoryCatalog::from_products(accessories()).unwrap();
    let sku = catalog.sku(cartwise::ProductId(0)).to_owned();
    let log = Arc::new(Mutex::new(Vec::new()));
    let strategy = |name, kind| Recording {
        name,
        kind,
        log: Arc::clone(&log),
    };
    let engine = Engine::builder(catalog)
        .strategy(strategy("a", Kind::CrossSell))
        .strategy(strategy("up", Kind::Upsell))
        .strategy(strategy("b", Kind::CrossSell))
        .build()
        .unwrap();
    let cart =
        InlineCart::from_skus(engine.catalog(), [(sku.as_str(), 1), (sku.as_str(), 2)]).unwrap();
    engine
        .recommend(&cart, &Request::new().kinds(Kinds::CrossSell))
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "prefetch a (1 lines)",
            "prefetch b (1 lines)",
            "candidates a",
            "candidates b"
        ]
    );
}
