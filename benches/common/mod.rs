//! A seeded, deterministic synthetic workload for the benches and the
//! allocation test: catalogs, complement graphs, category rules and carts.
//!
//! Shared by `benches/recommend.rs`, `benches/load.rs`, `benches/mine.rs` (its
//! order logs) and (through
//! `#[path]`) `tests/alloc.rs`; each uses part of it, hence the
//! `allow(dead_code)` below.
//!
//! # The workload
//!
//! [`Workload::generate`]`(n, seed)` builds, for `n` products:
//!
//! * **SKUs** `SKU-0000000` .. `SKU-{n-1}` (zero-padded, so SKU byte order is
//!   generation order and product id `i` is the `i`-th generated product;
//!   edges can therefore be produced directly as id triples).
//! * **Popularity**: a random permutation assigns each product a rank `r`;
//!   its popularity is `ceil(1e6 / (r + 1))` (Zipf, exponent 1). The
//!   permutation keeps popular products scattered over the id space, as in a
//!   real catalog, instead of clustering them in a few cache lines.
//! * **Categories**: `clamp(50 * (n / 1000)^(1/3), 50, 500)`, so 50 at 1k,
//!   232 at 100k, 500 at 1M. Half the products pick a category uniformly,
//!   half by a Zipf draw, so category sizes are skewed (the largest category
//!   of a 1M catalog holds about 6% of it).
//! * **Families**: at each position, with probability 0.1 a family of 3 to 5
//!   consecutive products starts (about 30% of products are in a family).
//!   Members share a category; tier `t + 1` costs 20-40% more than tier `t`;
//!   features are nested (each tier keeps the previous tier's features and
//!   adds one or two).
//! * **Prices** in cents: a per-category base, log-uniform in 5.00..1000.00,
//!   times a log-uniform factor in 0.5..2. **Stock**: tracked for 80% of
//!   products, 5% of those at 0 (never suggested). **Cost**: known for 70%,
//!   40-80% of the price. Names are about 30 bytes, SKUs 11.
//! * **Complement graph**: out-degree drawn from a Pareto law (minimum 10,
//!   exponent 2, capped at [`MAX_DEGREE`]), mean about 20 and heavy-tailed;
//!   independent of popularity, so carts (drawn by popularity) see the same
//!   degree distribution as the catalog. Each target is, with probability
//!   0.7, drawn by popularity (Zipf) inside one of the source category's 3
//!   complementary categories, else by popularity over the whole catalog.
//!   Targets are distinct per source and never the source; weights are
//!   uniform in 0.05..1.
//! * **Category rules**: each category has rules to 2 of its complementary
//!   categories, weights 0.3..0.7.
//! * **Carts** ([`Workload::carts`]): 1, 5 or 20 distinct lines drawn by
//!   popularity (Zipf over the popularity ranks), quantity 1 (2 with
//!   probability 0.1).
//!
//! Everything comes from [`SplitMix64`], a 64-bit generator small enough to
//! write here, so the workload needs no dependency and is the same on every
//! machine for a given `(n, seed)`. Generating 1M products and their ~20M
//! edges takes a few seconds.
#![allow(dead_code)]

use cartwise::{
    CartLine, CatalogBuilder, CategoryRules, ComplementGraph, Engine, InMemoryCatalog, Money,
    OrderLog, Product, ProductId,
};

/// The seed every bench and test uses, so their figures describe one workload.
pub const SEED: u64 = 0x00CA_47F1_5E00_0001;

/// The largest out-degree the generator draws.
pub const MAX_DEGREE: usize = 500;

/// Probability that an edge's target comes from a complementary category.
const COMPLEMENTARY_SHARE: f64 = 0.7;

/// Complementary categories per category.
const COMPLEMENTS_PER_CATEGORY: usize = 3;

/// Features each category can draw from.
const FEATURES_PER_CATEGORY: u64 = 12;

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, an add and
/// three xor-multiply mixing steps per output. Passes BigCrush; plenty for
/// a workload.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32
    /// for the sizes used here). `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in `[lo, hi)`.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }

    /// A Zipf-like rank in `0..n`: the continuous inverse of a density
    /// proportional to `1 / (r + 1)`, so rank 0 is the most likely and the
    /// top 1% of ranks draws about 2/3 of the mass at `n = 1M`. O(1), no table.
    pub fn zipf(&mut self, n: usize) -> usize {
        let r = ((n as f64 + 1.0).powf(self.unit()) - 1.0) as usize;
        r.min(n - 1)
    }

    /// A Pareto draw with minimum `min` and exponent `alpha`, capped.
    pub fn pareto(&mut self, min: f64, alpha: f64, cap: f64) -> f64 {
        (min * (1.0 - self.unit()).powf(-1.0 / alpha)).min(cap)
    }
}

