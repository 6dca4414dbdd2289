//! Serving cost: one `recommend` call, and two threads sharing one engine.
//!
//! What is measured:
//! * `recommend/{1k,100k,1M}`: the time of one call for carts of 1, 5 and 20
//!   lines, limit 10, both kinds (cross-sells and upsells), on the standard
//!   engine (cross-sell over the complement graph and category rules,
//!   upsell, default scorer). Four subjects on the same data in the same
//!   group, so their ratios come from one run:
//!   - `recommend_with`: `Engine::recommend_with` with one reused `Scratch`
//!     (the allocation-free path);
//!   - `recommend_with_cached`: the same, cycling through only 8 carts
//!     whose data stays in cache: the compute floor, without memory stalls;
//!   - `recommend`: `Recommender::recommend` (thread-local scratch, returns
//!     an owned `Vec`);
//!   - `naive`: the baseline below, written the way a first attempt would be.
//!
//!   Each iteration takes the next of 4096 pre-drawn carts, so a figure is
//!   the mean over carts of different degrees, not one lucky cart.
//! * `recommend_threads/1M`: throughput of `THREAD_CALLS` calls per thread,
//!   5-line carts, in 1 and in 2 scoped threads sharing one `Arc<Engine>`,
//!   each thread with its own `Scratch`. Both variants spawn their threads
//!   the same way; the 2-thread throughput divided by the 1-thread one is
//!   the scaling ratio. Before measuring, each variant also prints its
//!   threads' CPU time per call and run-queue wait (Linux schedstat),
//!   which separate "the threads slow each other" from "other processes
//!   hold the cores" on a shared machine.
//!
//! The data: `common::Workload` with the shared seed (power-law popularity,
//! 50-500 categories, 3-5 tier families, ~20 complement edges per product,
//! heavy-tailed; see `benches/common/mod.rs`). Each size is generated once
//! per process, on first use.
//!
//! The naive baseline keeps everything in `String`-keyed `HashMap`s
//! (`HashMap<String, Vec<(String, f64)>>` for the graph, a
//! `HashMap<String, NaiveProduct>` for the catalog), collects every
//! candidate into a `HashMap<String, _>` (summed weight, plus the strongest
//! source for the price-fit term), filters cart membership and stock by
//! string lookups, scores, sorts all candidates and takes 10. It implements
//! the engine's cross-sell, category-rule, upsell and scoring rules, and
//! returns the same suggestions (setup prints the agreement), so the ratio
//! compares two implementations of one answer.
//!
//! The commands (figures and their spread on a shared 2-core machine are
//! in BENCHMARKS.md):
//!
//! ```sh
//! cargo bench --bench recommend -- --warm-up-time 1 --measurement-time 3 'recommend/'
//! cargo bench --bench recommend -- --warm-up-time 1 --measurement-time 5 recommend_threads
//! ```

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};

use cartwise::{CartLine, Catalog, Engine, InMemoryCatalog, Kinds, Recommender, Request, Scratch};
use common::{Workload, SEED};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Suggestions asked for per call.
const LIMIT: usize = 10;
/// Cart sizes measured.
const CART_LINES: [usize; 3] = [1, 5, 20];
/// Pre-drawn carts per size; iterations cycle through them. Enough that
/// the carts of one size touch far more memory than the caches hold.
const CARTS: usize = 4096;
/// Carts the `recommend_with_cached` variant cycles through.
const CACHED_CARTS: usize = 8;
/// Calls each thread makes per iteration of the thread benches.
const THREAD_CALLS: usize = 5_000;

/// Everything one catalog size needs, built once.
struct Setup {
    engine: Arc<Engine>,
    naive: Naive,
    /// Carts per entry of `CART_LINES`, as ids for the engine.
    carts: Vec<Vec<Vec<CartLine>>>,
    /// The same carts as SKUs for the baseline.
    naive_carts: Vec<Vec<Vec<(String, u32)>>>,
}

fn setup(n: usize) -> &'static Setup {
    static SETUPS: [OnceLock<Setup>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match n {
        1_000 => &SETUPS[0],
        100_000 => &SETUPS[1],
        1_000_000 => &SETUPS[2],
        _ => unreachable!("sizes are fixed"),
    };
    slot.get_or_init(|| {
        let t = std::time::Instant::now();
        let w = Workload::generate(n, SEED);
        let engine = Arc::new(w.engine());
        let naive = Naive::new(&w, engine.catalog());
        let carts: Vec<_> = CART_LINES.iter().map(|&l| w.carts(l, CARTS)).collect();
        let catalog = engine.catalog();
        let naive_carts = carts
            .iter()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        c.iter()
                            .map(|l| (catalog.sku(l.product).to_owned(), l.quantity))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let setup = Setup {
            engine,
            naive,
            carts,
            naive_carts,
        };
        eprintln!(
            "setup {n} products: {} edges ({:.1} per product), {:.1} s; {}",
            w.edges.len(),
            w.mean_degree(),
            t.elapsed().as_secs_f64(),
            agreement(&setup)
        );
        setup
    })
}

