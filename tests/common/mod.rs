//! Shared proptest generators and invariant checkers for the integration
//! tests.
//!
//! The generators build small random shops ([`World`]): 3 to 40 products in
//! a few categories, some families of 2 to 4 tiers whose prices step up (or,
//! now and then, down) from one tier to the next, features from a small
//! pool, stock that is tracked, untracked or zero, prices of zero and prices
//! near `u64::MAX / 4`, and costs above or below the price. Over them:
//! complement edges (valid: known SKUs, no self-edges, finite weights >= 0,
//! repeats allowed), category rules, merchant [`Rules`], carts of 1 to 6
//! lines (a product may repeat) and requests.
//!
//! Everything is kept by SKU and index, not by [`ProductId`], so a world
//! can be built again in another insertion order.
//!
//! [`assert_suggestions_valid`] is the one invariant checker: every property
//! and example test passes its answers through it.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use cartwise::{
    Cart, CartLine, Catalog, CategoryRules, ComplementGraph, CrossSell, Engine, FeatureRule,
    InMemoryCatalog, Kind, Kinds, Money, Product, ProductId, Reason, Request, Rules, Scorer,
    Suggestion, Upsell, UpsellConfig, Via,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

pub mod state;

/// Category names the generators draw from.
pub const CATEGORY_POOL: [&str; 5] = ["phones", "cases", "cables", "audio", "bags"];
/// Feature names the generators draw from.
pub const FEATURE_POOL: [&str; 5] = ["5g", "oled", "usb-c", "nfc", "gps"];
/// SKU prefixes: their byte order (`A-` < `Q-` < `Z-` < `b-` < `m-`)
/// scatters ids relative to generation order.
const SKU_PREFIXES: [&str; 5] = ["m-", "A-", "Z-", "b-", "Q-"];
/// The "large" prices: close to `u64::MAX / 4`, where `price * percent`
/// no longer fits in a `u64`.
pub const LARGE_PRICE: u64 = u64::MAX / 4;

/// A random shop: products, edges and rules, by SKU.
#[derive(Clone, Debug)]
pub struct World {
    /// The products in generation order.
    pub products: Vec<Product>,
    /// Complement edges `(from, to, weight)`; a pair may repeat.
    pub edges: Vec<(String, String, f64)>,
    /// Category rules `(from, to, weight)`; a pair may repeat.
    pub category_rules: Vec<(String, String, f64)>,
    /// Merchant rules.
    pub rules: Rules,
}

impl World {
    /// The distinct categories in use, in first-seen order.
    pub fn categories(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for p in &self.products {
            if !seen.contains(&p.category) {
                seen.push(p.category.clone());
            }
        }
        seen
    }

    /// The product with a SKU.
    pub fn product(&self, sku: &str) -> &Product {
        self.products
            .iter()
            .find(|p| p.sku == sku)
            .expect("SKU of the world")
    }
}

/// One generated product before family post-processing.
#[derive(Clone, Debug)]
struct Spec {
    prefix: &'static str,
    category: usize,
    price: u64,
    stock: Option<u32>,
    cost_percent: Option<u32>,
    features: Vec<usize>,
    keeps_features: bool,
    popularity: u32,
}

fn arb_price() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        8 => 1u64..200_000,
        1 => (LARGE_PRICE - 1_000)..=LARGE_PRICE,
    ]
}

fn arb_stock() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0u32)),
        2 => (1u32..5).prop_map(Some),
    ]
}

prop_compose! {
    fn arb_spec(categories: usize)(
        prefix in select(SKU_PREFIXES.to_vec()),
        category in 0..categories,
        price in arb_price(),
        stock in arb_stock(),
        cost_percent in proptest::option::of(0u32..=150),
        features in proptest::collection::vec(0..FEATURE_POOL.len(), 0..=3),
        keeps_features in proptest::bool::weighted(0.7),
        popularity in prop_oneof![2 => 0u32..3, 1 => 0u32..1_000],
    ) -> Spec {
        Spec { prefix, category, price, stock, cost_percent, features, keeps_features, popularity }
    }
}

/// A family to carve out of the product list: its size, first tier, the
/// gaps between tiers and the price step (percent of the tier below) of
/// each member.
#[derive(Clone, Debug)]
struct FamilySpec {
    size: usize,
    first_tier: u32,
    tier_gaps: Vec<u32>,
    price_steps: Vec<u32>,
}

