//! Snapshots: exact round trips (binary and JSON), the golden file, files.

mod common;

use cartwise::snapshot::{self, SnapshotHeader, FORMAT_VERSION, HEADER_LEN, MAGIC};
use cartwise::{Catalog, CategoryRules, ComplementGraph, EngineState, Error, InMemoryCatalog};
use common::state::*;
use proptest::prelude::*;

/// The golden snapshot: the demo catalog with every setting changed from
/// its default, written by format version 1. If this test fails after a
/// code change, the snapshot format changed: bump `FORMAT_VERSION`, keep a
/// reader for version 1, and add a new golden file instead of rewriting
/// this one.
const GOLDEN: &[u8] = include_bytes!("data/state_v1.snap");

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

#[test]
fn golden_file_still_loads_and_saves_byte_for_byte() {
    let state = golden_state();
    if std::env::var_os("CARTWISE_BLESS").is_some() {
        let root = env!("CARGO_MANIFEST_DIR");
        state
            .save_file(format!("{root}/tests/data/state_v1.snap"))
            .unwrap();
        small_state()
            .save_file(format!("{root}/fuzz/seeds/snapshot_load/small.snap"))
            .unwrap();
    }
    let loaded = EngineState::from_bytes(GOLDEN).unwrap();
    assert_eq!(loaded, state);
    assert_eq!(state.to_bytes().unwrap(), GOLDEN);
    let header = SnapshotHeader::parse(GOLDEN).unwrap();
    assert_eq!(header.format_version, 1);
    assert_eq!(header.payload_len as usize, GOLDEN.len() - HEADER_LEN);
    assert_eq!(header.checksum, snapshot::checksum(&GOLDEN[HEADER_LEN..]));
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
    assert!(json.contains("\"format_version\": 1"));
    assert!(json.contains("\"must_keep_all\""));
    assert_eq!(EngineState::from_json(&json).unwrap(), state);
}

#[test]
fn json_from_a_newer_format_is_rejected() {
    let json =
        small_state()
            .to_json()
            .replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    assert!(matches!(
        EngineState::from_json(&json),
        Err(Error::SnapshotVersion {
            expected: 1,
            found: 2
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
    fn round_trip_is_exact(state in arb_state(), carts in proptest::collection::vec(arb_cart_spec(), 1..4)) {
        let bytes = state.to_bytes().unwrap();
        let loaded = EngineState::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&loaded, &state);
        prop_assert_eq!(loaded.to_bytes().unwrap(), bytes);

        let from_json = EngineState::from_json(&state.to_json()).unwrap();
        prop_assert_eq!(&from_json, &state);

        let a = state.to_engine().unwrap();
        let b = loaded.to_engine().unwrap();
        let n = state.catalog.len();
        for spec in &carts {
            let cart = cart(spec, n);
            prop_assert_eq!(answers(&a, &cart), answers(&b, &cart));
        }
    }
}
