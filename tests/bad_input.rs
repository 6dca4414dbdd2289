//! Bad input gets a typed error naming the offending value, never a panic.
//!
//! One bad input per test; each asserts the variant and its fields. The
//! JSON tests also check the line and column the error points at.

use std::sync::Arc;

use cartwise::catalog_json::from_json_str;
use cartwise::{
    CartLine, Catalog, CatalogBuilder, CategoryRules, ComplementGraph, CrossSell, Engine, Error,
    InMemoryCatalog, InlineCart, Money, Product, ProductId, Recommender, Request, Rules,
    SkuContext, Upsell, UpsellConfig, MAX_LIMIT,
};

/// Four products: a phone in two tiers, a case and a cable.
fn products() -> Vec<Product> {
    vec![
        Product::new("PH-15", "Phone 15", Money(79_900), "phones").with_family("Phone 15", 1),
        Product::new("PH-15-PRO", "Phone 15 Pro", Money(99_900), "phones")
            .with_family("Phone 15", 2),
        Product::new("CASE-15", "Case for Phone 15", Money(2_900), "cases"),
        Product::new("CBL-C", "USB-C cable", Money(1_900), "cables"),
    ]
}

fn catalog() -> InMemoryCatalog {
    InMemoryCatalog::from_products(products()).unwrap()
}

fn engine() -> Engine {
    let catalog = catalog();
    let mut g = ComplementGraph::builder(&catalog);
    g.add("PH-15", "CASE-15", 0.9).unwrap();
    let graph = g.build().unwrap();
    Engine::standard(catalog, graph, CategoryRules::default()).unwrap()
}

/// Builds an engine over the sample catalog with merchant rules.
fn engine_with_rules(rules: Rules) -> cartwise::Result<Engine> {
    Engine::builder(catalog())
        .strategy(Upsell::default())
        .rules(rules)
        .build()
}

// ---- catalog -------------------------------------------------------------

#[test]
fn duplicate_sku_names_both_input_positions() {
    let mut b = CatalogBuilder::new();
    b.add(Product::new("PH-15", "Phone 15", Money(79_900), "phones"))
        .unwrap();
    b.add(Product::new("CASE-15", "Case", Money(2_900), "cases"))
        .unwrap();
    let err = b
        .add(Product::new("PH-15", "Phone 15 again", Money(1), "phones"))
        .unwrap_err();
    match &err {
        Error::DuplicateSku { sku, first, second } => {
            assert_eq!(sku, "PH-15");
            assert_eq!((*first, *second), (0, 2));
        }
        other => panic!("expected DuplicateSku, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        r#"duplicate SKU "PH-15" (products 0 and 2 in input order)"#
    );
}

#[test]
fn empty_sku_names_the_position_and_the_product() {
    let mut b = CatalogBuilder::new();
    b.add(Product::new("PH-15", "Phone 15", Money(79_900), "phones"))
        .unwrap();
    let err = b
        .add(Product::new("", "Nameless case", Money(2_900), "cases"))
        .unwrap_err();
    match err {
        Error::EmptySku { index, name } => {
            assert_eq!(index, 1);
            assert_eq!(name, "Nameless case");
        }
        other => panic!("expected EmptySku, got {other:?}"),
    }
}

#[test]
fn tier_without_family_names_the_product_and_tier() {
    let mut p = Product::new("CASE-15", "Case", Money(2_900), "cases");
    p.tier = Some(2);
    let err = CatalogBuilder::new().add(p).unwrap_err();
    match err {
        Error::TierWithoutFamily { sku, tier } => {
            assert_eq!(sku, "CASE-15");
            assert_eq!(tier, 2);
        }
        other => panic!("expected TierWithoutFamily, got {other:?}"),
    }
}

#[test]
fn two_products_at_one_tier_of_a_family() {
    let mut b = CatalogBuilder::new();
    // Added out of SKU order: the error names them in SKU (id) order.
    b.add(
        Product::new("PH-15-MINI", "Phone 15 mini", Money(69_900), "phones")
            .with_family("Phone 15", 1),
    )
    .unwrap();
    b.add(Product::new("PH-15", "Phone 15", Money(79_900), "phones").with_family("Phone 15", 1))
        .unwrap();
    let err = b.build().unwrap_err();
    match err {
        Error::DuplicateTier {
            family,
            tier,
            first,
            second,
        } => {
            assert_eq!(family, "Phone 15");
            assert_eq!(tier, 1);
            assert_eq!((first.as_str(), second.as_str()), ("PH-15", "PH-15-MINI"));
        }
        other => panic!("expected DuplicateTier, got {other:?}"),
    }
}

#[test]
fn failed_add_leaves_the_builder_unchanged_and_buildable() {
    let mut b = CatalogBuilder::new();
    for p in products() {
        b.add(p).unwrap();
    }
    let mut orphan_tier = Product::new("X", "X", Money(1), "x");
    orphan_tier.tier = Some(1);
    assert!(matches!(
        b.add(Product::new("PH-15", "dup", Money(1), "phones")),
        Err(Error::DuplicateSku { .. })
    ));
    assert!(matches!(
        b.add(Product::new("", "empty", Money(1), "phones")),
        Err(Error::EmptySku { .. })
    ));
    assert!(matches!(
        b.add(orphan_tier),
        Err(Error::TierWithoutFamily { .. })
    ));
    assert_eq!(b.len(), 4);
    // The rejected SKU "X" was not recorded: it can still be added.
    b.add(Product::new("X", "X", Money(1), "x")).unwrap();
    let built = b.build().unwrap();
    let mut expected = products();
    expected.push(Product::new("X", "X", Money(1), "x"));
    assert_eq!(built, InMemoryCatalog::from_products(expected).unwrap());
    assert_eq!(built.name(built.id("PH-15").unwrap()), "Phone 15");
}

// ---- complement graph and category rules ---------------------------------

#[test]
fn unknown_sku_as_edge_source() {
    let c = catalog();
    let mut g = ComplementGraph::builder(&c);
    let err = g.add("PH-16", "CASE-15", 0.5).unwrap_err();
    match err {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "PH-16");
            assert_eq!(context, SkuContext::EdgeFrom);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
    assert!(g.is_empty());
}

#[test]
fn unknown_sku_as_edge_target() {
    let c = catalog();
    let mut g = ComplementGraph::builder(&c);
    let err = g.add("PH-15", "CASE-16", 0.5).unwrap_err();
    match &err {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "CASE-16");
            assert_eq!(*context, SkuContext::EdgeTo);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        r#"unknown SKU "CASE-16" in complement edge target"#
    );
    assert!(g.is_empty());
}

