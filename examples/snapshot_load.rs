//! How long a large snapshot takes to load.
//!
//! Generates a synthetic shop (default: 1,000,000 products in 200
//! categories, a third of them in three-tier families, 20 complement edges
//! per product, so 20M edges), saves it as a snapshot in the temp
//! directory, then times, each the best of `--runs` runs:
//!
//! * `load_file` (read, checksum, decode, validate) and `to_engine`;
//! * the checksum alone over the payload;
//! * the alternative design: the catalog stored as owned `Product`s and
//!   rebuilt through `CatalogBuilder` on load (what serialising
//!   `to_products()` would cost), against decoding the flat arrays.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example snapshot_load -- [--products N] [--degree D] [--runs R]
//! ```

use std::time::{Duration, Instant};

use cartwise::snapshot;
use cartwise::{
    CatalogBuilder, CategoryRules, ComplementGraph, EngineState, InMemoryCatalog, Money, Product,
    ProductId,
};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn main() -> cartwise::Result<()> {
    let n = arg("--products", 1_000_000);
    let degree = arg("--degree", 20);
    let runs = arg("--runs", 3);
    let mut rng = Rng(42);

    let t = Instant::now();
    let products: Vec<Product> = (0..n)
        .map(|i| {
            let mut p = Product::new(
                format!("SKU-{i:08}"),
                format!("Product number {i}"),
                Money(100 + rng.next() % 100_000),
                format!("category-{}", i % 200),
            )
            .with_popularity((rng.next() % 10_000) as u32)
            .with_features((0..rng.next() % 4).map(|f| format!("feature-{}", (i as u64 + f) % 50)));
            if i % 3 == 0 {
                p = p.with_family(format!("family-{}", i / 9), (i / 3 % 3) as u32 + 1);
            }
            if i % 5 == 0 {
                p = p.with_stock((rng.next() % 20) as u32);
            }
            if i % 2 == 0 {
                p = p.with_cost(Money(50));
            }
            p
        })
        .collect();
    let catalog = InMemoryCatalog::from_products(products)?;
    let mut edges = Vec::with_capacity(n * degree);
    for from in 0..n {
        for _ in 0..degree {
            let to = (rng.next() % n as u64) as usize;
            if to != from {
                edges.push((
                    ProductId::from_index(from),
                    ProductId::from_index(to),
                    (rng.next() % 1000) as f32 / 1000.0,
                ));
            }
        }
    }
    let graph = ComplementGraph::from_edges(n, edges)?;
    let names: Vec<String> = (0..200).map(|c| format!("category-{c}")).collect();
    let rules = CategoryRules::from_names(
        &catalog,
        (0..200).map(|c| (names[c].as_str(), names[(c + 1) % 200].as_str(), 0.3)),
    )?;
    let state = EngineState::new(catalog, graph, rules)?;
    println!(
        "generated {n} products, {} edges in {:.2?}",
        state.graph.edge_count(),
        t.elapsed()
    );

    let path = std::env::temp_dir().join(format!("cartwise-load-{}.snap", std::process::id()));
    let (save, ()) = best(1, || state.save_file(&path).expect("save"));
    let size = std::fs::metadata(&path)
        .map_err(|e| cartwise::Error::io(&path, e))?
        .len();
    println!("saved {:.1} MB in {save:.2?}", size as f64 / 1e6);

    let (load, loaded) = best(runs, || EngineState::load_file(&path).expect("load"));
    let (engine, _) = best(runs, || loaded.to_engine().expect("engine"));
    assert_eq!(loaded, state);
    let bytes = std::fs::read(&path).map_err(|e| cartwise::Error::io(&path, e))?;
    let (read, _) = best(runs, || std::fs::read(&path).expect("read").len());
    let (sum, _) = best(runs, || snapshot::checksum(&bytes[snapshot::HEADER_LEN..]));
    println!("load_file (read + checksum + decode + validate): {load:.2?}");
    println!("  of which reading the file: {read:.2?}, checksum: {sum:.2?}");
    println!("to_engine (revalidates the graph): {engine:.2?}");
    println!("load_file + to_engine: {:.2?}", load + engine);

    // The alternative: products stored as owned `Product`s and rebuilt.
    // (`Product`'s own serde form skips empty fields, which a
    // non-self-describing format cannot read back, hence the tuple.)
    type Row = (
        String,
        String,
        u64,
        String,
        Option<String>,
        Option<u32>,
        Vec<String>,
        Option<u32>,
        Option<u64>,
        u32,
    );
    use bincode::Options;
    let opts = bincode::options().with_fixint_encoding();
    let rows: Vec<Row> = state
        .catalog
        .to_products()
        .into_iter()
        .map(|p| {
            (
                p.sku,
                p.name,
                p.price.0,
                p.category,
                p.family,
                p.tier,
                p.features,
                p.stock,
                p.cost.map(|c| c.0),
                p.popularity,
            )
        })
        .collect();
    let product_bytes = opts.serialize(&rows).expect("encode products");
    let (rebuild, _) = best(runs, || {
        let rows: Vec<Row> = opts.deserialize(&product_bytes).expect("decode products");
        let mut b = CatalogBuilder::new();
        for r in rows {
            let mut p = Product::new(r.0, r.1, Money(r.2), r.3);
            p.family = r.4;
            p.tier = r.5;
            p.features = r.6;
            p.stock = r.7;
            p.cost = r.8.map(Money);
            p.popularity = r.9;
            b.add(p).expect("add");
        }
        b.build().expect("build")
    });
    let mut only_catalog = state.clone();
    only_catalog.graph = std::sync::Arc::new(ComplementGraph::empty(n));
    only_catalog.category_rules = std::sync::Arc::new(CategoryRules::default());
    let catalog_bytes = only_catalog.to_bytes()?;
    let (raw, _) = best(runs, || {
        EngineState::from_bytes(&catalog_bytes).expect("catalog")
    });
    println!(
        "catalog only: flat arrays {raw:.2?} ({:.1} MB) vs Products + CatalogBuilder {rebuild:.2?} ({:.1} MB)",
        catalog_bytes.len() as f64 / 1e6,
        product_bytes.len() as f64 / 1e6
    );
    let _ = std::fs::remove_file(&path);
    Ok(())
}