prop_compose! {
    fn arb_family()(
        size in 2usize..=4,
        first_tier in 0u32..=2,
        tier_gaps in proptest::collection::vec(1u32..=3, 3),
        price_steps in proptest::collection::vec(
            prop_oneof![4 => 100u32..=160, 1 => 60u32..=220],
            3,
        ),
    ) -> FamilySpec {
        FamilySpec { size, first_tier, tier_gaps, price_steps }
    }
}

prop_compose! {
    /// 3 to 40 valid products in 1 to 5 categories, with up to three
    /// families of 2 to 4 tiers.
    pub fn arb_products()(categories in 1usize..=CATEGORY_POOL.len())(
        specs in proptest::collection::vec(arb_spec(categories), 3..=40),
        families in proptest::collection::vec(arb_family(), 0..=3),
    ) -> Vec<Product> {
        let mut products: Vec<Product> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut features: Vec<String> =
                    s.features.iter().map(|&f| FEATURE_POOL[f].to_owned()).collect();
                features.sort();
                features.dedup();
                let mut p = Product::new(
                    format!("{}{i:02}", s.prefix),
                    format!("Product {i}"),
                    Money(s.price),
                    CATEGORY_POOL[s.category],
                );
                p.features = features;
                p.stock = s.stock;
                p.cost = s.cost_percent.map(|c| Money(scale(s.price, c)));
                p.popularity = s.popularity;
                p
            })
            .collect();
        // Carve families out of consecutive products while there are enough.
        let mut next = 0;
        for (f, fam) in families.iter().enumerate() {
            if next + fam.size > products.len() {
                break;
            }
            let mut tier = fam.first_tier;
            for k in 0..fam.size {
                let i = next + k;
                if k > 0 {
                    tier += fam.tier_gaps[k - 1];
                    let below = products[i - 1].price.0;
                    products[i].price = Money(scale(below, fam.price_steps[k - 1]));
                    if specs[i].keeps_features {
                        let mut fs = products[i - 1].features.clone();
                        fs.extend(products[i].features.iter().cloned());
                        fs.sort();
                        fs.dedup();
                        products[i].features = fs;
                    }
                }
                products[i].family = Some(format!("Family {f}"));
                products[i].tier = Some(tier);
            }
            next += fam.size;
        }
        products
    }
}

/// `price * percent / 100` in 128 bits, saturating at `u64::MAX`.
pub fn scale(price: u64, percent: u32) -> u64 {
    let v = u128::from(price) * u128::from(percent) / 100;
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn arb_weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => select(vec![0.0, 0.25, 0.5, 1.0]),
        2 => 0.0f64..2.0,
    ]
}

/// An index pair `(i, j)` with `i != j` over `n >= 2` items.
fn arb_pair(n: usize) -> impl Strategy<Value = (usize, usize)> {
    (0..n, 1..n).prop_map(move |(i, k)| (i, (i + k) % n))
}

prop_compose! {
    /// Merchant rules over the world's SKUs and categories; pins are drawn
    /// from `likely` (edge targets, when there are any) so that they are
    /// often candidates.
    pub fn arb_rules(skus: Vec<String>, likely: Vec<String>, categories: Vec<String>)(
        exclude in proptest::collection::vec(select(skus.clone()), 0..=1),
        exclude_category in proptest::option::weighted(0.15, select(categories)),
        max_per_category in proptest::option::weighted(0.3, 1u32..=3),
        boosts in proptest::collection::vec(
            (select(skus.clone()), select(vec![0.0f32, 0.5, 1.0, 2.0])),
            0..=2,
        ),
        pins in proptest::collection::vec(select(likely), 0..=2),
    ) -> Rules {
        let mut rules = Rules::new();
        for s in exclude {
            rules = rules.exclude_sku(s);
        }
        if let Some(c) = exclude_category {
            rules = rules.exclude_category(c);
        }
        if let Some(m) = max_per_category {
            rules = rules.max_per_category(m);
        }
        for (s, f) in boosts {
            rules = rules.boost(s, f);
        }
        for s in pins {
            rules = rules.pin(s);
        }
        rules
    }
}

