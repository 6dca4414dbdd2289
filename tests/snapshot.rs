//! Snapshots: exact round trips (binary and JSON), the golden file, files.

mod common;

use cartwise::snapshot::{self, SnapshotHeader, FORMAT_VERSION, HEADER_LEN, MAGIC};
use std::sync::Arc;

use cartwise::{
    Associations, Catalog, CategoryRules, ComplementGraph, EngineState, Error, InMemoryCatalog,
    ItemsetRules, LearnedGraph, ProductId,
};
use common::state::*;
use proptest::prelude::*;

/// The golden snapshot: the demo catalog with every setting changed from
/// its default, written by format version 1. If this test fails after a
/// code change, the snapshot format changed: bump `FORMAT_VERSION`, keep a
/// reader for version 1, and add a new golden file instead of rewriting
/// this one.
const GOLDEN: &[u8] = include_bytes!("data/state_v1.snap");

/// The golden snapshot of format version 2: the version 1 state plus a
/// learned model (section 6) and association rules (section 7).
const GOLDEN_V2: &[u8] = include_bytes!("data/state_v2.snap");

fn golden_state() -> EngineState {
    let mut s = demo_state();
    s.version = 20_260_101;
    s.upsell.max_price_step_percent = 80;
    s.upsell.features = cartwise::FeatureRule::MustKeepAll;
    s.upsell.max_tiers_up = 1;
    s.cross_sell.category_fanout = 3;
    s.weights.relevance = 0.7;
    s.weights.popularity = 0.05;
    s.rules = s
        .rules
        .clone()
        .pin("CASE-15")
        .exclude_category("warranties");
    s
}

/// The version 2 golden state: a learned model with a prior and a popular
/// list, mined edges and itemset rules over the demo catalog.
fn golden_state_v2() -> EngineState {
    let mut s = golden_state();
    let id = |sku: &str| s.catalog.id(sku).unwrap();
    let n = s.catalog.len();
    let learned = vec![
        (id("PH-15"), id("CASE-15"), 0.5),
        (id("CASE-15"), id("CH-20W"), -0.25),
    ];
    let prior = (0..n).map(|i| (i % 3) as f32 * 0.123_456_7).collect();
    let popular = vec![id("CH-20W"), id("PH-15")];
    s.learned = Some(Arc::new(
        LearnedGraph::from_edges(n, learned, prior, popular).unwrap(),
    ));
    let mined = ComplementGraph::from_edges(n, [(id("PH-15"), id("CH-20W"), 0.75)]).unwrap();
    let rules =
        ItemsetRules::from_rules(n, [([id("PH-15"), id("CASE-15")], id("CH-20W"), 0.625)]).unwrap();
    s.associations = Some(Associations::new(Arc::new(mined), Arc::new(rules)));
    s
}

#[test]
fn golden_file_still_loads_and_saves_byte_for_byte() {
    let state = golden_state();
    if std::env::var_os("CARTWISE_BLESS").is_some() {
        let root = env!("CARGO_MANIFEST_DIR");
        golden_state_v2()
            .save_file(format!("{root}/tests/data/state_v2.snap"))
            .unwrap();
        small_state()
            .save_file(format!("{root}/fuzz/seeds/snapshot_load/small.snap"))
            .unwrap();
    }
    // Version 1 loads, with the sections it did not have empty.
    let loaded = EngineState::from_bytes(GOLDEN).unwrap();
    assert_eq!(loaded, state);
    assert!(loaded.learned.is_none() && loaded.associations.is_none());
    let header = SnapshotHeader::parse(GOLDEN).unwrap();
    assert_eq!(header.format_version, 1);
    assert_eq!(header.payload_len as usize, GOLDEN.len() - HEADER_LEN);
    assert_eq!(header.checksum, snapshot::checksum(&GOLDEN[HEADER_LEN..]));
    // Re-saved, it is a version 2 file with the same payload: sections 1
    // to 5 did not change.
    let saved = state.to_bytes().unwrap();
    assert_eq!(&saved[8..12], &2u32.to_le_bytes());
    assert_eq!(&saved[..8], &GOLDEN[..8]);
    assert_eq!(&saved[12..], &GOLDEN[12..]);

    // Version 2, with both optional sections.
    let state = golden_state_v2();
    let loaded = EngineState::from_bytes(GOLDEN_V2).unwrap();
    assert_eq!(loaded, state);
    assert_eq!(state.to_bytes().unwrap(), GOLDEN_V2);
    assert_eq!(SnapshotHeader::parse(GOLDEN_V2).unwrap().format_version, 2);
    // The engine serves all four strategies, in the documented order.
    let engine = loaded.to_engine().unwrap();
    assert_eq!(
        engine.strategy_names().collect::<Vec<_>>(),
        ["cross-sell", "upsell", "associations", "learned"]
    );
}

