//! Hostile input: broken snapshots, odd strings, extreme numbers, huge carts.
//! Nothing here may panic; every bad input gets a typed error.

mod common;

use cartwise::snapshot::{checksum, SnapshotHeader, FORMAT_VERSION, HEADER_LEN};
use cartwise::{
    catalog_json, BundleSpec, Bundles, CartLine, Catalog, CatalogBuilder, CategoryRules,
    ComplementGraph, DefaultScorer, Engine, EngineState, Error, InMemoryCatalog, InlineCart, Kinds,
    LiveEngine, Money, Product, ProductId, Reason, Recommender, RelationType, Request, Rules,
    ScoreWeights, SkuContext, Symmetry,
};
use common::state::*;
use proptest::prelude::*;

/// Rewrites the header's length and checksum to match the payload, as an
/// attacker (or a buggy writer) could: the file then passes the checksum.
fn reseal(bytes: &mut [u8]) {
    let len = (bytes.len() - HEADER_LEN) as u64;
    let sum = checksum(&bytes[HEADER_LEN..]);
    bytes[12..20].copy_from_slice(&len.to_le_bytes());
    bytes[20..28].copy_from_slice(&sum.to_le_bytes());
}

/// The one place `needle` occurs in `haystack`.
fn find_once(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:02x?} occurs {} times", hits.len());
    hits[0]
}

// ---------------------------------------------------------------------------
// Snapshots.

#[test]
fn a_snapshot_cut_at_every_byte_offset_is_rejected() {
    let bytes = small_state().to_bytes().unwrap();
    for cut in 0..bytes.len() {
        let part = &bytes[..cut];
        match EngineState::from_bytes(part) {
            Err(Error::Snapshot { .. }) => {}
            other => panic!("cut at {cut}: expected Error::Snapshot, got {other:?}"),
        }
        // Through a reader too: it stops early instead of failing the read.
        assert!(matches!(
            EngineState::load(part),
            Err(Error::Snapshot { .. })
        ));
    }
}

#[test]
fn a_flipped_byte_anywhere_is_rejected_with_the_right_error() {
    let bytes = small_state().to_bytes().unwrap();
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let got = EngineState::from_bytes(&bad);
        match at {
            0..=7 => assert!(
                matches!(got, Err(Error::Snapshot { .. })),
                "magic {at}: {got:?}"
            ),
            8..=11 => assert!(
                matches!(
                    got,
                    Err(Error::SnapshotVersion {
                        expected: FORMAT_VERSION,
                        ..
                    })
                ),
                "version {at}: {got:?}"
            ),
            12..=19 => assert!(
                matches!(got, Err(Error::Snapshot { .. })),
                "length {at}: {got:?}"
            ),
            _ => assert!(
                matches!(got, Err(Error::ChecksumMismatch { .. })),
                "byte {at}: {got:?}"
            ),
        }
    }
}

#[test]
fn a_newer_format_version_is_rejected_before_the_payload_is_read() {
    let mut bytes = small_state().to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    // Break the payload too: the version must be what is reported.
    bytes.truncate(HEADER_LEN + 3);
    match EngineState::from_bytes(&bytes) {
        Err(Error::SnapshotVersion { expected, found }) => {
            assert_eq!((expected, found), (FORMAT_VERSION, FORMAT_VERSION + 1));
        }
        other => panic!("expected Error::SnapshotVersion, got {other:?}"),
    }
    let mut zero = small_state().to_bytes().unwrap();
    zero[8..12].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(
        EngineState::from_bytes(&zero),
        Err(Error::SnapshotVersion { found: 0, .. })
    ));
}

#[test]
fn wrong_magic_is_named_in_the_error() {
    let err = EngineState::from_bytes(b"{\"products\": []} and more than 28 bytes").unwrap_err();
    assert!(
        matches!(&err, Error::Snapshot { reason } if reason.contains("not a cartwise snapshot"))
    );
}

