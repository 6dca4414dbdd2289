//! Times `Engine::recommend_with` on the bench workload outside criterion,
//! for profiling (perf, callgrind) and for A/B runs of two builds.
//!
//! Builds the synthetic engine of `benches/common` for `N` products, draws
//! 4096 carts each of 1, 5 and 20 lines, and prints per call: the median of
//! `PASSES` passes over the 4096 carts ("cold": a stream of different
//! customers, whose data is mostly not in cache) and over 8 carts repeated
//! ("cached"), plus a checksum of every answer (products, scores, kinds,
//! quantities) so two builds can be shown to answer identically.
//!
//! ```sh
//! cargo run --release --example profile_serving -- [N] [PASSES]
//! # one cart size, only the cold passes, under callgrind (counts per call
//! # = totals / (4096 x (1 + PASSES))):
//! LINES=5 COLD_ONLY=1 valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='profile_serving::pass' --cache-sim=yes --branch-sim=yes \
//!   --D1=49152,12,64 --LL=33554432,16,64 \
//!   target/release/examples/profile_serving 100000 1
//! ```
//!
//! Environment: `LINES` (1, 5 or 20: only that size), `COLD_ONLY`,
//! `CACHED_ONLY`; `TOUCH` times only the memory reads a call cannot avoid
//! (every edge target's catalog row), free-running and chained cart after
//! cart, for comparison; `PHASES` times, per cart size, engines over the
//! same catalog with no strategy's work, cross-sell's pooling alone (its
//! candidates gathered, nothing filtered, scored or selected), only upsell,
//! only cross-sell, and both, passes interleaved in this one process, to
//! show what each part of a call costs cold and cached.

#[path = "../benches/common/mod.rs"]
mod common;

use cartwise::{
    Candidates, CartLine, Catalog, Context, Engine, InMemoryCatalog, Kind, Kinds, Request, Scratch,
    Strategy,
};
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One pass over `carts`; returns a checksum of the answers.
#[inline(never)]
fn pass(engine: &Engine, carts: &[Vec<CartLine>], req: &Request, scratch: &mut Scratch) -> u64 {
    let mut checksum = 0u64;
    for cart in carts {
        let answer = engine
            .recommend_with(scratch, cart, req)
            .expect("the bench carts are valid");
        for s in answer {
            checksum = checksum.wrapping_mul(31).wrapping_add(
                u64::from(s.product.0)
                    ^ (u64::from(s.score.to_bits()) << 20)
                    ^ (s.kind as u64)
                    ^ (u64::from(s.quantity) << 52),
            );
        }
    }
    checksum
}

/// Median microseconds per call over `passes` runs of `calls` calls each.
fn median_micros(passes: usize, calls: usize, mut run: impl FnMut()) -> Option<f64> {
    let mut t: Vec<f64> = (0..passes)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied()
}

/// The memory floor of a call: per cart, read the category of every
/// target of every line's edges, in a bare loop (`TOUCH=1`). The first
/// loop carries no dependency from one cart to the next, so misses overlap
/// across carts as much as the processor allows; the second ("chained")
/// starts each cart only when the previous cart's reads are done.
fn touch(w: &common::Workload, engine: &Engine, passes: usize) {
    let graph = w.graph();
    let catalog = engine.catalog();
    for lines in [1usize, 5, 20] {
        let carts = w.carts(lines, 4096);
        let t = median_micros(passes, carts.len(), || {
            let mut acc = 0u64;
            for cart in &carts {
                for line in cart {
                    for e in graph.edge_range(line.product) {
                        acc = acc.wrapping_add(u64::from(catalog.category(graph.target(e)).0));
                    }
                }
            }
            black_box(acc);
        });
        // The same reads, but each cart's first read waits for the previous
        // cart's last: `acc` feeds the address of the cart's first line
        // (`acc >> 63` is 0, which the compiler cannot know), as one call
        // follows another. The latency floor of a call, not its throughput.
        let chained = median_micros(passes, carts.len(), || {
            let mut acc = 0u64;
            for cart in &carts {
                let start = (acc >> 63) as usize;
                for line in &cart[start..] {
                    for e in graph.edge_range(line.product) {
                        acc = acc.wrapping_add(u64::from(catalog.category(graph.target(e)).0));
                    }
                }
            }
            black_box(acc);
        });
        println!(
            "lines {lines:2}: touch {:.3} us, chained {:.3} us",
            t.unwrap_or(f64::NAN),
            chained.unwrap_or(f64::NAN)
        );
    }
}

/// A strategy that proposes nothing: an engine with only this one costs
/// the fixed part of a call (cart checks, exclusions, an empty answer).
#[derive(Debug)]
struct Nothing;