prop_compose! {
    /// A world with edges and category rules, and no merchant rules.
    pub fn arb_plain_world()(products in arb_products())(
        edges in proptest::collection::vec(
            (arb_pair(products.len()), arb_weight()),
            0..=3 * products.len(),
        ),
        rule_picks in proptest::collection::vec((arb_pair(CATEGORY_POOL.len()), arb_weight()), 0..=4),
        products in Just(products),
    ) -> World {
        let sku = |i: usize| products[i].sku.clone();
        let edges = edges.into_iter().map(|((i, j), w)| (sku(i), sku(j), w)).collect();
        let mut world = World { products, edges, category_rules: Vec::new(), rules: Rules::new() };
        let categories = world.categories();
        if categories.len() >= 2 {
            let c = categories.len();
            world.category_rules = rule_picks
                .into_iter()
                .map(|((i, j), w)| (i % c, j % c, w))
                .filter(|(i, j, _)| i != j)
                .map(|(i, j, w)| (categories[i].clone(), categories[j].clone(), w))
                .collect();
        }
        world
    }
}

prop_compose! {
    /// A world whose merchant rules are random in about half the cases.
    pub fn arb_world()(world in arb_plain_world())(
        rules in proptest::option::weighted(
            0.5,
            arb_rules(
                world.products.iter().map(|p| p.sku.clone()).collect(),
                if world.edges.is_empty() {
                    world.products.iter().map(|p| p.sku.clone()).collect()
                } else {
                    world.edges.iter().map(|e| e.1.clone()).collect()
                },
                world.categories(),
            ),
        ),
        world in Just(world),
    ) -> World {
        World { rules: rules.unwrap_or_default(), ..world }
    }
}

prop_compose! {
    /// 1 to 6 cart lines `(product index, quantity)`; products may repeat.
    pub fn arb_cart(products: usize)(
        // Families come first in the product list: lean towards them so
        // that upsells are common.
        lines in proptest::collection::vec(
            (prop_oneof![2 => 0..products, 1 => 0..products.min(12)], 1u32..=3),
            1..=6,
        ),
    ) -> Vec<(usize, u32)> {
        lines
    }
}

fn arb_kinds() -> impl Strategy<Value = Kinds> {
    prop_oneof![
        3 => Just(Kinds::Both),
        1 => Just(Kinds::CrossSell),
        1 => Just(Kinds::Upsell),
    ]
}

prop_compose! {
    /// A request over the world: limit 1 to 10, kinds, an optional budget,
    /// SKU and category exclusions (unknown names included), an optional
    /// per-category cap.
    pub fn arb_request(skus: Vec<String>, categories: Vec<String>)(
        limit in 1usize..=10,
        kinds in arb_kinds(),
        budget in proptest::option::weighted(
            0.3,
            prop_oneof![3 => 0u64..200_000, 1 => Just(LARGE_PRICE)],
        ),
        exclude in proptest::collection::vec(
            prop_oneof![4 => select(skus), 1 => Just("NOT-A-SKU".to_owned())],
            0..=2,
        ),
        exclude_category in proptest::option::weighted(
            0.15,
            prop_oneof![3 => select(categories), 1 => Just("no-such-category".to_owned())],
        ),
        max_per_category in proptest::option::weighted(0.2, 1u32..=3),
    ) -> Request {
        let mut r = Request::new().limit(limit).kinds(kinds);
        if let Some(b) = budget {
            r = r.budget(Money(b));
        }
        for s in exclude {
            r = r.exclude_sku(s);
        }
        if let Some(c) = exclude_category {
            r = r.exclude_category(c);
        }
        if let Some(m) = max_per_category {
            r = r.max_per_category(m);
        }
        r
    }
}

prop_compose! {
    /// Upsell settings: the price step cap (mostly the default 50%), the
    /// feature rule, and how many tiers up to look.
    pub fn arb_upsell_config()(
        percent in prop_oneof![2 => Just(50u32), 1 => 0u32..=200],
        features in prop_oneof![Just(FeatureRule::Any), Just(FeatureRule::MustKeepAll)],
        tiers_up in prop_oneof![2 => Just(2u32), 1 => 1u32..=3],
    ) -> UpsellConfig {
        let mut c = UpsellConfig::default();
        c.max_price_step_percent = percent;
        c.features = features;
        c.max_tiers_up = tiers_up;
        c
    }
}