#[test]
fn a_snapshot_with_a_nan_edge_weight_passes_the_checksum_but_fails_validation() {
    // small_state's edge PH -> CASE has weight 0.75.
    let mut bytes = small_state().to_bytes().unwrap();
    let at = find_once(&bytes[HEADER_LEN..], &0.75f32.to_le_bytes()) + HEADER_LEN;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut bytes);
    match EngineState::from_bytes(&bytes) {
        Err(Error::Snapshot { reason }) => assert!(reason.contains("weight"), "{reason}"),
        other => panic!("expected Error::Snapshot, got {other:?}"),
    }
}

#[test]
fn a_snapshot_with_an_infinite_score_weight_fails_validation() {
    let mut state = small_state();
    state.weights.price_fit = 0.125; // a value that occurs once in the file
    let mut bytes = state.to_bytes().unwrap();
    let at = find_once(&bytes[HEADER_LEN..], &0.125f32.to_le_bytes()) + HEADER_LEN;
    bytes[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    reseal(&mut bytes);
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::InvalidConfig {
            field: "price_fit",
            ..
        })
    ));
}

#[test]
fn a_snapshot_whose_graph_points_outside_the_catalog_fails_validation() {
    // Target id 2 (CASE) of the first edge becomes 200.
    let state = small_state();
    let mut bytes = state.to_bytes().unwrap();
    let case = state.catalog.id("CASE").unwrap().0;
    // The graph section holds the offsets [0, 0, 0, 1, 2], then the
    // targets [CASE, CASE] behind their u64 length.
    let targets = [
        &2u64.to_le_bytes()[..],
        &case.to_le_bytes(),
        &case.to_le_bytes(),
    ]
    .concat();
    let at = find_once(&bytes[HEADER_LEN..], &targets) + HEADER_LEN + 8;
    bytes[at..at + 4].copy_from_slice(&200u32.to_le_bytes());
    reseal(&mut bytes);
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::Snapshot { reason }) if reason.contains("out of range")
    ));
}