/// A version 1 file may not hold the sections version 2 added.
#[test]
fn a_version_1_file_with_a_version_2_section_is_rejected() {
    let mut bytes = golden_state_v2().to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::Snapshot { reason }) if reason.contains("unknown section tag 6 in format version 1")
    ));
}

/// Optional sections that passed the checksum but do not fit the catalog
/// are rejected on load, before an engine exists.
#[test]
fn optional_sections_are_validated_on_load() {
    let mut state = golden_state_v2();
    let n = state.catalog.len();
    // Itemset rules of a catalog one product larger.
    let rules = ItemsetRules::from_rules(
        n + 1,
        [(
            [ProductId::from_index(0), ProductId::from_index(1)],
            ProductId::from_index(n),
            0.5,
        )],
    )
    .unwrap();
    let graph = state.associations.as_ref().unwrap().graph().clone();
    state.associations = Some(Associations::new(graph, Arc::new(rules)));
    assert!(matches!(state.to_engine(), Err(Error::Snapshot { .. })));
    let bytes = state.to_bytes().unwrap();
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::Snapshot { reason }) if reason.contains("itemset rules")
    ));

    // A learned prior turned NaN in the file, the checksum resealed.
    let state = golden_state_v2();
    let mut bytes = state.to_bytes().unwrap();
    let marker = 0.123_456_7f32.to_le_bytes();
    let at = bytes
        .windows(4)
        .position(|w| w == marker)
        .expect("the prior is in the file");
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let sum = snapshot::checksum(&bytes[HEADER_LEN..]);
    bytes[20..28].copy_from_slice(&sum.to_le_bytes());
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::Snapshot { reason }) if reason.contains("learned graph")
    ));
}

#[test]
fn header_layout_is_as_documented() {
    let bytes = small_state().to_bytes().unwrap();
    assert_eq!(&bytes[..8], &MAGIC);
    assert_eq!(&bytes[8..12], &FORMAT_VERSION.to_le_bytes());
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    assert_eq!(len as usize, bytes.len() - HEADER_LEN);
    let sum = u64::from_le_bytes(bytes[20..28].try_into().unwrap());
    assert_eq!(sum, snapshot::checksum(&bytes[HEADER_LEN..]));
    // The first section is the configuration (tag 1).
    assert_eq!(&bytes[28..32], &1u32.to_le_bytes());
}

#[test]
fn demo_round_trip_keeps_every_answer() {
    let state = demo_state();
    let loaded = EngineState::from_bytes(&state.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded, state);
    let (a, b) = (state.to_engine().unwrap(), loaded.to_engine().unwrap());
    let n = state.catalog.len();
    for i in 0..n {
        let cart = cart(&[(i, 1), ((i * 7 + 3) % n, 2)], n);
        assert_eq!(answers(&a, &cart), answers(&b, &cart));
    }
}

#[test]
fn json_round_trip_is_exact_and_readable() {
    let state = golden_state();
    let json = state.to_json();
    assert!(json.contains("\"format_version\": 2"));
    assert!(json.contains("\"must_keep_all\""));
    assert_eq!(EngineState::from_json(&json).unwrap(), state);
}

#[test]
fn json_from_a_newer_format_is_rejected() {
    let json =
        small_state()
            .to_json()
            .replacen("\"format_version\": 2", "\"format_version\": 3", 1);
    assert!(matches!(
        EngineState::from_json(&json),
        Err(Error::SnapshotVersion {
            expected: 2,
            found: 3
        })
    ));
}