/// One generated call: a world, a cart over it, a request and upsell settings.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The shop.
    pub world: World,
    /// Cart lines as `(product index, quantity)`.
    pub cart: Vec<(usize, u32)>,
    /// The request.
    pub request: Request,
    /// The upsell settings.
    pub upsell: UpsellConfig,
}

prop_compose! {
    /// A scenario over [`arb_world`].
    pub fn arb_scenario()(world in arb_world())(
        cart in arb_cart(world.products.len()),
        request in arb_request(
            world.products.iter().map(|p| p.sku.clone()).collect(),
            world.categories(),
        ),
        upsell in arb_upsell_config(),
        world in Just(world),
    ) -> Scenario {
        Scenario { world, cart, request, upsell }
    }
}

/// Builds the world's catalog, adding products in `order` (indices into
/// `world.products`), or in generation order.
pub fn build_catalog(world: &World, order: Option<&[usize]>) -> InMemoryCatalog {
    let mut b = InMemoryCatalog::builder();
    let all: Vec<usize> = (0..world.products.len()).collect();
    for &i in order.unwrap_or(&all) {
        b.add(world.products[i].clone())
            .expect("generated product is valid");
    }
    b.build().expect("generated catalog is valid")
}

/// The complement graph and category rules of a world over its catalog,
/// adding edges in the given order (or generation order).
pub fn build_graph(
    world: &World,
    catalog: &InMemoryCatalog,
    edge_order: Option<&[usize]>,
) -> (ComplementGraph, CategoryRules) {
    let mut g = ComplementGraph::builder(catalog);
    let all: Vec<usize> = (0..world.edges.len()).collect();
    for &i in edge_order.unwrap_or(&all) {
        let (f, t, w) = &world.edges[i];
        g.add(f, t, *w).expect("generated edge is valid");
    }
    let graph = g.build().expect("graph builds");
    let rules = CategoryRules::from_names(
        catalog,
        world
            .category_rules
            .iter()
            .map(|(f, t, w)| (f.as_str(), t.as_str(), *w)),
    )
    .expect("generated category rules are valid");
    (graph, rules)
}

/// The engine under test: cross-sell, then upsell with `upsell`, ranked by
/// `scorer`, with the world's merchant rules.
pub fn build_engine<S: Scorer<InMemoryCatalog> + 'static>(
    world: &World,
    upsell: &UpsellConfig,
    scorer: S,
) -> Engine {
    build_engine_ordered(world, upsell, scorer, None, None)
}

/// As [`build_engine`], adding products and edges in the given orders.
pub fn build_engine_ordered<S: Scorer<InMemoryCatalog> + 'static>(
    world: &World,
    upsell: &UpsellConfig,
    scorer: S,
    product_order: Option<&[usize]>,
    edge_order: Option<&[usize]>,
) -> Engine {
    engine_builder(world, upsell, product_order, edge_order)
        .scorer(scorer)
        .build()
        .expect("generated engine is valid")
}

/// As [`build_engine`], with the scorer given as a shared trait object,
/// which the engine ranks through a batch and one dynamic call even for
/// [`DefaultScorer`](cartwise::DefaultScorer) (given by value, it is scored
/// inline as the candidates are filtered).
pub fn build_engine_shared(
    world: &World,
    upsell: &UpsellConfig,
    scorer: Arc<dyn Scorer<InMemoryCatalog>>,
) -> Engine {
    engine_builder(world, upsell, None, None)
        .shared_scorer(scorer)
        .build()
        .expect("generated engine is valid")
}

/// The world's engine before its scorer is chosen: cross-sell, then upsell
/// with `upsell`, and the world's merchant rules.
fn engine_builder(
    world: &World,
    upsell: &UpsellConfig,
    product_order: Option<&[usize]>,
    edge_order: Option<&[usize]>,
) -> cartwise::EngineBuilder {
    let catalog = build_catalog(world, product_order);
    let (graph, category_rules) = build_graph(world, &catalog, edge_order);
    Engine::builder(catalog)
        .strategy(CrossSell::new(Arc::new(graph), Arc::new(category_rules)))
        .strategy(Upsell::new(upsell.clone()).expect("generated upsell config is valid"))
        .rules(world.rules.clone())
}