fn request() -> Request {
    Request::new().limit(LIMIT).kinds(Kinds::Both)
}

fn per_call(c: &mut Criterion) {
    let req = request();
    for (n, label) in [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")] {
        let mut group = c.benchmark_group(format!("recommend/{label}"));
        group.throughput(Throughput::Elements(1));
        for (k, &lines) in CART_LINES.iter().enumerate() {
            // `setup` runs inside the closures so that a filtered-out size
            // is never generated.
            let mut scratch = Scratch::new();
            group.bench_function(BenchmarkId::new("recommend_with", lines), |b| {
                let s = setup(n);
                let carts = &s.carts[k];
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % carts.len();
                    let out = s
                        .engine
                        .recommend_with(&mut scratch, &carts[i], &req)
                        .expect("valid request");
                    black_box(out.len())
                })
            });
            // The same call cycling through only 8 carts, whose data stays
            // in cache: the compute floor, without memory stalls.
            group.bench_function(BenchmarkId::new("recommend_with_cached", lines), |b| {
                let s = setup(n);
                let carts = &s.carts[k][..CACHED_CARTS];
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % carts.len();
                    let out = s
                        .engine
                        .recommend_with(&mut scratch, &carts[i], &req)
                        .expect("valid request");
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("recommend", lines), |b| {
                let s = setup(n);
                let carts = &s.carts[k];
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % carts.len();
                    black_box(s.engine.recommend(&carts[i], &req).expect("valid request"))
                })
            });
            group.bench_function(BenchmarkId::new("naive", lines), |b| {
                let s = setup(n);
                let carts = &s.naive_carts[k];
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % carts.len();
                    black_box(s.naive.recommend(&carts[i], LIMIT))
                })
            });
        }
        group.finish();
    }
}