#[test]
fn json_with_unknown_keys_is_rejected() {
    let json = small_state()
        .to_json()
        .replacen("\"version\"", "\"verison\"", 1);
    assert!(matches!(
        EngineState::from_json(&json),
        Err(Error::Json { .. })
    ));
}

#[test]
fn files_are_written_atomically_and_read_back() {
    let dir = std::env::temp_dir().join(format!("cartwise-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.snap");
    let state = small_state();
    state.save_file(&path).unwrap();
    assert_eq!(EngineState::load_file(&path).unwrap(), state);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.snap"]);
    // Reading through `load` (a reader) gives the same state.
    let file = std::fs::File::open(&path).unwrap();
    assert_eq!(
        EngineState::load(std::io::BufReader::new(file)).unwrap(),
        state
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_names_its_path() {
    let err = EngineState::load_file("/nonexistent/cartwise.snap").unwrap_err();
    match err {
        Error::Io { path, .. } => assert_eq!(path, "/nonexistent/cartwise.snap"),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn new_rejects_a_graph_of_another_catalog() {
    let state = small_state();
    let other =
        InMemoryCatalog::from_products(state.catalog.to_products().into_iter().take(2)).unwrap();
    assert!(matches!(
        EngineState::new(other, (*state.graph).clone(), CategoryRules::default()),
        Err(Error::Snapshot { .. })
    ));
    // Default (empty) graph and rules of the right size are accepted.
    EngineState::new(
        state.catalog.clone(),
        ComplementGraph::empty(state.catalog.len()),
        CategoryRules::default(),
    )
    .unwrap();
}

#[test]
fn to_engine_revalidates_public_fields() {
    let mut state = small_state();
    state.weights.margin = f32::NAN;
    assert!(matches!(
        state.to_engine(),
        Err(Error::InvalidConfig {
            field: "margin",
            ..
        })
    ));
    let mut state = small_state();
    state.graph = std::sync::Arc::new(ComplementGraph::empty(2));
    assert!(matches!(state.to_engine(), Err(Error::Snapshot { .. })));
    let mut state = small_state();
    state.rules = state.rules.clone().pin("NOPE");
    assert!(matches!(state.to_engine(), Err(Error::UnknownSku { .. })));
}

#[test]
fn a_trailing_byte_is_rejected() {
    let mut bytes = small_state().to_bytes().unwrap();
    bytes.push(0);
    assert!(matches!(
        EngineState::from_bytes(&bytes),
        Err(Error::Snapshot { reason }) if reason.contains("after the payload")
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// save -> load gives an equal state, the same bytes again, and the same
    /// answers for random carts; JSON round trips exactly too.
    #[test]
    fn round_trip_is_exact(state in arb_full_state(), carts in proptest::collection::vec(arb_cart_spec(), 1..4)) {
        let bytes = state.to_bytes().unwrap();
        let loaded = EngineState::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&loaded, &state);
        prop_assert_eq!(&loaded.to_bytes().unwrap(), &bytes);

        let from_json = EngineState::from_json(&state.to_json()).unwrap();
        prop_assert_eq!(&from_json, &state);

        // The optional sections are written when set, and only then.
        let tags = section_tags(&bytes);
        prop_assert_eq!(tags.contains(&6), state.learned.is_some());
        prop_assert_eq!(tags.contains(&7), state.associations.is_some());

        let a = state.to_engine().unwrap();
        let b = loaded.to_engine().unwrap();
        let n = state.catalog.len();
        for spec in &carts {
            let cart = cart(spec, n);
            prop_assert_eq!(answers(&a, &cart), answers(&b, &cart));
        }
    }
}

/// The section tags of a snapshot, in file order.
fn section_tags(bytes: &[u8]) -> Vec<u32> {
    let mut tags = Vec::new();
    let mut rest = &bytes[HEADER_LEN..];
    while rest.len() >= 12 {
        tags.push(u32::from_le_bytes(rest[..4].try_into().unwrap()));
        let len = u64::from_le_bytes(rest[4..12].try_into().unwrap()) as usize;
        rest = &rest[12 + len..];
    }
    tags
}