/// The cart lines of a scenario over a built catalog.
pub fn cart_lines<C: Catalog + ?Sized>(
    catalog: &C,
    world: &World,
    cart: &[(usize, u32)],
) -> Vec<CartLine> {
    cart.iter()
        .map(|&(i, quantity)| CartLine {
            product: catalog
                .id(&world.products[i].sku)
                .expect("cart SKU is known"),
            quantity,
        })
        .collect()
}

/// The cart as the engine sees it: each product once, at its first
/// position, with the quantities summed.
pub fn merged(lines: &[CartLine]) -> Vec<CartLine> {
    let mut out: Vec<CartLine> = Vec::new();
    for l in lines {
        match out.iter_mut().find(|m| m.product == l.product) {
            Some(m) => m.quantity = m.quantity.saturating_add(l.quantity),
            None => out.push(*l),
        }
    }
    out
}

/// `price + price * percent / 100` in 128 bits: the most an upgrade of a
/// product at `price` may cost.
pub fn price_cap(price: u64, percent: u32) -> u128 {
    u128::from(price) + u128::from(price) * u128::from(percent) / 100
}

/// Checks every invariant a list of suggestions must satisfy:
///
/// * at most `limit`, no duplicates, nothing in the cart;
/// * every score finite; sorted by the rank order: pins first in pin order,
///   then score descending, ties by product id ascending;
/// * each kind wanted by the request and matching its reason;
/// * nothing out of stock, above the budget, or excluded by the request or
///   the merchant rules; the per-category cap respected;
/// * a cross-sell names a cart product; one found by a category rule is
///   not in a category the cart covers;
/// * an upsell names the merged cart line it replaces, is in that
///   product's family at a higher tier, at most `max_tiers_up` tiers up,
///   within the price cap, keeps every feature under
///   [`FeatureRule::MustKeepAll`], and its reason's price difference is
///   exact.
pub fn assert_suggestions_valid<C: Catalog + ?Sized + 'static>(
    engine: &Engine<C>,
    cart: &dyn Cart,
    request: &Request,
    suggestions: &[Suggestion],
    upsell: &UpsellConfig,
) -> Result<(), TestCaseError> {
    assert_suggestions_valid_pinned(engine, cart, request, suggestions, upsell, &[])
}

