//! Fuzzes the CSV order reader (`OrderLog::from_csv_reader`).
//!
//! The input is read as an order-log CSV under both malformed-row policies
//! and a small distinct-SKU cap. A log that loads must keep its
//! invariants (every order non-empty with distinct items in range, SKUs
//! interned both ways, pair items a prefix of at most
//! `MAX_ITEMS_PER_ORDER`). A small one must also mine without panicking,
//! with itemset rules, with time decay when every order has a timestamp
//! (which runs the date parser on the fuzzed timestamps) and with event
//! weights when it has events; and a `MinerState` fed the log in two
//! halves must give the same graph bytes as the full mine.
#![no_main]

use std::time::Duration;

use cartwise::{
    Decay, Events, Itemsets, Miner, MinerState, OnMalformed, OrderLog, ReadOptions,
    MAX_ITEMS_PER_ORDER,
};
use libfuzzer_sys::fuzz_target;

fn check(log: &OrderLog) {
    assert!(!log.is_empty());
    let n = log.n_items();
    let mut lines = 0;
    for o in 0..log.len() {
        let order = log.order(o);
        assert!(!order.is_empty(), "order {o} is empty");
        lines += order.len();
        let mut seen: Vec<u32> = order.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), order.len(), "order {o} repeats an item");
        assert!(order.iter().all(|&i| (i as usize) < n));
        let pairs = log.pair_items(o);
        assert!(pairs.len() <= MAX_ITEMS_PER_ORDER);
        assert_eq!(pairs, &order[..pairs.len()]);
        if let Some(events) = log.events(o) {
            assert_eq!(events.len(), order.len());
        }
        assert!(!log.order_id(o).is_empty());
    }
    assert_eq!(lines, log.n_lines());
    for (i, sku) in log.skus().enumerate() {
        assert!(!sku.is_empty());
        assert_eq!(log.item(sku), Some(i as u32));
    }
}

fn mine(log: &OrderLog) {
    let mut miner = Miner::new();
    miner.threads(1).top(3);
    if log.has_events() {
        miner.events(Events::weighted());
    }
    let full = miner.mine(log.view()).expect("a loaded log mines");
    full.validate().expect("mined graphs are valid");
    let mut state = MinerState::new(&miner).expect("a valid miner");
    let half = log.len() / 2;
    state.add_orders(log.slice(0..half)).expect("orders add");
    state.add_orders(log.slice(half..log.len())).expect("orders add");
    let incremental = state.to_mined_graph(&miner).expect("the state mines");
    assert_eq!(incremental.to_json(), full.to_json(), "incremental differs");

    miner.itemsets(Itemsets::Mine).itemset_min_count(1.0);
    if let Ok(g) = miner.mine(log.view()) {
        g.validate().expect("mined graphs are valid");
    }
    if (0..log.len()).all(|o| log.timestamp(o).is_some()) {
        miner.decay(Decay::HalfLife(Duration::from_secs(86_400)));
        if let Ok(g) = miner.mine(log.view()) {
            g.validate().expect("mined graphs are valid");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for policy in [OnMalformed::Error, OnMalformed::Skip] {
        let mut options = ReadOptions::new();
        options.on_malformed(policy).max_items(64);
        if let Ok(log) = OrderLog::from_csv_reader(data, &options) {
            check(&log);
            assert!(log.n_items() <= 64);
            if log.n_lines() <= 300 {
                mine(&log);
            }
        }
    }
});
