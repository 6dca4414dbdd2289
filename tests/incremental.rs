//! Incremental learning: a `MinerState` fed batch by batch gives the graph
//! a full mine of all the orders gives (to the last bit without decay, to
//! rounding with it), on random logs and on the shared datasets; caps and
//! bad settings leave the state untouched; serialised states load exactly
//! and carry on.

use std::time::Duration;

use cartwise::{
    Decay, Error, Event, Events, Itemsets, Measure, MinedGraph, Miner, MinerState, OrderLog,
    OrderLogBuilder,
};
use proptest::prelude::*;

/// One generated order line: order number, SKU number, event, time.
type Row = (u8, u8, u8, u32);

fn event_of(e: u8) -> Event {
    match e % 5 {
        0 => Event::View,
        1 => Event::Cart,
        _ => Event::Purchase,
    }
}

/// SKUs whose byte order differs from their first appearance, with an odd
/// one among them.
fn sku_of(s: u8) -> String {
    match s % 4 {
        0 => format!("z{s}"),
        1 => format!("A-{s}"),
        2 => format!("m\u{301}{s}"),
        _ => format!("\t{s}"),
    }
}

/// A log of `rows`, keeping only the orders whose first-appearance index is
/// in `range` (all when `None`); events and times when asked.
fn build(
    rows: &[Row],
    range: Option<std::ops::Range<usize>>,
    events: bool,
    times: bool,
) -> OrderLog {
    let mut order_index: Vec<u8> = Vec::new();
    for r in rows {
        if !order_index.contains(&r.0) {
            order_index.push(r.0);
        }
    }
    let mut b = OrderLogBuilder::new();
    for &(o, s, e, t) in rows {
        let k = order_index.iter().position(|&x| x == o).unwrap();
        if range.as_ref().is_some_and(|r| !r.contains(&k)) {
            continue;
        }
        // An order's time: the time of its first line.
        let time = (t / 7 * 3_600).to_string();
        let event = if events { event_of(e) } else { Event::Purchase };
        b.push_event(
            &format!("o{o}"),
            &sku_of(s),
            times.then_some(time.as_str()),
            event,
        )
        .unwrap();
    }
    b.build().unwrap()
}

/// Split points (sorted, within `0..=n`) from generated fractions.
fn cuts(n: usize, fractions: &[u8]) -> Vec<usize> {
    let mut c: Vec<usize> = fractions.iter().map(|&f| f as usize * n / 255).collect();
    c.push(0);
    c.push(n);
    c.sort_unstable();
    c
}

fn miner_of(measure: Measure, top: usize, min_count: f64, events: bool, decay: bool) -> Miner {
    let mut m = Miner::new();
    m.measure(measure).top(top).min_count(min_count).threads(2);
    if events {
        m.events(Events::weighted());
    }
    if decay {
        m.decay(Decay::HalfLife(Duration::from_secs(3 * 86_400)));
    }
    m
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec((0u8..24, 0u8..14, any::<u8>(), 0u32..2_000), 1..120)
}

fn measure_strategy() -> impl Strategy<Value = Measure> {
    prop::sample::select(Measure::ALL.to_vec())
}

