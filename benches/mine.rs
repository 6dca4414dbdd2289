//! Mining: pair counting, measures and the mined graph, on synthetic order logs.
//!
//! What is measured: `Miner::new().mine(log.view())` (parallel sparse pair
//! counting on both cores, each rule's thresholds and weight, top-50
//! neighbours per item) on logs of 100k and 1M orders of about 10 distinct
//! lines each, over a 100k-product catalog. Building the `OrderLog` is setup, not measured.
//!
//! The data: each order picks a "theme" product by Zipf popularity and
//! fills its lines half from the theme's neighbourhood (ids within ±50 of
//! it, so co-purchase structure exists) and half by popularity; seeded,
//! deterministic (SplitMix64; `common::mine_order_log`).
//!
//! Command:
//!
//! ```text
//! cargo bench --bench mine -- --warm-up-time 1 --measurement-time 10
//! ```

use std::time::Duration;

use cartwise::Miner;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn mine(c: &mut Criterion) {
    let mut group = c.benchmark_group("mine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for orders in [100_000usize, 1_000_000] {
        let log = common::mine_order_log(orders, 7);
        eprintln!(
            "mine/{orders}: {} orders, {} lines, {} distinct SKUs",
            log.len(),
            log.n_lines(),
            log.n_items()
        );
        group.throughput(Throughput::Elements(orders as u64));
        group.bench_with_input(BenchmarkId::new("orders", orders), &log, |b, log| {
            b.iter(|| Miner::new().mine(log.view()).expect("mining succeeds"))
        });
    }
    group.finish();
}

criterion_group!(benches, mine);
criterion_main!(benches);