impl Strategy<InMemoryCatalog> for Nothing {
    fn name(&self) -> &str {
        "nothing"
    }
    fn kind(&self) -> Kind {
        Kind::CrossSell
    }
    fn candidates(&self, _ctx: &Context<'_, InMemoryCatalog>, _sink: &mut Candidates) {}
}

/// Runs another strategy into a sink of its own and proposes nothing: an
/// engine with only this one costs the fixed part of a call plus that
/// strategy's pooling, without filtering, scoring or selecting anything.
/// (The mutex is never contended: one thread; its lock is counted in.)
#[derive(Debug)]
struct PoolOnly {
    inner: Arc<dyn Strategy<InMemoryCatalog>>,
    sink: Mutex<Candidates>,
}

impl Strategy<InMemoryCatalog> for PoolOnly {
    fn name(&self) -> &str {
        "pool only"
    }
    fn kind(&self) -> Kind {
        self.inner.kind()
    }
    fn prefetch(&self, ctx: &Context<'_, InMemoryCatalog>) {
        self.inner.prefetch(ctx);
    }
    fn candidates(&self, ctx: &Context<'_, InMemoryCatalog>, _sink: &mut Candidates) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.reset(ctx.catalog.len());
        self.inner.candidates(ctx, &mut sink);
        black_box(sink.len());
    }
}

/// `PHASES=1`: the standard engine against engines over the same catalog
/// with fewer strategies; each round runs every engine once, cold then
/// cached, so drift on a shared machine hits all of them alike.
fn phases(w: &common::Workload, engine: &Engine, passes: usize, only: Option<usize>) {
    let catalog = engine.catalog_arc();
    let with = |strategies: &[usize]| {
        let mut b = Engine::builder(Arc::clone(catalog));
        for &i in strategies {
            b = b.shared_strategy(Arc::clone(&engine.strategies()[i]));
        }
        if strategies.is_empty() {
            b = b.strategy(Nothing);
        }
        b.build().expect("the bench engine's parts build")
    };
    let cross_pool = Engine::builder(Arc::clone(catalog))
        .strategy(PoolOnly {
            inner: Arc::clone(&engine.strategies()[0]),
            sink: Mutex::new(Candidates::new()),
        })
        .build()
        .expect("the bench engine's parts build");
    let variants = [
        ("nothing", with(&[])),
        ("cross-sell pooling", cross_pool),
        ("upsell only", with(&[1])),
        ("cross-sell only", with(&[0])),
        ("both (standard)", with(&[0, 1])),
    ];
    let req = Request::new().limit(10).kinds(Kinds::Both);
    for lines in [1usize, 5, 20] {
        if only.is_some_and(|l| l != lines) {
            continue;
        }
        let carts = w.carts(lines, 4096);
        let few = &carts[..8];
        let mut scratch: Vec<Scratch> = variants.iter().map(|_| Scratch::new()).collect();
        let mut cold = vec![Vec::new(); variants.len()];
        let mut cached = vec![Vec::new(); variants.len()];
        for (k, (_, e)) in variants.iter().enumerate() {
            pass(e, &carts, &req, &mut scratch[k]);
        }
        for _ in 0..passes {
            for (k, (_, e)) in variants.iter().enumerate() {
                cold[k].extend(median_micros(1, carts.len(), || {
                    black_box(pass(e, &carts, &req, &mut scratch[k]));
                }));
                cached[k].extend(median_micros(1, few.len() * 512, || {
                    for _ in 0..512 {
                        black_box(pass(e, few, &req, &mut scratch[k]));
                    }
                }));
            }
        }
        for (k, (name, _)) in variants.iter().enumerate() {
            let median = |t: &mut Vec<f64>| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            };
            println!(
                "lines {lines:2}, {name:18}: cold {:.3} us, cached {:.3} us",
                median(&mut cold[k]),
                median(&mut cached[k])
            );
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<usize>());
    let n = args.next().and_then(Result::ok).unwrap_or(1_000_000);
    let passes = args.next().and_then(Result::ok).unwrap_or(7).max(1);
    let only: Option<usize> = std::env::var("LINES").ok().and_then(|s| s.parse().ok());
    let cold = std::env::var_os("CACHED_ONLY").is_none();
    let cached = std::env::var_os("COLD_ONLY").is_none();

    let start = Instant::now();
    let w = common::Workload::generate(n, common::SEED);
    let engine = w.engine();
    eprintln!(
        "{n} products, {:.1} edges per product, set up in {:.1} s",
        w.mean_degree(),
        start.elapsed().as_secs_f64()
    );
    if std::env::var_os("TOUCH").is_some() {
        touch(&w, &engine, passes);
        return;
    }
    if std::env::var_os("PHASES").is_some() {
        phases(&w, &engine, passes, only);
        return;
    }
    let req = Request::new().limit(10).kinds(Kinds::Both);
    let mut scratch = Scratch::new();
    for lines in [1usize, 5, 20] {
        if only.is_some_and(|l| l != lines) {
            continue;
        }
        let carts = w.carts(lines, 4096);
        let few = &carts[..8];
        // The first pass warms the scratch and gives the checksum.
        let sum = pass(&engine, &carts, &req, &mut scratch);
        let t_cold = cold
            .then(|| {
                median_micros(passes, carts.len(), || {
                    black_box(pass(&engine, &carts, &req, &mut scratch));
                })
            })
            .flatten();
        let t_cached = cached
            .then(|| {
                median_micros(passes, few.len() * 512, || {
                    for _ in 0..512 {
                        black_box(pass(&engine, few, &req, &mut scratch));
                    }
                })
            })
            .flatten();
        let show = |t: Option<f64>| t.map_or_else(|| "-".to_owned(), |t| format!("{t:.3} us"));
        println!(
            "lines {lines:2}: cold {}, cached {}, checksum {sum:016x}",
            show(t_cold),
            show(t_cached)
        );
    }
}