/// `a` and `b` equal to a relative `1e-9`.
fn near(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Batches as slices of one log, and as separate logs (other item ids,
    /// some with events and some without): the same graph, the same JSON
    /// bytes, as a full mine. Exact, without decay.
    #[test]
    fn batches_equal_a_full_rebuild(
        rows in rows_strategy(),
        fractions in prop::collection::vec(any::<u8>(), 0..4),
        measure in measure_strategy(),
        top in prop_oneof![1usize..4, Just(usize::MAX)],
        min_count in prop_oneof![Just(0.0), Just(1.0), Just(2.0)],
        events in any::<bool>(),
        weigh_events in any::<bool>(),
    ) {
        let miner = miner_of(measure, top, min_count, weigh_events, false);
        let full_log = build(&rows, None, events, false);
        let full = miner.mine(full_log.view()).unwrap();
        let cuts = cuts(full_log.len(), &fractions);

        let mut sliced = MinerState::new(&miner).unwrap();
        let mut separate = MinerState::new(&miner).unwrap();
        for w in cuts.windows(2) {
            sliced.add_orders(full_log.slice(w[0]..w[1])).unwrap();
            if w[0] < w[1] {
                let part = build(&rows, Some(w[0]..w[1]), events, false);
                separate.add_orders(part.view()).unwrap();
            }
        }
        for state in [&sliced, &separate] {
            let got = state.to_mined_graph(&miner).unwrap();
            prop_assert_eq!(&got, &full);
            prop_assert_eq!(got.to_json(), full.to_json());
            prop_assert_eq!(state.n_orders(), full_log.len() as u64);
        }
    }

    /// With time decay: batches whose newest time moves rescale the stored
    /// counts, which matches the full rebuild up to rounding.
    #[test]
    fn batches_with_decay_match_a_full_rebuild_to_rounding(
        rows in rows_strategy(),
        fractions in prop::collection::vec(any::<u8>(), 0..4),
        events in any::<bool>(),
    ) {
        let miner = miner_of(Measure::Confidence, usize::MAX, 0.0, events, true);
        let full_log = build(&rows, None, events, true);
        let full = miner.mine(full_log.view()).unwrap();
        let mut state = MinerState::new(&miner).unwrap();
        for w in cuts(full_log.len(), &fractions).windows(2) {
            state.add_orders(full_log.slice(w[0]..w[1])).unwrap();
        }
        let got = state.to_mined_graph(&miner).unwrap();
        prop_assert!(near(got.total(), full.total()), "{} {}", got.total(), full.total());
        prop_assert_eq!(got.skus().collect::<Vec<_>>(), full.skus().collect::<Vec<_>>());
        for i in 0..full.n_items() as u32 {
            prop_assert!(near(got.count(i), full.count(i)));
        }
        let (a, b): (Vec<_>, Vec<_>) = (got.rules().collect(), full.rules().collect());
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!((x.from, x.to), (y.from, y.to));
            // Pair counts are stored as f32 by both, so compare at f32 precision.
            prop_assert!((x.measures.count - y.measures.count).abs() <= 1e-6 * y.measures.count);
            prop_assert!((x.weight - y.weight).abs() <= 1e-5 * y.weight.abs().max(1e-30));
        }
    }

    /// A state saved and loaded (JSON) is equal, and adding the rest of the
    /// orders to it gives what adding them to the original gives.
    #[test]
    fn a_saved_state_loads_exactly_and_carries_on(
        rows in rows_strategy(),
        cut in any::<u8>(),
        decay in any::<bool>(),
    ) {
        let miner = miner_of(Measure::Lift, 5, 0.0, true, decay);
        let log = build(&rows, None, true, true);
        let cut = cut as usize * log.len() / 255;
        let mut state = MinerState::new(&miner).unwrap();
        state.add_orders(log.slice(0..cut)).unwrap();
        let json = serde_json::to_string(&state).unwrap();
        let mut loaded: MinerState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&loaded, &state);
        prop_assert_eq!(serde_json::to_string(&loaded).unwrap(), json);
        state.add_orders(log.slice(cut..log.len())).unwrap();
        loaded.add_orders(log.slice(cut..log.len())).unwrap();
        prop_assert_eq!(&loaded, &state);
        prop_assert_eq!(loaded.to_mined_graph(&miner).unwrap(), state.to_mined_graph(&miner).unwrap());
    }
}