#[test]
fn reload_of_a_corrupt_file_leaves_the_live_engine_serving() {
    let dir = std::env::temp_dir().join(format!("cartwise-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.snap");
    let mut bytes = small_state().to_bytes().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let live = LiveEngine::new(small_state().to_engine().unwrap());
    let before = live.current();
    assert!(matches!(
        live.reload_file(&path),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(std::sync::Arc::ptr_eq(&before, &live.current()));
    std::fs::write(&path, small_state().to_bytes().unwrap()).unwrap();
    assert_eq!(live.reload_file(&path).unwrap(), 7);
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes never load and never panic.
    #[test]
    fn random_bytes_are_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(EngineState::from_bytes(&bytes).is_err());
        prop_assert!(EngineState::load(&bytes[..]).is_err());
    }

    /// Random payloads behind a valid, resealed header reach the section
    /// decoder and the validators: they may not panic.
    #[test]
    fn random_payloads_behind_a_valid_header_do_not_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = SnapshotHeader { format_version: FORMAT_VERSION, payload_len: 0, checksum: 0 }
            .to_bytes()
            .to_vec();
        bytes.extend_from_slice(&payload);
        reseal(&mut bytes);
        let _ = EngineState::from_bytes(&bytes);
    }

    /// Resealed snapshots of random states with one byte changed load or
    /// fail cleanly; when they load, they serve without panicking.
    #[test]
    fn mutated_resealed_snapshots_do_not_panic(
        state in arb_state(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = state.to_bytes().unwrap();
        let i = HEADER_LEN + at.index(bytes.len() - HEADER_LEN);
        bytes[i] = byte;
        reseal(&mut bytes);
        if let Ok(s) = EngineState::from_bytes(&bytes) {
            let engine = s.to_engine().unwrap();
            let cart = cart(&[(0, 1), (1, 2)], s.catalog.len());
            let _ = answers(&engine, &cart);
        }
    }
}

// ---------------------------------------------------------------------------
// Odd strings.

/// SKUs a careless pipeline would mangle: control characters, NUL, a
/// right-to-left override, a byte-order mark, an emoji, surrounding spaces,
/// and the same letter precomposed and decomposed (two different SKUs).
const ODD_SKUS: [&str; 9] = [
    "a\u{0}b",
    "tab\there",
    "line\nbreak",
    "\u{202e}RTL",
    "\u{feff}BOM",
    "💥-1",
    " spaced ",
    "\u{e9}",
    "e\u{301}",
];

fn odd_catalog() -> InMemoryCatalog {
    let mut b = CatalogBuilder::new();
    for (i, sku) in ODD_SKUS.iter().enumerate() {
        b.add(Product::new(
            *sku,
            format!("name \"{sku}\""),
            Money(100 + i as u64),
            "c\u{7}",
        ))
        .unwrap();
    }
    b.build().unwrap()
}

#[test]
fn odd_skus_are_kept_exactly_in_the_catalog() {
    let c = odd_catalog();
    assert_eq!(c.len(), ODD_SKUS.len());
    for sku in ODD_SKUS {
        let id = c.id(sku).unwrap_or_else(|| panic!("{sku:?} lost"));
        assert_eq!(c.sku(id), sku);
    }
    assert_ne!(c.id("\u{e9}"), c.id("e\u{301}"));
    assert_eq!(c.id(" spaced"), None);
}

#[test]
fn odd_skus_survive_json_and_snapshot_round_trips() {
    let c = odd_catalog();
    let mut g = ComplementGraph::builder(&c);
    g.add(ODD_SKUS[0], ODD_SKUS[3], 0.5).unwrap();
    g.add("\u{e9}", "e\u{301}", 0.25).unwrap();
    let graph = g.build().unwrap();
    let mut state = EngineState::new(c.clone(), graph, CategoryRules::default()).unwrap();
    state.rules = Rules::new().pin("line\nbreak").exclude_sku("💥-1");

    let json = catalog_json::to_json_string(&c, &state.graph, &state.category_rules, &state.rules);
    let loaded = catalog_json::from_json_str(&json).unwrap();
    assert_eq!(loaded.catalog, c);
    assert_eq!(&loaded.graph, &*state.graph);

    assert_eq!(EngineState::from_json(&state.to_json()).unwrap(), state);
    assert_eq!(
        EngineState::from_bytes(&state.to_bytes().unwrap()).unwrap(),
        state
    );
    for sku in ODD_SKUS {
        let id = state.catalog.id(sku).unwrap();
        assert_eq!(state.catalog.sku(id), sku);
    }
}

#[test]
fn odd_skus_are_shown_escaped_in_error_messages() {
    let mut b = CatalogBuilder::new();
    b.add(Product::new("x\u{1b}[31m", "n", Money(1), "c"))
        .unwrap();
    let err = b
        .add(Product::new("x\u{1b}[31m", "n", Money(1), "c"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"duplicate SKU "x\u{1b}[31m" (products 0 and 1 in input order)"#
    );
    let c = odd_catalog();
    let err = InlineCart::from_skus(&c, [("line\r\nbreak", 1)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unknown SKU "line\r\nbreak" in cart line"#
    );
}

// ---------------------------------------------------------------------------
// Integer limits.

/// A family whose tiers cost up to `u64::MAX`, a complement at `u64::MAX`,
/// and costs above prices.
fn max_price_engine() -> Engine {
    let mut b = CatalogBuilder::new();
    b.add(
        Product::new("T1", "Tier 1", Money(u64::MAX / 2 + 1), "x")
            .with_family("F", 1)
            .with_cost(Money(u64::MAX)),
    )
    .unwrap();
    b.add(Product::new("T2", "Tier 2", Money(u64::MAX - 1), "x").with_family("F", 2))
        .unwrap();
    b.add(Product::new("T3", "Tier 3", Money(u64::MAX), "x").with_family("F", 3))
        .unwrap();
    b.add(Product::new("CHEAP", "Cheap", Money(0), "y").with_family("G", 1))
        .unwrap();
    b.add(Product::new("DEAR", "Dear", Money(u64::MAX), "y").with_family("G", 2))
        .unwrap();
    b.add(Product::new("MAXC", "Max complement", Money(u64::MAX), "z").with_cost(Money(1)))
        .unwrap();
    let c = b.build().unwrap();
    let mut g = ComplementGraph::builder(&c);
    g.add("T1", "MAXC", 1.0)
        .unwrap()
        .add("CHEAP", "MAXC", 1.0)
        .unwrap();
    let graph = g.build().unwrap();
    let mut state = EngineState::new(c, graph, CategoryRules::default()).unwrap();
    state.upsell.max_price_step_percent = 10_000;
    state.to_engine().unwrap()
}

#[test]
fn prices_at_u64_max_do_not_overflow() {
    let engine = max_price_engine();
    let c = engine.catalog();
    for cart_skus in [["T1"], ["T2"], ["CHEAP"]] {
        let cart = InlineCart::from_skus(c, cart_skus.map(|s| (s, u32::MAX))).unwrap();
        let recs = engine
            .recommend(&cart, &Request::new().budget(Money(u64::MAX)))
            .unwrap();
        assert!(!recs.is_empty(), "{cart_skus:?}");
        for s in &recs {
            assert!(s.score.is_finite());
            let text = engine.view(s).reason;
            assert!(!text.is_empty());
        }
    }
    // T1 -> T3: a step of almost u64::MAX / 2, within a 100x cap computed
    // without overflow; the reason's difference fits in i64.
    let cart = InlineCart::from_skus(c, [("T1", 1)]).unwrap();
    let recs = engine
        .recommend(&cart, &Request::new().kinds(Kinds::Upsell))
        .unwrap();
    let t3 = c.id("T3").unwrap();
    let up = recs.iter().find(|s| s.product == t3).expect("T3 offered");
    match up.reason {
        Reason::Upgrade {
            price_delta,
            percent,
            ..
        } => {
            assert_eq!(price_delta, (u64::MAX / 2) as i64);
            assert_eq!(percent, Some(99));
        }
        other => panic!("expected an upgrade, got {other:?}"),
    }
    // CHEAP (free) -> DEAR: a step from 0 cannot be a percentage; the cap
    // of a free product is 0, so no upgrade is offered.
    let cart = InlineCart::from_skus(c, [("CHEAP", 1)]).unwrap();
    let recs = engine
        .recommend(&cart, &Request::new().kinds(Kinds::Upsell))
        .unwrap();
    assert!(recs.is_empty());
}

#[test]
fn a_budget_of_zero_and_a_price_of_zero_are_ordinary() {
    let engine = max_price_engine();
    let cart = InlineCart::from_skus(engine.catalog(), [("T1", 1)]).unwrap();
    let recs = engine
        .recommend(&cart, &Request::new().budget(Money(0)))
        .unwrap();
    assert!(recs.is_empty());
}

#[test]
fn a_bundle_whose_sum_overflows_is_a_typed_error() {
    let engine = max_price_engine();
    let spec = BundleSpec {
        name: "too dear".into(),
        skus: vec!["T3".into(), "DEAR".into()],
        price: Some(Money(1)),
        discount_percent: None,
    };
    assert!(matches!(
        Bundles::from_specs(engine.catalog(), &[spec]),
        Err(Error::MoneyOverflow { .. })
    ));
}

// ---------------------------------------------------------------------------
// NaN and infinite weights: rejected by every builder.

#[test]
fn nan_edge_weight_is_rejected() {
    let c = odd_catalog();
    let mut g = ComplementGraph::builder(&c);
    let err = g.add(ODD_SKUS[0], ODD_SKUS[1], f64::NAN).unwrap_err();
    assert!(matches!(err, Error::InvalidWeight { weight, .. } if weight.is_nan()));
    assert!(g.is_empty());
}

#[test]
fn infinite_edge_weight_is_rejected() {
    let c = odd_catalog();
    let mut g = ComplementGraph::builder(&c);
    assert!(matches!(
        g.add(ODD_SKUS[0], ODD_SKUS[1], f64::INFINITY),
        Err(Error::InvalidWeight { weight, .. }) if weight == f64::INFINITY
    ));
    // Finite in f64 but infinite as the f32 it is stored in.
    assert!(matches!(
        g.add(ODD_SKUS[0], ODD_SKUS[1], 1e39),
        Err(Error::InvalidWeight { .. })
    ));
}

#[test]
fn nan_id_edge_weight_is_rejected() {
    assert!(matches!(
        ComplementGraph::from_edges(2, [(ProductId(0), ProductId(1), f32::NAN)]),
        Err(Error::InvalidWeight { .. })
    ));
}

#[test]
fn nan_category_rule_weight_is_rejected() {
    let c = max_price_engine().catalog().clone();
    assert!(matches!(
        CategoryRules::from_names(&c, [("x", "y", f64::NEG_INFINITY)]),
        Err(Error::InvalidWeight { .. })
    ));
}

#[test]
fn nan_boost_is_rejected_when_the_engine_is_built() {
    let mut state = small_state();
    state.rules = Rules::new().boost("CASE", f32::NAN);
    assert!(matches!(
        state.to_engine(),
        Err(Error::InvalidWeight { to, .. }) if to == "CASE"
    ));
}

#[test]
fn nan_score_weight_is_rejected() {
    let mut w = ScoreWeights::default();
    w.popularity = f32::NAN;
    assert!(matches!(
        DefaultScorer::new(w),
        Err(Error::InvalidConfig {
            field: "popularity",
            ..
        })
    ));
}

#[test]
fn nan_mirror_factor_is_rejected() {
    let mut b = CatalogBuilder::new();
    assert!(matches!(
        b.relation(RelationType::new("pairs").with_symmetry(Symmetry::Mirrored(f32::NAN))),
        Err(Error::InvalidConfig {
            field: "relation.symmetry",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------
// Carts.

#[test]
fn the_same_sku_twice_is_merged_into_one_line() {
    let engine = small_state().to_engine().unwrap();
    let c = engine.catalog();
    let ph = c.id("PH").unwrap();
    let twice = vec![
        CartLine {
            product: ph,
            quantity: 1,
        },
        CartLine {
            product: ph,
            quantity: 2,
        },
    ];
    let once = vec![CartLine {
        product: ph,
        quantity: 3,
    }];
    assert_eq!(answers(&engine, &twice), answers(&engine, &once));
    let inline = InlineCart::from_skus(c, [("PH", 1), ("PH", 2)]).unwrap();
    assert_eq!(cartwise::Cart::lines(&inline), &once[..]);
    // Quantities saturate instead of overflowing.
    let huge = InlineCart::from_skus(c, [("PH", u32::MAX), ("PH", u32::MAX)]).unwrap();
    assert_eq!(cartwise::Cart::lines(&huge)[0].quantity, u32::MAX);
}

/// 100,000 lines, all in category "a", whose rule `a -> b` makes every line
/// look for the most popular "b" products not in the cart: with a linear
/// cart lookup this is 10^10 steps; it must stay near-linear.
#[test]
fn a_cart_with_100_000_lines_works() {
    const LINES: usize = 100_000;
    let mut b = CatalogBuilder::new();
    for i in 0..LINES {
        b.add(Product::new(format!("A{i:06}"), "a", Money(1_000), "a"))
            .unwrap();
    }
    for i in 0..10 {
        b.add(Product::new(format!("B{i}"), "b", Money(500), "b").with_popularity(i))
            .unwrap();
    }
    let c = b.build().unwrap();
    let rules = CategoryRules::from_names(&c, [("a", "b", 0.5)]).unwrap();
    let engine = Engine::standard(c, ComplementGraph::empty(LINES + 10), rules).unwrap();
    let skus: Vec<String> = (0..LINES).map(|i| format!("A{i:06}")).collect();
    let cart =
        InlineCart::from_skus(engine.catalog(), skus.iter().map(|s| (s.as_str(), 1))).unwrap();
    assert_eq!(cart.len(), LINES);
    let recs = engine.recommend(&cart, &Request::new().limit(3)).unwrap();
    let got: Vec<&str> = recs
        .iter()
        .map(|s| engine.catalog().sku(s.product))
        .collect();
    // The two most popular "b" products (the category fanout), by every line.
    assert_eq!(got, ["B9", "B8"]);
    assert!(recs
        .iter()
        .all(|s| matches!(s.reason, Reason::Complements { signals, .. } if usize::from(signals) == usize::from(u16::MAX))));
}

#[test]
fn a_cart_line_outside_the_catalog_is_an_error() {
    let engine = small_state().to_engine().unwrap();
    let cart = vec![CartLine {
        product: ProductId(u32::MAX),
        quantity: 1,
    }];
    assert!(matches!(
        engine.recommend(&cart, &Request::new()),
        Err(Error::UnknownSku {
            context: SkuContext::Cart,
            ..
        })
    ));
}
