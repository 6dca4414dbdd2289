//! Loading cost: a 1M-product catalog with its complement graph, from a
//! snapshot and from scratch.
//!
//! * `load/1M/snapshot`: `EngineState::from_bytes` on a snapshot held in
//!   memory (header, XXH64 checksum, decode of the flat arrays,
//!   validation), then `EngineState::to_engine`: what a server does on
//!   start-up or reload, minus the file read. The issue's 2 s target is
//!   about this figure.
//! * `load/1M/catalog_builder`: `CatalogBuilder::add` for 1M owned
//!   `Product`s, then `build` (SKU sort, string arenas, interning, category
//!   and family lists), dropping the builder. The clone of the input
//!   products is setup, not timed.
//! * `load/1M/graph_from_edges`: `ComplementGraph::from_edges` over the
//!   ~19M `(ProductId, ProductId, f32)` triples (validation, sort, CSR).
//! * `load/1M/engine`: both of the above plus category rules and
//!   `Engine::standard` (which validates the graph): a cold start from
//!   in-memory products and edges, with no snapshot.
//! * `load/100k/json`: `cartwise::catalog_json::from_json_str` on the JSON
//!   text of the 100k workload (products, ~1.9M complement links, category
//!   rules), as written by `catalog_json::to_json_string`. JSON is the
//!   hand-editable format, not the fast one; at 1M (about 2.3 GB of text)
//!   each sample would take about ten times as long.
//!
//! The data: `common::Workload` with the shared seed (see
//! `benches/common/mod.rs`). The first 1M bench also prints the heap held
//! per product (`InMemoryCatalog::heap_bytes`) and per edge
//! (`ComplementGraph::heap_bytes`). Samples are few and long, so criterion's
//! minimum of 10 samples is used.
//!
//! The command:
//!
//! ```sh
//! cargo bench --bench load -- --warm-up-time 1 --measurement-time 20
//! ```

mod common;

use std::hint::black_box;
use std::sync::OnceLock;

use cartwise::{
    catalog_json, CatalogBuilder, ComplementGraph, Engine, EngineState, Product, Rules,
};
use common::{Workload, SEED};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

fn build_catalog(products: Vec<Product>) -> cartwise::InMemoryCatalog {
    let mut b = CatalogBuilder::new();
    for p in products {
        b.add(p).expect("generated products are valid");
    }
    b.build().expect("generated catalog builds")
}

/// The 1M workload, generated on first use (so a filtered run skips it).
fn workload_1m() -> &'static Workload {
    static W: OnceLock<Workload> = OnceLock::new();
    W.get_or_init(|| {
        let w = Workload::generate(1_000_000, SEED);
        report_memory(&w);
        w
    })
}

/// The 1M workload's engine state as snapshot bytes, built on first use.
fn snapshot_1m() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let w = workload_1m();
        let catalog = w.catalog();
        let rules = w.rules(&catalog);
        let state = EngineState::new(catalog, w.graph(), rules).expect("generated state is valid");
        let bytes = state.to_bytes().expect("state encodes");
        eprintln!(
            "load/1M/snapshot: {:.1} MB snapshot",
            bytes.len() as f64 / 1e6
        );
        bytes
    })
}

/// Prints the heap held per product and per edge, for BENCHMARKS.md.
fn report_memory(w: &Workload) {
    let catalog = w.catalog();
    let graph = w.graph();
    let (c, g) = (catalog.heap_bytes(), graph.heap_bytes());
    let strings: usize = w.products.iter().map(|p| p.sku.len() + p.name.len()).sum();
    eprintln!(
        "memory, {} products, {} edges: catalog {:.1} MB = {:.1} bytes/product \
         (of which {:.1} bytes/product SKU and name text); \
         graph {:.1} MB = {:.2} bytes/edge, offsets included",
        w.n,
        graph.edge_count(),
        c as f64 / 1e6,
        c as f64 / w.n as f64,
        strings as f64 / w.n as f64,
        g as f64 / 1e6,
        g as f64 / graph.edge_count() as f64,
    );
}

fn load_1m(c: &mut Criterion) {
    let n = 1_000_000;
    let mut group = c.benchmark_group("load/1M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("snapshot", n), |b| {
        let bytes = snapshot_1m();
        b.iter(|| {
            let state = EngineState::from_bytes(black_box(bytes)).expect("snapshot loads");
            state.to_engine().expect("snapshot state builds an engine")
        })
    });
    group.bench_function(BenchmarkId::new("catalog_builder", n), |b| {
        let w = workload_1m();
        b.iter_batched(
            || w.products.clone(),
            build_catalog,
            BatchSize::PerIteration,
        )
    });
    group.bench_function(BenchmarkId::new("graph_from_edges", n), |b| {
        let w = workload_1m();
        b.iter(|| {
            ComplementGraph::from_edges(n, black_box(&w.edges).iter().copied())
                .expect("generated edges are valid")
        })
    });
    group.bench_function(BenchmarkId::new("engine", n), |b| {
        let w = workload_1m();
        b.iter_batched(
            || w.products.clone(),
            |products| {
                let catalog = build_catalog(products);
                let graph = ComplementGraph::from_edges(n, w.edges.iter().copied())
                    .expect("generated edges are valid");
                let rules = w.rules(&catalog);
                Engine::standard(catalog, graph, rules).expect("generated engine builds")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The JSON text of the 100k workload, generated on first use.
fn json_100k() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let w = Workload::generate(100_000, SEED);
        let catalog = w.catalog();
        let text = catalog_json::to_json_string(
            &catalog,
            &w.graph(),
            &w.rules(&catalog),
            &Rules::default(),
        );
        eprintln!("load/100k/json: {} MB of JSON", text.len() / 1_000_000);
        text
    })
}

fn load_json(c: &mut Criterion) {
    let n = 100_000;
    let mut group = c.benchmark_group("load/100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("json", n), |b| {
        let text = json_100k();
        b.iter(|| catalog_json::from_json_str(black_box(text)).expect("generated JSON loads"))
    });
    group.finish();
}

criterion_group!(benches, load_1m, load_json);
criterion_main!(benches);