/// The shared datasets (`../shared/data`), each added in four uneven
/// batches: the graph and its JSON bytes equal a full mine's, purchases
/// only and (where the data has times) with decay to rounding.
#[test]
fn shared_datasets_in_batches_equal_a_full_rebuild() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");
    let mut tried = 0;
    for name in ["groceries", "bakery_breadbasket", "online_retail_fr_de"] {
        let path = format!("{root}/{name}/orders.csv");
        if !std::path::Path::new(&path).exists() {
            eprintln!("skipping {name}: {path} not found");
            continue;
        }
        tried += 1;
        let log = OrderLog::from_csv_path(&path).unwrap();
        let n = log.len();
        let cuts = [0, n / 10, n / 2, n / 2 + 1, n];
        let mut miner = Miner::new();
        miner
            .measure(Measure::Lift)
            .top(20)
            .min_count(2.0)
            .threads(2);
        let full = miner.mine(log.view()).unwrap();
        let mut state = MinerState::new(&miner).unwrap();
        for w in cuts.windows(2) {
            state.add_orders(log.slice(w[0]..w[1])).unwrap();
        }
        let got = state.to_mined_graph(&miner).unwrap();
        assert_eq!(got.to_json(), full.to_json(), "{name}");
        assert!(full.n_rules() > 100, "{name}: {} rules", full.n_rules());
        assert_eq!(state.n_pairs() as u64, full.pairs_counted(), "{name}");

        if (0..n).all(|o| log.timestamp(o).is_some()) {
            miner.decay(Decay::HalfLife(Duration::from_secs(30 * 86_400)));
            let full = miner.mine(log.view()).unwrap();
            let mut state = MinerState::new(&miner).unwrap();
            for w in cuts.windows(2) {
                state.add_orders(log.slice(w[0]..w[1])).unwrap();
            }
            let got = state.to_mined_graph(&miner).unwrap();
            assert!(near(got.total(), full.total()), "{name}");
            let same = got
                .rules()
                .zip(full.rules())
                .filter(|(a, b)| a.from == b.from && a.to == b.to)
                .count();
            // Top-20 ties broken by the last bit may differ; almost every
            // rule must not.
            assert!(
                same * 1000 >= full.n_rules() * 999 && got.n_rules() == full.n_rules(),
                "{name}: {same} of {} rules agree",
                full.n_rules()
            );
        }
    }
    if tried == 0 {
        eprintln!("skipping: no shared dataset under {root}");
    }
}

fn small_log(prefix: &str, skus: &[&[&str]]) -> OrderLog {
    let mut b = OrderLogBuilder::new();
    for (o, order) in skus.iter().enumerate() {
        for s in *order {
            b.push(&format!("{prefix}{o}"), s).unwrap();
        }
    }
    b.build().unwrap()
}

#[test]
fn counts_by_sku_add_up() {
    let miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    state
        .add_orders(small_log("a", &[&["x", "y"], &["x"]]).view())
        .unwrap();
    state
        .add_orders(small_log("b", &[&["y", "x", "z"]]).view())
        .unwrap();
    assert_eq!(
        (state.n_orders(), state.n_items(), state.n_pairs()),
        (3, 3, 3)
    );
    assert_eq!(
        (state.count("x"), state.count("y"), state.count("?")),
        (3.0, 2.0, 0.0)
    );
    assert_eq!((state.pair("x", "y"), state.pair("y", "x")), (2.0, 2.0));
    assert_eq!((state.pair("x", "z"), state.pair("x", "x")), (1.0, 0.0));
    assert_eq!(state.total(), 3.0);
    assert!(state.heap_bytes() > 0);
}

#[test]
fn itemset_rules_and_other_weightings_are_refused() {
    let mut miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    state
        .add_orders(small_log("a", &[&["x", "y"]]).view())
        .unwrap();
    miner.itemsets(Itemsets::Mine);
    assert!(matches!(
        state.to_mined_graph(&miner),
        Err(Error::InvalidConfig {
            field: "itemsets",
            ..
        })
    ));
    let mut decayed = Miner::new();
    decayed.decay(Decay::HalfLife(Duration::from_secs(60)));
    assert!(matches!(
        state.to_mined_graph(&decayed),
        Err(Error::InvalidConfig { field: "decay", .. })
    ));
    let mut evented = Miner::new();
    evented.events(Events::weighted());
    assert!(matches!(
        state.to_mined_graph(&evented),
        Err(Error::InvalidConfig {
            field: "events",
            ..
        })
    ));
    let empty = MinerState::new(&Miner::new()).unwrap();
    assert!(matches!(
        empty.to_mined_graph(&Miner::new()),
        Err(Error::EmptyOrders)
    ));
    let mut bad = Miner::new();
    bad.top(0);
    assert!(matches!(
        MinerState::new(&bad),
        Err(Error::InvalidConfig { field: "top", .. })
    ));
}