/// A generated catalog, graph and rules; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Workload {
    /// Number of products.
    pub n: usize,
    /// The products, in id order (SKU order is generation order).
    pub products: Vec<Product>,
    /// Complement edges `(from, to, weight)`, sorted by source, distinct.
    pub edges: Vec<(ProductId, ProductId, f32)>,
    /// Category rules `(from, to, weight)` by category name.
    pub category_rules: Vec<(String, String, f64)>,
    /// `by_rank[r]` is the product of popularity rank `r` (0 = most popular).
    pub by_rank: Vec<u32>,
    seed: u64,
}

/// The category count for a catalog of `n` products.
pub fn category_count(n: usize) -> usize {
    (50.0 * (n as f64 / 1000.0).cbrt())
        .round()
        .clamp(50.0, 500.0) as usize
}

fn category_name(c: usize) -> String {
    format!("category-{c:03}")
}

const BRANDS: [&str; 8] = [
    "Acme", "Globex", "Initech", "Umbrella", "Soylent", "Hooli", "Vandelay", "Stark",
];

impl Workload {
    /// Generates a workload of `n` products (`n < 10^7`, the SKU width).
    pub fn generate(n: usize, seed: u64) -> Self {
        assert!(
            (10..10_000_000).contains(&n),
            "workload size {n} out of range"
        );
        let mut rng = SplitMix64::new(seed);
        let categories = category_count(n);
        let category_names: Vec<String> = (0..categories).map(category_name).collect();

        // Popularity: a random permutation of ranks (Fisher-Yates).
        let mut by_rank: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            by_rank.swap(i, rng.below(i + 1));
        }
        let mut rank_of = vec![0u32; n];
        for (r, &p) in by_rank.iter().enumerate() {
            rank_of[p as usize] = r as u32;
        }

        let base_price: Vec<f64> = (0..categories)
            .map(|_| rng.log_uniform(500.0, 100_000.0))
            .collect();
        let mut category = vec![0u32; n];
        let mut products = Vec::with_capacity(n);
        let mut family_count = 0usize;
        let mut i = 0usize;
        while i < n {
            let c = if rng.chance(0.5) {
                rng.below(categories)
            } else {
                rng.zipf(categories)
            };
            let size = if rng.chance(0.1) { 3 + rng.below(3) } else { 1 };
            let size = size.min(n - i);
            let mut price = base_price[c] * rng.log_uniform(0.5, 2.0);
            let mut features: Vec<String> = Vec::new();
            let family = (size > 1).then(|| {
                family_count += 1;
                format!("family-{family_count:07}")
            });
            for tier in 1..=size {
                let id = i + tier - 1;
                if tier > 1 {
                    price *= rng.uniform(1.2, 1.4);
                }
                // Nested features: a tier keeps its predecessor's.
                if family.is_none() {
                    features.clear();
                    for _ in 0..rng.below(4) {
                        features.push(feature_name(c, rng.below(FEATURES_PER_CATEGORY as usize)));
                    }
                } else {
                    for _ in 0..1 + rng.below(2) {
                        features.push(feature_name(c, rng.below(FEATURES_PER_CATEGORY as usize)));
                    }
                }
                let cents = price.round().max(1.0) as u64;
                let name = format!(
                    "{} {} model {id}",
                    BRANDS[rng.below(BRANDS.len())],
                    &category_names[c]
                );
                let mut p = Product::new(
                    format!("SKU-{id:07}"),
                    name,
                    Money(cents),
                    &category_names[c],
                )
                .with_features(features.iter().cloned())
                .with_popularity((1_000_000u64.div_ceil(u64::from(rank_of[id]) + 1)) as u32);
                if let Some(f) = &family {
                    p = p.with_family(f.clone(), tier as u32);
                }
                if rng.chance(0.8) {
                    let stock = if rng.chance(0.05) {
                        0
                    } else {
                        1 + rng.below(200) as u32
                    };
                    p = p.with_stock(stock);
                }
                if rng.chance(0.7) {
                    p = p.with_cost(Money((cents as f64 * rng.uniform(0.4, 0.8)) as u64));
                }
                category[id] = c as u32;
                products.push(p);
            }
            i += size;
        }