fn threads(c: &mut Criterion) {
    let req = request();
    let mut group = c.benchmark_group("recommend_threads/1M");
    group.sample_size(20);
    for threads in [1usize, 2] {
        // One scratch per thread, kept (warm) across iterations.
        let mut scratches: Vec<Scratch> = (0..threads).map(|_| Scratch::new()).collect();
        group.throughput(Throughput::Elements((threads * THREAD_CALLS) as u64));
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            let s = setup(1_000_000);
            let carts = &s.carts[1]; // 5 lines
            cpu_report(s, &mut scratches);
            b.iter(|| {
                std::thread::scope(|scope| {
                    for (t, scratch) in scratches.iter_mut().enumerate() {
                        let engine = Arc::clone(&s.engine);
                        let req = &req;
                        scope.spawn(move || {
                            let mut found = 0usize;
                            for call in 0..THREAD_CALLS {
                                // Threads start at different carts.
                                let cart = &carts[(call + t * 257) % carts.len()];
                                found += engine
                                    .recommend_with(scratch, cart, req)
                                    .expect("valid request")
                                    .len();
                            }
                            black_box(found)
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

/// Runs `THREAD_CALLS` 5-line calls on each of `scratches.len()` threads,
/// outside criterion, and prints each thread's CPU time per call and the
/// share of its time spent waiting for a CPU, from Linux's
/// `/proc/thread-self/schedstat` (on-CPU and run-queue nanoseconds).
///
/// On a shared 2-core machine the wall-clock ratio of the 2-thread and
/// 1-thread throughput also measures how much CPU other processes leave
/// free; CPU time per call does not. If two threads slowed each other
/// (shared cache, memory bandwidth, false sharing), their CPU time per
/// call would rise above the single thread's.
fn cpu_report(s: &Setup, scratches: &mut [Scratch]) {
    fn schedstat() -> Option<(u64, u64)> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        Some((fields.next()??, fields.next()??))
    }
    static REPORTED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let threads = scratches.len();
    {
        let mut reported = REPORTED.lock().expect("not poisoned");
        if reported.contains(&threads) {
            return;
        }
        reported.push(threads);
    }
    let carts = &s.carts[1];
    let req = request();
    let per_thread: Vec<Option<(u64, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = scratches
            .iter_mut()
            .enumerate()
            .map(|(t, scratch)| {
                let engine = Arc::clone(&s.engine);
                let req = &req;
                scope.spawn(move || {
                    let (cpu0, wait0) = schedstat()?;
                    for call in 0..THREAD_CALLS {
                        let cart = &carts[(call + t * 257) % carts.len()];
                        black_box(
                            engine
                                .recommend_with(scratch, cart, req)
                                .expect("valid request"),
                        );
                    }
                    let (cpu1, wait1) = schedstat()?;
                    Some((cpu1 - cpu0, wait1 - wait0))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    for (t, r) in per_thread.iter().enumerate() {
        match r {
            Some((cpu, wait)) => eprintln!(
                "recommend_threads/1M/threads/{threads}: thread {t}: {:.2} us CPU per call, \
                 waited for a CPU {:.0}% of the time",
                *cpu as f64 / 1e3 / THREAD_CALLS as f64,
                100.0 * *wait as f64 / (*cpu + *wait).max(1) as f64
            ),
            None => eprintln!("recommend_threads: /proc/thread-self/schedstat unavailable"),
        }
    }
}

criterion_group!(benches, per_call, threads);
criterion_main!(benches);

/// Share of the engine's top-`LIMIT` products that the baseline also
/// returns, over 64 of the 5-line carts: a check that both do the same
/// work (100% when this was written; float rounding may cost a tie).
fn agreement(s: &Setup) -> String {
    let req = request();
    let mut scratch = Scratch::new();
    let (mut same, mut total) = (0usize, 0usize);
    let catalog = s.engine.catalog();
    for (cart, naive_cart) in s.carts[1].iter().zip(&s.naive_carts[1]).take(64) {
        let engine: Vec<&str> = s
            .engine
            .recommend_with(&mut scratch, cart, &req)
            .expect("valid request")
            .iter()
            .map(|x| catalog.sku(x.product))
            .collect();
        let naive = s.naive.recommend(naive_cart, LIMIT);
        total += engine.len();
        same += engine
            .iter()
            .filter(|sku| naive.iter().any(|(n, _)| n == *sku))
            .count();
    }
    let share = same as f64 / total.max(1) as f64;
    let warning = if share < 0.95 {
        " -- WARNING: the baseline no longer does the engine's work; update it"
    } else {
        ""
    };
    format!(
        "naive baseline returns {:.0}% of the engine's suggestions{warning}",
        100.0 * share
    )
}

/// One product as the naive baseline stores it.
struct NaiveProduct {
    price: u64,
    cost: Option<u64>,
    stock: Option<u32>,
    category: String,
    family: Option<String>,
    tier: u32,
    popularity: u32,
}

/// The baseline: string keys and hash maps everywhere, every candidate
/// collected and sorted.
struct Naive {
    products: HashMap<String, NaiveProduct>,
    graph: HashMap<String, Vec<(String, f64)>>,
    /// Family name -> SKUs in tier order.
    families: HashMap<String, Vec<String>>,
    /// Category -> (target category, weight).
    category_rules: HashMap<String, Vec<(String, f64)>>,
    /// Category -> SKUs, most popular first.
    category_products: HashMap<String, Vec<String>>,
    max_popularity: u32,
}

impl Naive {
    fn new(w: &Workload, catalog: &InMemoryCatalog) -> Self {
        let mut products = HashMap::new();
        let mut families: HashMap<String, Vec<String>> = HashMap::new();
        for p in &w.products {
            products.insert(
                p.sku.clone(),
                NaiveProduct {
                    price: p.price.minor(),
                    cost: p.cost.map(|c| c.minor()),
                    stock: p.stock,
                    category: p.category.clone(),
                    family: p.family.clone(),
                    tier: p.tier.unwrap_or(0),
                    popularity: p.popularity,
                },
            );
            if let Some(f) = &p.family {
                families.entry(f.clone()).or_default().push(p.sku.clone());
            }
        }
        for members in families.values_mut() {
            members.sort_by_key(|s| (products[s].tier, s.clone()));
        }
        let mut graph: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        for &(f, t, wt) in &w.edges {
            graph
                .entry(catalog.sku(f).to_owned())
                .or_default()
                .push((catalog.sku(t).to_owned(), f64::from(wt)));
        }
        let mut category_rules: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        for (f, t, wt) in &w.category_rules {
            category_rules
                .entry(f.clone())
                .or_default()
                .push((t.clone(), *wt));
        }
        let mut category_products: HashMap<String, Vec<String>> = HashMap::new();
        for c in 0..catalog.category_count() {
            let c = cartwise::CategoryId(c as u32);
            category_products.insert(
                catalog.category_name(c).to_owned(),
                catalog
                    .category_products(c)
                    .iter()
                    .map(|&p| catalog.sku(p).to_owned())
                    .collect(),
            );
        }
        let max_popularity = w.products.iter().map(|p| p.popularity).max().unwrap_or(0);
        Naive {
            products,
            graph,
            families,
            category_rules,
            category_products,
            max_popularity,
        }
    }

    fn in_stock(&self, sku: &str) -> bool {
        !matches!(self.products[sku].stock, Some(0))
    }

    fn recommend(&self, cart: &[(String, u32)], limit: usize) -> Vec<(String, f64)> {
        let in_cart = |sku: &str| cart.iter().any(|(c, _)| c == sku);
        // Cross-sell: per target, the summed weight and the strongest
        // piece of evidence (weight, cart line), for the price fit.
        let mut cross: HashMap<String, (f64, f64, usize)> = HashMap::new();
        let mut add = |to: &String, w: f64, line: usize| {
            let e = cross.entry(to.clone()).or_insert((0.0, f64::MIN, line));
            e.0 += w;
            if w > e.1 {
                (e.1, e.2) = (w, line);
            }
        };
        for (line, (sku, _)) in cart.iter().enumerate() {
            let category = &self.products[sku].category;
            let edges = self.graph.get(sku);
            for (to, w) in edges.into_iter().flatten() {
                add(to, *w, line);
            }
            // Category rules, for categories the product has no edge into
            // and the cart does not cover yet.
            for (target, w) in self.category_rules.get(category).into_iter().flatten() {
                let covered = cart
                    .iter()
                    .any(|(c, _)| &self.products[c].category == target);
                let linked = edges
                    .into_iter()
                    .flatten()
                    .any(|(to, _)| &self.products[to].category == target);
                if covered || linked {
                    continue;
                }
                let mut taken = 0;
                for p in &self.category_products[target] {
                    if taken == 2 {
                        break;
                    }
                    if self.in_stock(p) && !in_cart(p) {
                        add(p, *w, line);
                        taken += 1;
                    }
                }
            }
        }
        // Upsell: the next two tiers within +50% of the price.
        let mut upsell: HashMap<String, f64> = HashMap::new();
        for (sku, _) in cart {
            let p = &self.products[sku];
            let Some(family) = &p.family else { continue };
            let cap = p.price + p.price * 50 / 100;
            let (mut tiers_up, mut last) = (0u32, p.tier);
            for m in &self.families[family] {
                let q = &self.products[m];
                if q.tier <= p.tier {
                    continue;
                }
                if q.tier != last {
                    tiers_up += 1;
                    last = q.tier;
                }
                if tiers_up > 2 {
                    break;
                }
                if q.price > cap || q.price < p.price {
                    continue;
                }
                let room = (cap - p.price) as f64;
                let ratio = if room > 0.0 {
                    (q.price - p.price) as f64 / room
                } else {
                    0.0
                };
                let fit = (1.0 - 0.5 * ratio - 0.1 * f64::from(tiers_up - 1)).clamp(0.1, 1.0);
                let e = upsell.entry(m.clone()).or_insert(0.0);
                *e = e.max(fit);
            }
        }
        // Filter, score, sort everything, take the first `limit`.
        let pop_norm = (1.0 + f64::from(self.max_popularity)).ln();
        let mut all: Vec<(String, f64)> = Vec::new();
        let mut push = |sku: &String, relevance: f64, price_fit: f64| {
            if in_cart(sku) || !self.in_stock(sku) {
                return;
            }
            let p = &self.products[sku];
            let margin = match p.cost {
                Some(c) if p.price > 0 => p.price.saturating_sub(c) as f64 / p.price as f64,
                _ => 0.0,
            };
            let popularity = (1.0 + f64::from(p.popularity)).ln() / pop_norm;
            let depth = match p.stock {
                Some(s) if s < 5 => f64::from(s) / 5.0,
                _ => 1.0,
            };
            let score = 0.6 * relevance
                + 0.15 * margin
                + 0.1 * price_fit
                + 0.15 * popularity
                + 0.05 * depth;
            all.push((sku.clone(), score));
        };
        for (sku, fit) in &upsell {
            push(sku, *fit, *fit);
        }
        for (sku, (sum, _, line)) in &cross {
            if upsell.contains_key(sku) {
                continue;
            }
            let anchor = self.products[&cart[*line].0].price;
            let price_fit = if anchor == 0 {
                0.5
            } else {
                let ratio = self.products[sku].price as f64 / anchor as f64;
                (1.0 - (ratio - 0.3) / 1.2).clamp(0.0, 1.0)
            };
            push(sku, sum / (sum + 0.5), price_fit);
        }
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(limit);
        all
    }
}
