//! Times the phases of `Miner::mine` on the mine bench's synthetic log, in
//! one process, for profiling and for A/B runs of two builds.
//!
//! ```sh
//! cargo run --release --example mine_phases -- [ORDERS] [RUNS]
//! ```
//!
//! Builds the log of `benches/mine.rs` (`ORDERS` orders of about 10 lines
//! over 100k products, default 1,000,000), then mines it `RUNS` times
//! (default 5) and prints, per run, the seconds up to the first progress
//! report of the rule phase (counting pairs, plus the rule phase's set-up
//! and first chunk) and after it, the total, and at the end the medians
//! and a checksum of the mined rules (weights, counts, SKU lengths), so
//! that two builds can be shown to mine the same graph.
//!
//! `CSV=FILE` also writes the log as an order-lines CSV (`order_id,sku`),
//! for measuring the `mine` example's peak memory on the same log:
//!
//! ```sh
//! CSV=/tmp/orders1m.csv cargo run --release --example mine_phases -- 1000000 0
//! /usr/bin/time -v target/release/examples/mine --orders /tmp/orders1m.csv --out /tmp/graph1m.json
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use cartwise::mine::{Phase, Progress};
use cartwise::Miner;
use std::io::Write;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let orders: usize = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("ORDERS"));
    let runs: usize = args.next().map_or(5, |a| a.parse().expect("RUNS"));
    let log = common::mine_order_log(orders, 7);
    eprintln!(
        "{} orders, {} lines, {} SKUs",
        log.len(),
        log.n_lines(),
        log.n_items()
    );
    if let Some(path) = std::env::var_os("CSV") {
        let file = std::fs::File::create(&path).expect("CSV file can be created");
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "order_id,sku").expect("CSV write");
        for (o, order) in log.view().iter().enumerate() {
            for &item in order {
                writeln!(out, "o{o},{}", log.sku(item)).expect("CSV write");
            }
        }
        out.flush().expect("CSV write");
    }
    if runs == 0 {
        return;
    }
    let (mut counting, mut rules, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut checksum = 0u64;
    for run in 0..runs {
        let start = Instant::now();
        let mut rules_start = None;
        let graph = Miner::new()
            .mine_with_progress(log.view(), |p: Progress| {
                if p.phase == Phase::Rules && rules_start.is_none() {
                    rules_start = Some(Instant::now());
                }
            })
            .expect("mining succeeds");
        let end = Instant::now();
        let split = rules_start.unwrap_or(end);
        let (c, r, t) = (
            (split - start).as_secs_f64(),
            (end - split).as_secs_f64(),
            (end - start).as_secs_f64(),
        );
        eprintln!("run {run}: counting {c:.3} s, rules {r:.3} s, total {t:.3} s");
        counting.push(c);
        rules.push(r);
        total.push(t);
        checksum = 0;
        for rule in graph.rules() {
            checksum = checksum.wrapping_mul(31).wrapping_add(
                u64::from(rule.weight.to_bits())
                    ^ (rule.measures.count.to_bits() << 20)
                    ^ ((rule.from.len() as u64) << 40)
                    ^ ((rule.to.len() as u64) << 50),
            );
        }
        checksum ^= graph.n_rules() as u64;
    }
    println!(
        "median: counting {:.3} s, rules {:.3} s, total {:.3} s; checksum {checksum:016x}",
        median(counting),
        median(rules),
        median(total)
    );
}