        // Each category's products, most popular first.
        let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); categories];
        for &p in &by_rank {
            by_category[category[p as usize] as usize].push(p);
        }
        // Complementary categories: distinct, not the category itself, and
        // non-empty (a 1k catalog may leave a category without products).
        let non_empty: Vec<usize> = (0..categories)
            .filter(|&c| !by_category[c].is_empty())
            .collect();
        let complements: Vec<Vec<usize>> = (0..categories)
            .map(|c| {
                let mut out = Vec::with_capacity(COMPLEMENTS_PER_CATEGORY);
                while out.len() < COMPLEMENTS_PER_CATEGORY.min(non_empty.len() - 1) {
                    let d = non_empty[rng.below(non_empty.len())];
                    if d != c && !out.contains(&d) {
                        out.push(d);
                    }
                }
                out
            })
            .collect();
        let mut category_rules = Vec::new();
        for (c, comps) in complements.iter().enumerate() {
            for &d in comps.iter().take(2) {
                category_rules.push((
                    category_names[c].clone(),
                    category_names[d].clone(),
                    rng.uniform(0.3, 0.7),
                ));
            }
        }

        // Edges: heavy-tailed degree, popular and complementary targets.
        let mut edges = Vec::with_capacity(n * 20);
        let mut targets: Vec<u32> = Vec::with_capacity(MAX_DEGREE);
        for from in 0..n {
            let degree = rng.pareto(10.0, 2.0, MAX_DEGREE as f64) as usize;
            let comps = &complements[category[from] as usize];
            targets.clear();
            let mut attempts = 0;
            while targets.len() < degree && attempts < 4 * degree {
                attempts += 1;
                let to = if !comps.is_empty() && rng.chance(COMPLEMENTARY_SHARE) {
                    let list = &by_category[comps[rng.below(comps.len())]];
                    list[rng.zipf(list.len())]
                } else {
                    by_rank[rng.zipf(n)]
                };
                if to as usize != from && !targets.contains(&to) {
                    targets.push(to);
                }
            }
            targets.sort_unstable();
            for &to in &targets {
                edges.push((
                    ProductId(from as u32),
                    ProductId(to),
                    rng.uniform(0.05, 1.0) as f32,
                ));
            }
        }

        Workload {
            n,
            products,
            edges,
            category_rules,
            by_rank,
            seed,
        }
    }

    /// Builds the catalog through [`CatalogBuilder`].
    pub fn catalog(&self) -> InMemoryCatalog {
        let mut b = CatalogBuilder::new();
        for p in &self.products {
            b.add(p.clone()).expect("generated products are valid");
        }
        b.build().expect("generated catalog builds")
    }

    /// Builds the complement graph with [`ComplementGraph::from_edges`].
    pub fn graph(&self) -> ComplementGraph {
        ComplementGraph::from_edges(self.n, self.edges.iter().copied())
            .expect("generated edges are valid")
    }

    /// Resolves the category rules against `catalog`.
    pub fn rules(&self, catalog: &InMemoryCatalog) -> CategoryRules {
        CategoryRules::from_names(
            catalog,
            self.category_rules
                .iter()
                .map(|(f, t, w)| (f.as_str(), t.as_str(), *w)),
        )
        .expect("generated rules are valid")
    }

    /// The standard engine (cross-sell over the graph and rules, upsell,
    /// default scorer).
    pub fn engine(&self) -> Engine {
        let catalog = self.catalog();
        let rules = self.rules(&catalog);
        Engine::standard(catalog, self.graph(), rules).expect("generated engine builds")
    }

    /// `count` carts of `lines` distinct lines each, drawn by popularity.
    /// Deterministic for a given workload, `lines` and `count`.
    pub fn carts(&self, lines: usize, count: usize) -> Vec<Vec<CartLine>> {
        let mut rng = SplitMix64::new(self.seed ^ (lines as u64).wrapping_mul(0x9E37_79B9));
        (0..count)
            .map(|_| {
                let mut cart: Vec<CartLine> = Vec::with_capacity(lines);
                while cart.len() < lines.min(self.n) {
                    let product = ProductId(self.by_rank[rng.zipf(self.n)]);
                    if cart.iter().all(|l| l.product != product) {
                        let quantity = if rng.chance(0.1) { 2 } else { 1 };
                        cart.push(CartLine { product, quantity });
                    }
                }
                cart
            })
            .collect()
    }

    /// Average out-degree of the generated graph.
    pub fn mean_degree(&self) -> f64 {
        self.edges.len() as f64 / self.n as f64
    }
}

fn feature_name(category: usize, k: usize) -> String {
    format!("c{category}-feature-{k}")
}

/// Products of the mine bench's order logs.
pub const MINE_PRODUCTS: usize = 100_000;

/// The order log of `benches/mine.rs` (and `examples/mine_phases.rs`):
/// `orders` orders of 5-15 lines (mean 10) over [`MINE_PRODUCTS`]
/// products. Each order picks a "theme" product by Zipf popularity and fills
/// its lines half from the theme's neighbourhood (ids within ±50 of it, so
/// co-purchase structure exists) and half by popularity.
pub fn mine_order_log(orders: usize, seed: u64) -> OrderLog {
    let mut rng = SplitMix64::new(seed);
    let mut rows: Vec<(String, String)> = Vec::with_capacity(orders * 10);
    for o in 0..orders {
        let theme = rng.zipf(MINE_PRODUCTS);
        let lines = 5 + rng.below(11); // 5..=15, mean 10
        for _ in 0..lines {
            let item = if rng.chance(0.5) {
                (theme + rng.below(101))
                    .saturating_sub(50)
                    .min(MINE_PRODUCTS - 1)
            } else {
                rng.zipf(MINE_PRODUCTS)
            };
            rows.push((format!("o{o}"), format!("p{item}")));
        }
    }
    OrderLog::from_rows(rows).expect("a valid synthetic log")
}