#[test]
fn caps_stop_a_batch_and_leave_the_state_as_it_was() {
    let miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    state.max_items(3).max_pairs(3);
    state
        .add_orders(small_log("a", &[&["x", "y"]]).view())
        .unwrap();
    let before = state.clone();
    let err = state
        .add_orders(small_log("b", &[&["x", "p"], &["q", "r"]]).view())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::CapExceeded {
            what: "distinct SKUs in the miner state",
            cap: 3,
            got: 4
        }
    ));
    assert_eq!(state, before);
}

#[test]
fn the_pair_cap_counts_distinct_pairs() {
    let miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    state.max_pairs(3);
    state
        .add_orders(small_log("a", &[&["x", "y", "z"], &["y", "z"]]).view())
        .unwrap();
    assert_eq!(state.n_pairs(), 3);
    let before = state.clone();
    let err = state
        .add_orders(small_log("b", &[&["x", "w"]]).view())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::CapExceeded {
            what: "distinct pairs in the miner state",
            cap: 3,
            got: 4
        }
    ));
    assert_eq!(state, before);
}

#[test]
fn a_missing_timestamp_under_decay_changes_nothing() {
    let mut miner = Miner::new();
    miner.decay(Decay::HalfLife(Duration::from_secs(86_400)));
    let mut state = MinerState::new(&miner).unwrap();
    let mut b = OrderLogBuilder::new();
    b.push_line("1", "x", Some("2024-01-01")).unwrap();
    b.push_line("1", "y", None).unwrap();
    state.add_orders(b.build().unwrap().view()).unwrap();
    let before = state.clone();
    let mut b = OrderLogBuilder::new();
    b.push_line("2", "x", Some("2024-01-02")).unwrap();
    b.push_line("3", "y", None).unwrap();
    let err = state.add_orders(b.build().unwrap().view()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidTimestamp { order_id, value } if order_id == "3" && value.is_empty())
    );
    assert_eq!(state, before);
    assert_eq!(state.newest(), Some(1_704_067_200.0));
}

/// An order one half-life newer than everything before halves the old
/// counts, by hand.
#[test]
fn a_newer_batch_rescales_the_old_counts() {
    let mut miner = Miner::new();
    miner.decay(Decay::HalfLife(Duration::from_secs(86_400)));
    let mut state = MinerState::new(&miner).unwrap();
    let mut b = OrderLogBuilder::new();
    b.push_line("1", "x", Some("2024-01-01")).unwrap();
    b.push_line("1", "y", None).unwrap();
    state.add_orders(b.build().unwrap().view()).unwrap();
    assert_eq!((state.total(), state.pair("x", "y")), (1.0, 1.0));
    let mut b = OrderLogBuilder::new();
    b.push_line("2", "x", Some("2024-01-02")).unwrap();
    state.add_orders(b.build().unwrap().view()).unwrap();
    assert_eq!(state.total(), 1.5);
    assert_eq!(state.count("x"), 1.5);
    assert_eq!(state.pair("x", "y"), 0.5);
    // An older batch adds at its own age, without rescaling.
    let mut b = OrderLogBuilder::new();
    b.push_line("0", "y", Some("2023-12-31")).unwrap();
    state.add_orders(b.build().unwrap().view()).unwrap();
    assert_eq!(state.count("y"), 0.75);
}