#[test]
fn edge_target_id_out_of_range() {
    let err = ComplementGraph::from_edges(4, [(ProductId(0), ProductId(7), 1.0)]).unwrap_err();
    match err {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "#7");
            assert_eq!(context, SkuContext::EdgeTo);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn edge_source_id_out_of_range() {
    let err = ComplementGraph::from_edges(4, [(ProductId(9), ProductId(0), 1.0)]).unwrap_err();
    match err {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "#9");
            assert_eq!(context, SkuContext::EdgeFrom);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn self_edge() {
    let c = catalog();
    let mut g = ComplementGraph::builder(&c);
    match g.add("PH-15", "PH-15", 0.5).unwrap_err() {
        Error::SelfEdge { node } => assert_eq!(node, "PH-15"),
        other => panic!("expected SelfEdge, got {other:?}"),
    }
    assert!(g.is_empty());
}

#[test]
fn category_rule_to_its_own_category() {
    let c = catalog();
    match CategoryRules::from_names(&c, [("phones", "phones", 0.5)]).unwrap_err() {
        Error::SelfEdge { node } => assert_eq!(node, "phones"),
        other => panic!("expected SelfEdge, got {other:?}"),
    }
}

#[test]
fn category_rule_with_unknown_category() {
    let c = catalog();
    match CategoryRules::from_names(&c, [("phones", "tablets", 0.5)]).unwrap_err() {
        Error::UnknownCategory { category, context } => {
            assert_eq!(category, "tablets");
            assert_eq!(context, "category rule");
        }
        other => panic!("expected UnknownCategory, got {other:?}"),
    }
}

/// Asserts that `weight` on `PH-15 -> CASE-15` is rejected, naming both ends
/// and the weight as given.
fn assert_weight_rejected(weight: f64) {
    let c = catalog();
    let mut g = ComplementGraph::builder(&c);
    match g.add("PH-15", "CASE-15", weight).unwrap_err() {
        Error::InvalidWeight {
            from,
            to,
            weight: got,
        } => {
            assert_eq!((from.as_str(), to.as_str()), ("PH-15", "CASE-15"));
            assert_eq!(got.to_bits(), weight.to_bits(), "the weight as given");
        }
        other => panic!("expected InvalidWeight, got {other:?}"),
    }
    assert!(g.is_empty());
}

#[test]
fn nan_weight() {
    assert_weight_rejected(f64::NAN);
}

#[test]
fn infinite_weight() {
    assert_weight_rejected(f64::INFINITY);
}

#[test]
fn negative_weight() {
    assert_weight_rejected(-0.5);
}

#[test]
fn weight_beyond_f32_range() {
    // Finite as an f64, but it would become +inf as the f32 the graph stores.
    assert_weight_rejected(1e39);
}

#[test]
fn negative_category_rule_weight() {
    let c = catalog();
    match CategoryRules::from_names(&c, [("phones", "cases", -1.0)]).unwrap_err() {
        Error::InvalidWeight { from, to, weight } => {
            assert_eq!((from.as_str(), to.as_str()), ("phones", "cases"));
            assert_eq!(weight, -1.0);
        }
        other => panic!("expected InvalidWeight, got {other:?}"),
    }
}

// ---- carts and requests --------------------------------------------------

#[test]
fn unknown_sku_in_cart() {
    let c = catalog();
    let mut cart = InlineCart::new();
    match cart.add(&c, "PH-16", 1).unwrap_err() {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "PH-16");
            assert_eq!(context, SkuContext::Cart);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
    assert!(cart.is_empty());
}

#[test]
fn zero_quantity_in_cart() {
    let c = catalog();
    let mut cart = InlineCart::new();
    match cart.add(&c, "PH-15", 0).unwrap_err() {
        Error::ZeroQuantity { sku } => assert_eq!(sku, "PH-15"),
        other => panic!("expected ZeroQuantity, got {other:?}"),
    }
    assert!(cart.is_empty());
}

#[test]
fn zero_quantity_in_a_cart_line() {
    let e = engine();
    let case = e.catalog().id("CASE-15").unwrap();
    let cart = vec![CartLine {
        product: case,
        quantity: 0,
    }];
    match e.recommend(&cart, &Request::new()).unwrap_err() {
        Error::ZeroQuantity { sku } => assert_eq!(sku, "CASE-15"),
        other => panic!("expected ZeroQuantity, got {other:?}"),
    }
}

#[test]
fn cart_line_with_product_id_out_of_range() {
    let e = engine();
    let cart = vec![
        CartLine {
            product: ProductId(0),
            quantity: 1,
        },
        CartLine {
            product: ProductId(99),
            quantity: 1,
        },
    ];
    match e.recommend(&cart, &Request::new()).unwrap_err() {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "#99");
            assert_eq!(context, SkuContext::Cart);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn limit_zero() {
    let e = engine();
    let cart = InlineCart::from_skus(e.catalog(), [("PH-15", 1)]).unwrap();
    match e.recommend(&cart, &Request::new().limit(0)).unwrap_err() {
        Error::InvalidLimit { limit, max } => {
            assert_eq!(limit, 0);
            assert_eq!(max, MAX_LIMIT);
        }
        other => panic!("expected InvalidLimit, got {other:?}"),
    }
}

#[test]
fn limit_above_the_cap() {
    let e = engine();
    let cart = InlineCart::from_skus(e.catalog(), [("PH-15", 1)]).unwrap();
    // The cap itself is allowed.
    e.recommend(&cart, &Request::new().limit(MAX_LIMIT))
        .unwrap();
    match e
        .recommend(&cart, &Request::new().limit(MAX_LIMIT + 1))
        .unwrap_err()
    {
        Error::InvalidLimit { limit, max } => {
            assert_eq!(limit, MAX_LIMIT + 1);
            assert_eq!(max, MAX_LIMIT);
        }
        other => panic!("expected InvalidLimit, got {other:?}"),
    }
    assert!(matches!(
        e.recommend(&cart, &Request::new().limit(usize::MAX)),
        Err(Error::InvalidLimit {
            limit: usize::MAX,
            ..
        })
    ));
}

// ---- merchant rules and engine configuration -----------------------------

/// Asserts that a rule naming `sku` is rejected as an unknown rule SKU.
fn assert_unknown_rule_sku(rules: Rules, expected: &str) {
    match engine_with_rules(rules).unwrap_err() {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, expected);
            assert_eq!(context, SkuContext::Rule);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn rules_exclude_unknown_sku() {
    assert_unknown_rule_sku(Rules::new().exclude_sku("GIFT-CARD"), "GIFT-CARD");
}

#[test]
fn rules_boost_unknown_sku() {
    assert_unknown_rule_sku(Rules::new().boost("CASE-16", 2.0), "CASE-16");
}

#[test]
fn rules_pin_unknown_sku() {
    assert_unknown_rule_sku(Rules::new().pin("CBL-A"), "CBL-A");
}

#[test]
fn rules_exclude_unknown_category() {
    match engine_with_rules(Rules::new().exclude_category("tablets")).unwrap_err() {
        Error::UnknownCategory { category, context } => {
            assert_eq!(category, "tablets");
            assert_eq!(context, "rules");
        }
        other => panic!("expected UnknownCategory, got {other:?}"),
    }
}

/// Asserts that boosting CASE-15 by `factor` is rejected.
fn assert_boost_rejected(factor: f32) {
    match engine_with_rules(Rules::new().boost("CASE-15", factor)).unwrap_err() {
        Error::InvalidWeight { from, to, weight } => {
            assert_eq!(from, "boost");
            assert_eq!(to, "CASE-15");
            assert_eq!(weight.to_bits(), f64::from(factor).to_bits());
        }
        other => panic!("expected InvalidWeight, got {other:?}"),
    }
}

#[test]
fn negative_boost() {
    assert_boost_rejected(-2.0);
}

#[test]
fn nan_boost() {
    assert_boost_rejected(f32::NAN);
}

#[test]
fn infinite_boost() {
    assert_boost_rejected(f32::INFINITY);
}

#[test]
fn zero_max_per_category() {
    match engine_with_rules(Rules::new().max_per_category(0)).unwrap_err() {
        Error::InvalidConfig { field, value, .. } => {
            assert_eq!(field, "max_per_category");
            assert_eq!(value, "0");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn engine_without_strategies() {
    match Engine::<InMemoryCatalog>::builder(catalog())
        .build()
        .unwrap_err()
    {
        Error::InvalidConfig { field, .. } => assert_eq!(field, "strategies"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn upsell_config_zero_tiers_up() {
    let mut c = UpsellConfig::default();
    c.max_tiers_up = 0;
    match Upsell::new(c).unwrap_err() {
        Error::InvalidConfig { field, value, .. } => {
            assert_eq!(field, "max_tiers_up");
            assert_eq!(value, "0");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn upsell_config_absurd_price_step() {
    let mut c = UpsellConfig::default();
    c.max_price_step_percent = 10_001;
    match Upsell::new(c).unwrap_err() {
        Error::InvalidConfig { field, value, .. } => {
            assert_eq!(field, "max_price_step_percent");
            assert_eq!(value, "10001");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn failed_engine_build_leaves_the_catalog_usable() {
    let shared = Arc::new(catalog());
    let err = Engine::<InMemoryCatalog>::builder(Arc::clone(&shared))
        .strategy(Upsell::default())
        .rules(Rules::new().exclude_sku("NOPE"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::UnknownSku { .. }));
    // The catalog is intact and serves a new engine.
    assert_eq!(*shared, catalog());
    let engine: Engine = Engine::builder(Arc::clone(&shared))
        .strategy(CrossSell::new(
            Arc::new(ComplementGraph::empty(shared.len())),
            Arc::new(CategoryRules::default()),
        ))
        .strategy(Upsell::default())
        .build()
        .unwrap();
    let cart = InlineCart::from_skus(engine.catalog(), [("PH-15", 1)]).unwrap();
    let recs = engine.recommend(&cart, &Request::new()).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        engine.catalog().sku(recs.suggestions[0].product),
        "PH-15-PRO"
    );
}

// ---- the JSON catalog ----------------------------------------------------

/// A valid file with three products, two edges and one category rule; the
/// tests below break one element of it. Line numbers matter: products[0]
/// starts on line 3, complements[0] on line 8, category_complements[0] on
/// line 12, each at column 5.
const GOOD: &str = r#"{
  "products": [
    {"sku": "PH-15", "name": "Phone 15", "price": 79900, "category": "phones"},
    {"sku": "CASE-15", "name": "Case", "price": 2900, "category": "cases"},
    {"sku": "CBL-C", "name": "Cable", "price": 1900, "category": "cables"}
  ],
  "complements": [
    {"from": "PH-15", "to": "CASE-15", "weight": 0.9},
    {"from": "PH-15", "to": "CBL-C", "weight": 0.4}
  ],
  "category_complements": [
    {"from": "phones", "to": "cables", "weight": 0.5}
  ]
}
"#;

/// Unwraps an [`Error::Located`], checking where it points, and returns
/// the typed error inside.
fn located(err: Error, location: &str, line: usize, column: usize) -> Error {
    match err {
        Error::Located {
            location: l,
            line: ln,
            column: col,
            source,
        } => {
            assert_eq!(l, location);
            assert_eq!((ln, col), (line, column), "line and column of {location}");
            *source
        }
        other => panic!("expected Located, got {other:?}"),
    }
}

#[test]
fn json_good_file_loads() {
    let loaded = from_json_str(GOOD).unwrap();
    assert_eq!(loaded.catalog.len(), 3);
    assert_eq!(loaded.graph.edge_count(), 2);
    assert_eq!(loaded.category_rules.len(), 1);
}

#[test]
fn json_malformed_gives_line_and_column() {
    // A missing comma between two products: serde stops at the second `{`.
    let text = GOOD.replace(
        r#""phones"},
    {"sku": "CASE-15""#,
        r#""phones"}
    {"sku": "CASE-15""#,
    );
    match from_json_str(&text).unwrap_err() {
        Error::Json {
            line,
            column,
            message,
        } => {
            assert_eq!((line, column), (4, 5));
            assert!(message.contains("expected `,` or `]`"), "{message}");
        }
        other => panic!("expected Json, got {other:?}"),
    }
}

#[test]
fn json_truncated_file() {
    match from_json_str(&GOOD[..GOOD.find("\"complements\"").unwrap()]).unwrap_err() {
        // Line 7 holds two spaces; serde points at the last one it read.
        Error::Json { line, column, .. } => assert_eq!((line, column), (7, 2)),
        other => panic!("expected Json, got {other:?}"),
    }
}

#[test]
fn json_unknown_key_is_an_error() {
    // The typo `prise` for `price`, on a line of its own.
    let text = GOOD.replace(
        r#""name": "Case", "price": 2900,"#,
        "\"name\": \"Case\",\n     \"prise\": 2900,",
    );
    match from_json_str(&text).unwrap_err() {
        Error::Json {
            line,
            column,
            message,
        } => {
            // serde points just past the key: its closing quote.
            assert_eq!((line, column), (5, 12));
            assert!(message.contains("unknown field `prise`"), "{message}");
        }
        other => panic!("expected Json, got {other:?}"),
    }
}

#[test]
fn json_duplicate_sku_is_located_at_its_product() {
    let text = GOOD.replace(r#""sku": "CBL-C""#, r#""sku": "PH-15""#);
    match located(from_json_str(&text).unwrap_err(), "products[2]", 5, 5) {
        Error::DuplicateSku { sku, first, second } => {
            assert_eq!(sku, "PH-15");
            assert_eq!((first, second), (0, 2));
        }
        other => panic!("expected DuplicateSku, got {other:?}"),
    }
}

#[test]
fn json_empty_sku_is_located_at_its_product() {
    let text = GOOD.replace(r#""sku": "CASE-15""#, r#""sku": """#);
    match located(from_json_str(&text).unwrap_err(), "products[1]", 4, 5) {
        Error::EmptySku { index, name } => {
            assert_eq!(index, 1);
            assert_eq!(name, "Case");
        }
        other => panic!("expected EmptySku, got {other:?}"),
    }
}

#[test]
fn json_tier_without_family_is_located_at_its_product() {
    let text = GOOD.replace(r#""price": 1900,"#, r#""price": 1900, "tier": 3,"#);
    match located(from_json_str(&text).unwrap_err(), "products[2]", 5, 5) {
        Error::TierWithoutFamily { sku, tier } => {
            assert_eq!(sku, "CBL-C");
            assert_eq!(tier, 3);
        }
        other => panic!("expected TierWithoutFamily, got {other:?}"),
    }
}

#[test]
fn json_duplicate_tier_is_located_at_the_later_product() {
    // Checked once the whole catalog is known; the error points at the
    // second of the two products in file order.
    let text = GOOD
        .replace(
            r#""category": "phones"}"#,
            r#""category": "phones", "family": "F", "tier": 1}"#,
        )
        .replace(
            r#""category": "cables"}"#,
            r#""category": "cables", "family": "F", "tier": 1}"#,
        );
    match located(from_json_str(&text).unwrap_err(), "products[2]", 5, 5) {
        Error::DuplicateTier {
            family,
            tier,
            first,
            second,
        } => {
            assert_eq!(family, "F");
            assert_eq!(tier, 1);
            // Named in SKU order.
            assert_eq!((first.as_str(), second.as_str()), ("CBL-C", "PH-15"));
        }
        other => panic!("expected DuplicateTier, got {other:?}"),
    }
}

#[test]
fn json_unknown_sku_in_rules_is_rejected_at_load() {
    let text = GOOD.replace(
        "  \"category_complements\"",
        "  \"rules\": {\"exclude_skus\": [\"GIFT-CARD\"]},\n  \"category_complements\"",
    );
    let err = from_json_str(&text).expect_err("a rule naming an unknown SKU");
    let inner = match err {
        Error::Located { source, .. } => *source,
        other => other,
    };
    assert!(matches!(
        inner,
        Error::UnknownSku { ref sku, context: SkuContext::Rule } if sku == "GIFT-CARD"
    ));
}

#[test]
fn json_unknown_edge_target_is_located_at_its_edge() {
    let text = GOOD.replace(r#""to": "CBL-C""#, r#""to": "CBL-X""#);
    match located(from_json_str(&text).unwrap_err(), "complements[1]", 9, 5) {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "CBL-X");
            assert_eq!(context, SkuContext::EdgeTo);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn json_unknown_edge_source_is_located_at_its_edge() {
    let text = GOOD.replace(
        r#"{"from": "PH-15", "to": "CASE-15""#,
        r#"{"from": "PH-16", "to": "CASE-15""#,
    );
    match located(from_json_str(&text).unwrap_err(), "complements[0]", 8, 5) {
        Error::UnknownSku { sku, context } => {
            assert_eq!(sku, "PH-16");
            assert_eq!(context, SkuContext::EdgeFrom);
        }
        other => panic!("expected UnknownSku, got {other:?}"),
    }
}

#[test]
fn json_self_edge_is_located_at_its_edge() {
    let text = GOOD.replace(r#""to": "CBL-C""#, r#""to": "PH-15""#);
    match located(from_json_str(&text).unwrap_err(), "complements[1]", 9, 5) {
        Error::SelfEdge { node } => assert_eq!(node, "PH-15"),
        other => panic!("expected SelfEdge, got {other:?}"),
    }
}

#[test]
fn json_negative_weight_is_located_at_its_edge() {
    let text = GOOD.replace(r#""weight": 0.4"#, r#""weight": -0.4"#);
    match located(from_json_str(&text).unwrap_err(), "complements[1]", 9, 5) {
        Error::InvalidWeight { from, to, weight } => {
            assert_eq!((from.as_str(), to.as_str()), ("PH-15", "CBL-C"));
            assert_eq!(weight, -0.4);
        }
        other => panic!("expected InvalidWeight, got {other:?}"),
    }
}

#[test]
fn json_unknown_category_in_rule_is_located_at_its_rule() {
    let text = GOOD.replace(r#""to": "cables""#, r#""to": "tablets""#);
    match located(
        from_json_str(&text).unwrap_err(),
        "category_complements[0]",
        12,
        5,
    ) {
        Error::UnknownCategory { category, context } => {
            assert_eq!(category, "tablets");
            assert_eq!(context, "category rule");
        }
        other => panic!("expected UnknownCategory, got {other:?}"),
    }
}

#[test]
fn json_located_error_carries_its_boxed_source() {
    let text = GOOD.replace(r#""to": "CBL-C""#, r#""to": "CBL-X""#);
    let err = from_json_str(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"complements[1] at line 9, column 5: unknown SKU "CBL-X" in complement edge target"#
    );
    // The chain reaches the inner error, as the box thiserror hands out.
    let source = std::error::Error::source(&err).expect("a Located error has a source");
    assert_eq!(
        source.to_string(),
        r#"unknown SKU "CBL-X" in complement edge target"#
    );
    let inner = source
        .downcast_ref::<Box<Error>>()
        .expect("the source is the boxed cartwise::Error");
    assert!(matches!(
        &**inner,
        Error::UnknownSku { sku, context: SkuContext::EdgeTo } if sku == "CBL-X"
    ));
}

#[test]
fn json_located_root_cause_is_the_typed_error() {
    let text = GOOD.replace(r#""to": "CBL-C""#, r#""to": "CBL-X""#);
    let err = from_json_str(&text).unwrap_err();
    assert!(matches!(err, Error::Located { .. }));
    assert!(matches!(
        err.root_cause(),
        Error::UnknownSku { sku, context: SkuContext::EdgeTo } if sku == "CBL-X"
    ));
}