/// As [`assert_suggestions_valid`], for a graph with pinned links:
/// `link_pinned` are the products a pinned link from a cart product points
/// at; they rank after the merchant's pins and before everything else.
pub fn assert_suggestions_valid_pinned<C: Catalog + ?Sized + 'static>(
    engine: &Engine<C>,
    cart: &dyn Cart,
    request: &Request,
    suggestions: &[Suggestion],
    upsell: &UpsellConfig,
    link_pinned: &[ProductId],
) -> Result<(), TestCaseError> {
    let catalog = engine.catalog();
    let rules = engine.rules();
    let cart = merged(cart.lines());
    let in_cart = |p: ProductId| cart.iter().any(|l| l.product == p);
    let cart_categories: BTreeSet<_> = cart.iter().map(|l| catalog.category(l.product)).collect();
    let sku = |p: ProductId| catalog.sku(p).to_owned();

    prop_assert!(
        suggestions.len() <= request.limit,
        "{} suggestions for limit {}",
        suggestions.len(),
        request.limit
    );
    let distinct: BTreeSet<_> = suggestions.iter().map(|s| s.product).collect();
    prop_assert_eq!(distinct.len(), suggestions.len(), "duplicate suggestion");

    let pin_rank = |p: ProductId| {
        rules
            .pins
            .iter()
            .position(|s| s.as_str() == catalog.sku(p))
            .unwrap_or(if link_pinned.contains(&p) {
                usize::MAX - 1
            } else {
                usize::MAX
            })
    };
    for w in suggestions.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ordered = pin_rank(a.product)
            .cmp(&pin_rank(b.product))
            .then(b.score.total_cmp(&a.score))
            .then(a.product.cmp(&b.product))
            .is_lt();
        prop_assert!(
            ordered,
            "out of order: {} ({}) before {} ({})",
            sku(a.product),
            a.score,
            sku(b.product),
            b.score
        );
    }

    let cap = request.max_per_category.or(rules.max_per_category);
    let mut per_category = std::collections::BTreeMap::new();
    for s in suggestions {
        let p = s.product;
        let name = sku(p);
        prop_assert!(p.index() < catalog.len(), "id out of range");
        prop_assert!(!in_cart(p), "{} is in the cart", name);
        prop_assert!(s.score.is_finite(), "{} has score {}", name, s.score);
        prop_assert!(request.kinds.includes(s.kind), "{} is a {:?}", name, s.kind);
        prop_assert!(catalog.available(p, 1), "{} is out of stock", name);
        if let Some(b) = request.budget {
            prop_assert!(catalog.price(p) <= b, "{} is above the budget", name);
        }
        let category = catalog.category_name(catalog.category(p)).to_owned();
        prop_assert!(
            !request.exclude_skus.contains(&name),
            "{} excluded by request",
            name
        );
        prop_assert!(
            !rules.exclude_skus.contains(&name),
            "{} excluded by rules",
            name
        );
        prop_assert!(
            !request.exclude_categories.contains(&category)
                && !rules.exclude_categories.contains(&category),
            "{} is in excluded category {}",
            name,
            category
        );
        let count = per_category.entry(category.clone()).or_insert(0u32);
        *count += 1;
        if let Some(cap) = cap {
            prop_assert!(*count <= cap, "more than {} from {}", cap, category);
        }

        match s.reason {
            Reason::Complements {
                source,
                weight,
                total,
                signals,
                via,
                ..
            } => {
                prop_assert_eq!(s.kind, Kind::CrossSell, "{}: kind and reason differ", name);
                prop_assert!(
                    in_cart(source),
                    "{}: source {} not in cart",
                    name,
                    sku(source)
                );
                prop_assert!(weight.is_finite() && weight >= 0.0);
                prop_assert!(total >= weight && signals >= 1);
                if via == Via::CategoryRule {
                    prop_assert!(
                        !cart_categories.contains(&catalog.category(p)),
                        "{}: category rule into {}, which the cart covers",
                        name,
                        category
                    );
                }
            }
            Reason::Upgrade {
                replaces,
                line,
                price_delta,
                ..
            } => {
                prop_assert_eq!(s.kind, Kind::Upsell, "{}: kind and reason differ", name);
                let line = usize::from(line);
                prop_assert!(line < cart.len(), "{}: line {} out of range", name, line);
                prop_assert_eq!(cart[line].product, replaces, "{}: wrong line", name);
                let family = catalog.family(replaces);
                prop_assert!(family.is_some(), "{}: replaced product has no family", name);
                prop_assert_eq!(catalog.family(p), family, "{}: another family", name);
                let (old_tier, new_tier) = (catalog.tier(replaces), catalog.tier(p));
                prop_assert!(new_tier > old_tier, "{}: not a higher tier", name);
                let between = catalog
                    .family_members(family.expect("checked"))
                    .iter()
                    .filter(|&&m| catalog.tier(m) > old_tier && catalog.tier(m) < new_tier)
                    .count();
                prop_assert!(
                    (between as u32) < upsell.max_tiers_up,
                    "{}: {} tiers up",
                    name,
                    between + 1
                );
                let (old, new) = (catalog.price(replaces).0, catalog.price(p).0);
                prop_assert!(
                    u128::from(new) <= price_cap(old, upsell.max_price_step_percent),
                    "{}: {} is above the cap for {}",
                    name,
                    new,
                    old
                );
                // Documented as saturating at the i64 limits (prices go up
                // to u64::MAX).
                prop_assert_eq!(
                    i128::from(price_delta),
                    (i128::from(new) - i128::from(old))
                        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)),
                    "{}: price difference",
                    name
                );
                if upsell.features == FeatureRule::MustKeepAll {
                    let have: BTreeSet<_> = catalog.features(p).iter().collect();
                    prop_assert!(
                        catalog.features(replaces).iter().all(|f| have.contains(f)),
                        "{}: drops a feature of {}",
                        name,
                        sku(replaces)
                    );
                }
            }
            _ => prop_assert!(false, "unknown reason variant"),
        }
    }
    Ok(())
}