#[test]
fn corrupt_serialised_states_are_rejected() {
    let miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    state
        .add_orders(small_log("a", &[&["x", "y", "z"]]).view())
        .unwrap();
    let json = serde_json::to_string(&state).unwrap();
    let cases = [
        (
            json.replace("[0,1,1.0]", "[1,0,1.0]"),
            "out of range or unordered",
        ),
        (
            json.replace("[0,2,1.0],[1,2,1.0]", "[1,2,1.0],[0,2,1.0]"),
            "out of order",
        ),
        (json.replace("\"z\"", "\"x\""), "appears twice"),
        (json.replace("\"z\"", "\"\""), "empty SKU"),
        (json.replace("[1.0,1.0,1.0]", "[1.0,1.0]"), "counts for"),
        (
            json.replace("[1.0,1.0,1.0]", "[1.0,-1.0,1.0]"),
            "not finite",
        ),
        (json.replace("[1,2,1.0]", "[1,9,1.0]"), "out of range"),
        (json.replace("\"newest\":null", "\"newest\":5.0"), "newest"),
    ];
    for (text, want) in cases {
        assert_ne!(text, json, "{want}: the replacement did not apply");
        let err = serde_json::from_str::<MinerState>(&text).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
    let newer = json.replace("\"version\":1", "\"version\":2");
    let err = serde_json::from_str::<MinerState>(&newer).unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
}

/// Views only viewed under purchases-only are items of the state but not of
/// the graph, as in a full mine; events weighted in a later batch make the
/// graph weighted, as a full mine of a log with events is.
#[test]
fn events_in_a_later_batch_switch_to_weighted_counts() {
    let miner = Miner::new();
    let mut state = MinerState::new(&miner).unwrap();
    let first = small_log("a", &[&["x", "y"], &["x", "y"]]);
    state.add_orders(first.view()).unwrap();
    let mut b = OrderLogBuilder::new();
    b.push_event("b0", "x", None, Event::Purchase).unwrap();
    b.push_event("b0", "v", None, Event::View).unwrap();
    let second = b.build().unwrap();
    state.add_orders(second.view()).unwrap();
    let mut all = OrderLogBuilder::new();
    for (o, s, e) in [
        ("a0", "x", Event::Purchase),
        ("a0", "y", Event::Purchase),
        ("a1", "x", Event::Purchase),
        ("a1", "y", Event::Purchase),
        ("b0", "x", Event::Purchase),
        ("b0", "v", Event::View),
    ] {
        all.push_event(o, s, None, e).unwrap();
    }
    let full = miner.mine(all.build().unwrap().view()).unwrap();
    let got: MinedGraph = state.to_mined_graph(&miner).unwrap();
    assert_eq!(got.to_json(), full.to_json());
    assert_eq!(state.n_items(), 3);
    assert_eq!(got.n_items(), 2);
}

/// A hostile batch: one order of 100,000 distinct lines between normal
/// ones. The state counts its pairs through the same 512-item cap as the
/// miner (130,816 pairs, not five billion) and still equals a full mine.
#[test]
fn an_order_of_100_000_lines_adds_capped_pairs() {
    let mut b = OrderLogBuilder::new();
    b.push("before", "sku000001").unwrap();
    b.push("before", "sku099999").unwrap();
    for k in 0..100_000 {
        b.push("huge", &format!("sku{k:06}")).unwrap();
    }
    b.push("after", "sku000001").unwrap();
    b.push("after", "sku000002").unwrap();
    let log = b.build().unwrap();
    let mut miner = Miner::new();
    miner.top(3).threads(2);
    let mut state = MinerState::new(&miner).unwrap();
    state.add_orders(log.slice(0..2)).unwrap();
    state.add_orders(log.slice(2..3)).unwrap();
    let m = cartwise::MAX_ITEMS_PER_ORDER;
    assert_eq!(state.n_pairs(), 1 + m * (m - 1) / 2);
    assert_eq!(state.n_items(), 100_000);
    let full = miner.mine(log.view()).unwrap();
    assert_eq!(
        state.to_mined_graph(&miner).unwrap().to_json(),
        full.to_json()
    );
}
