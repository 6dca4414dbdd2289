//! Properties over random catalogs, graphs, rules, carts and requests.
//!
//! Every property runs the answers through
//! [`common::assert_suggestions_valid`]; some add a comparison: against a
//! naive reference engine written here (brute-force candidates, sort
//! everything, take `limit`), against a second call or a second engine, or
//! against the same shop built in another order. Each property runs at
//! most 128 cases so the suite stays fast.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cartwise::{
    CartLine, Catalog, DefaultScorer, Engine, FeatureRule, InMemoryCatalog, Kind, Kinds, Product,
    Reason, Recommender, RelevanceScorer, Request, Rules, ScoreWeights, Scratch, Suggestion,
    UpsellConfig, Via,
};
use common::{
    arb_scenario, assert_suggestions_valid, build_engine, build_engine_ordered,
    build_engine_shared, cart_lines, price_cap, Scenario, World,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// What the reference engine expects of one suggestion.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    sku: String,
    kind: Kind,
    /// The score's bits, so `-0.0` and `0.0` differ and NaN compares.
    score: u32,
    why: Why,
}

/// The evidence a suggestion's reason must carry.
#[derive(Clone, Debug, PartialEq)]
enum Why {
    Cross {
        source: String,
        weight: u32,
        total: u32,
        signals: u16,
        via: Via,
    },
    Up {
        line: usize,
        replaces: String,
    },
}

/// A candidate of the reference engine.
#[derive(Debug, Default)]
struct Pooled {
    cross: f32,
    support: u16,
    /// Strongest complement evidence: (source, weight, via); first wins ties.
    best: Option<(String, f32, Via)>,
    /// Best upgrade evidence: (line, replaced SKU, fit); first wins ties.
    upgrade: Option<(usize, String, f32)>,
}

/// The documented pipeline, written the slow and obvious way over SKUs, for
/// [`RelevanceScorer`]: pool every edge target of every cart line (summing
/// weights line by line, in cart order), every category-rule pick, and
/// every upgrade; drop what the filters forbid; score by summed weight or
/// upgrade fit; apply boosts and pins; sort everything; take greedily under
/// the per-category cap up to `limit`.
fn reference(
    world: &World,
    upsell: &UpsellConfig,
    cart: &[(usize, u32)],
    request: &Request,
) -> Vec<Expected> {
    let product = |sku: &str| -> &Product { world.product(sku) };
    let available = |p: &Product| p.stock != Some(0);

    // The merged cart: each SKU once, in order of first appearance.
    let mut lines: Vec<&str> = Vec::new();
    for &(i, _) in cart {
        let sku = world.products[i].sku.as_str();
        if !lines.contains(&sku) {
            lines.push(sku);
        }
    }
    let in_cart = |sku: &str| lines.contains(&sku);
    let covered: BTreeSet<&str> = lines.iter().map(|s| product(s).category.as_str()).collect();

    // Repeated edges and rules keep their largest weight.
    let mut edges: BTreeMap<(&str, &str), f32> = BTreeMap::new();
    for (f, t, w) in &world.edges {
        let w = *w as f32;
        let e = edges.entry((f.as_str(), t.as_str())).or_insert(w);
        *e = e.max(w);
    }
    let mut category_rules: BTreeMap<(&str, &str), f32> = BTreeMap::new();
    for (f, t, w) in &world.category_rules {
        let w = *w as f32;
        let e = category_rules.entry((f.as_str(), t.as_str())).or_insert(w);
        *e = e.max(w);
    }

    let mut pool: BTreeMap<String, Pooled> = BTreeMap::new();
    let mut add_cross = |target: &str, source: &str, weight: f32, via: Via| {
        let c = pool.entry(target.to_owned()).or_default();
        // Sums saturate at f32::MAX: weights may each be as large as that.
        c.cross = (c.cross + weight).min(f32::MAX);
        c.support += 1;
        if c.best.as_ref().is_none_or(|b| weight > b.1) {
            c.best = Some((source.to_owned(), weight, via));
        }
    };
    if request.kinds != Kinds::Upsell {
        for &source in &lines {
            for (&(f, t), &w) in &edges {
                if f == source {
                    add_cross(t, source, w, Via::Edge);
                }
            }
            let category = product(source).category.as_str();
            for (&(f, t), &w) in &category_rules {
                let curated_into = |cat: &str| {
                    edges
                        .keys()
                        .any(|&(ef, et)| ef == source && product(et).category == cat)
                };
                if f != category || covered.contains(t) || curated_into(t) {
                    continue;
                }
                let mut picks: Vec<&Product> = world
                    .products
                    .iter()
                    .filter(|p| p.category == t && available(p) && !in_cart(&p.sku))
                    .collect();
                picks.sort_by(|a, b| {
                    b.popularity
                        .cmp(&a.popularity)
                        .then(a.sku.as_bytes().cmp(b.sku.as_bytes()))
                });
                for p in picks.into_iter().take(2) {
                    add_cross(&p.sku, source, w, Via::CategoryRule);
                }
            }
        }
    }
    if request.kinds != Kinds::CrossSell {
        for (line, &source) in lines.iter().enumerate() {
            let p = product(source);
            let Some(family) = &p.family else { continue };
            let tier = p.tier.unwrap_or(0);
            let mut higher: Vec<&Product> = world
                .products
                .iter()
                .filter(|m| m.family.as_ref() == Some(family) && m.tier.unwrap_or(0) > tier)
                .collect();
            higher.sort_by_key(|m| m.tier);
            for (k, m) in higher.iter().take(upsell.max_tiers_up as usize).enumerate() {
                let (price, up) = (p.price.0, m.price.0);
                let cap = u64::try_from(price_cap(price, upsell.max_price_step_percent))
                    .unwrap_or(u64::MAX);
                if up > cap || up < price {
                    continue;
                }
                if upsell.features == FeatureRule::MustKeepAll
                    && !p.features.iter().all(|f| m.features.contains(f))
                {
                    continue;
                }
                let room = (cap - price) as f64;
                let ratio = if room > 0.0 {
                    (up - price) as f64 / room
                } else {
                    0.0
                };
                let fit = (1.0 - 0.5 * ratio - 0.1 * k as f64).clamp(0.1, 1.0) as f32;
                let c = pool.entry(m.sku.clone()).or_default();
                c.support += 1;
                if c.upgrade.as_ref().is_none_or(|u| fit > u.2) {
                    c.upgrade = Some((line, source.to_owned(), fit));
                }
            }
        }
    }

    let rules = &world.rules;
    let mut ranked: Vec<(usize, f32, &Product, Expected)> = Vec::new();
    for (sku, c) in &pool {
        let p = product(sku);
        let excluded = request.exclude_skus.contains(sku)
            || rules.exclude_skus.contains(sku)
            || request.exclude_categories.contains(&p.category)
            || rules.exclude_categories.contains(&p.category);
        if in_cart(sku) || !available(p) || request.budget.is_some_and(|b| p.price > b) || excluded
        {
            continue;
        }
        let (kind, mut score, why) = match (&c.upgrade, &c.best) {
            (Some((line, replaces, fit)), _) => (
                Kind::Upsell,
                *fit,
                Why::Up {
                    line: *line,
                    replaces: replaces.clone(),
                },
            ),
            (None, Some((source, weight, via))) => (
                Kind::CrossSell,
                c.cross,
                Why::Cross {
                    source: source.clone(),
                    weight: weight.to_bits(),
                    total: c.cross.to_bits(),
                    signals: c.support,
                    via: *via,
                },
            ),
            (None, None) => unreachable!("a pooled candidate has evidence"),
        };
        if !score.is_finite() {
            score = f32::MIN;
        }
        if let Some((_, factor)) = rules.boosts.iter().find(|b| b.0 == *sku) {
            // A boost saturates too, so the score stays finite.
            score = (score * factor).clamp(f32::MIN, f32::MAX);
        }
        let pin = rules
            .pins
            .iter()
            .position(|s| s == sku)
            .unwrap_or(usize::MAX);
        let expected = Expected {
            sku: sku.clone(),
            kind,
            score: score.to_bits(),
            why,
        };
        ranked.push((pin, score, p, expected));
    }
    ranked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.sku.as_bytes().cmp(b.2.sku.as_bytes()))
    });
    let cap = request.max_per_category.or(rules.max_per_category);
    let mut per_category: BTreeMap<&str, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for (_, _, p, e) in ranked {
        if out.len() == request.limit {
            break;
        }
        let n = per_category.entry(p.category.as_str()).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            continue;
        }
        *n += 1;
        out.push(e);
    }
    out
}

/// The engine's answer in the reference's terms.
fn observed<C: Catalog + ?Sized>(catalog: &C, suggestions: &[Suggestion]) -> Vec<Expected> {
    suggestions
        .iter()
        .map(|s| Expected {
            sku: catalog.sku(s.product).to_owned(),
            kind: s.kind,
            score: s.score.to_bits(),
            why: match s.reason {
                Reason::Complements {
                    source,
                    weight,
                    total,
                    signals,
                    via,
                    ..
                } => Why::Cross {
                    source: catalog.sku(source).to_owned(),
                    weight: weight.to_bits(),
                    total: total.to_bits(),
                    signals,
                    via,
                },
                Reason::Upgrade { line, replaces, .. } => Why::Up {
                    line: usize::from(line),
                    replaces: catalog.sku(replaces).to_owned(),
                },
                _ => panic!("unknown reason variant"),
            },
        })
        .collect()
}

/// SKU, kind and score bits: what two answers must share to be "the same".
fn summary<C: Catalog + ?Sized>(
    catalog: &C,
    suggestions: &[Suggestion],
) -> Vec<(String, Kind, u32)> {
    suggestions
        .iter()
        .map(|s| (catalog.sku(s.product).to_owned(), s.kind, s.score.to_bits()))
        .collect()
}

/// Runs a scenario through an engine and the checker; returns the answer.
fn run_checked(engine: &Engine, s: &Scenario) -> Result<Vec<Suggestion>, TestCaseError> {
    let cart = cart_lines(engine.catalog(), &s.world, &s.cart);
    let recs = engine
        .recommend(&cart, &s.request)
        .map_err(|e| TestCaseError::fail(format!("recommend failed: {e}")))?;
    assert_suggestions_valid(engine, &cart, &s.request, &recs.suggestions, &s.upsell)?;
    Ok(recs.suggestions)
}

/// The default scorer (with `low_stock`) given by value, scored inline as
/// the engine filters, and shared as a trait object, ranked through a
/// batch, answer `s` alike, to the bit, and validly.
fn inline_and_batch_agree(s: &Scenario, low_stock: u32) -> Result<(), TestCaseError> {
    let mut weights = ScoreWeights::default();
    weights.low_stock = low_stock;
    let scorer = DefaultScorer::new(weights).unwrap();
    let inline = build_engine(&s.world, &s.upsell, scorer.clone());
    let batch = build_engine_shared(&s.world, &s.upsell, Arc::new(scorer));
    prop_assert_eq!(run_checked(&inline, s)?, run_checked(&batch, s)?);
    Ok(())
}

/// A scenario with a random insertion order of its products and edges.
fn arb_shuffled() -> impl Strategy<Value = (Scenario, Vec<usize>, Vec<usize>)> {
    arb_scenario().prop_flat_map(|s| {
        let products: Vec<usize> = (0..s.world.products.len()).collect();
        let edges: Vec<usize> = (0..s.world.edges.len()).collect();
        (
            Just(s),
            Just(products).prop_shuffle(),
            Just(edges).prop_shuffle(),
        )
    })
}

/// A scenario whose edge weights are near `f32::MAX` and whose boosts are
/// huge, so that sums and products overflow `f32`.
fn arb_extreme() -> impl Strategy<Value = Scenario> {
    arb_scenario().prop_map(|mut s| {
        for e in &mut s.world.edges {
            e.2 = f64::from(f32::MAX) * (e.2 / 2.0).min(1.0);
        }
        for b in &mut s.world.rules.boosts {
            b.1 *= 1e30;
        }
        for p in s.world.products.iter().step_by(2) {
            s.world.rules.boosts.push((p.sku.clone(), 1e30));
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every invariant holds when ranking by relevance alone.
    #[test]
    fn suggestions_are_valid_with_relevance_scorer(s in arb_scenario()) {
        let engine = build_engine(&s.world, &s.upsell, RelevanceScorer);
        run_checked(&engine, &s)?;
    }

    /// Every invariant holds under the default blend of relevance, margin,
    /// price fit and popularity (zero and huge prices included).
    #[test]
    fn suggestions_are_valid_with_default_scorer(s in arb_scenario()) {
        let engine = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        run_checked(&engine, &s)?;
    }

    /// The engine returns exactly what the naive reference computes: the
    /// same SKUs in the same order, with the same kinds, scores and evidence.
    #[test]
    fn engine_matches_naive_reference(s in arb_scenario()) {
        let engine = build_engine(&s.world, &s.upsell, RelevanceScorer);
        let got = run_checked(&engine, &s)?;
        let expected = reference(&s.world, &s.upsell, &s.cart, &s.request);
        prop_assert_eq!(observed(engine.catalog(), &got), expected);
    }

    /// Cross-sell's short loop for graphs without metadata or conditions
    /// answers exactly as its general loop: the same shop with one extra
    /// link that never fires (its segment is in no request) takes the
    /// general loop for every line and must give the same suggestions,
    /// scores and reasons.
    #[test]
    fn plain_graph_loop_matches_the_general_loop(s in arb_scenario()) {
        let (a, b) = (&s.world.products[0].sku, &s.world.products[1].sku);
        prop_assume!(!s.world.edges.iter().any(|e| &e.0 == a && &e.1 == b));
        let plain = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        let catalog = plain.catalog().clone();
        let (_, category_rules) = common::build_graph(&s.world, &catalog, None);
        let graph = {
            let mut g = cartwise::ComplementGraph::builder(&catalog);
            for (f, t, w) in &s.world.edges {
                g.add(f, t, *w).unwrap();
            }
            let never = cartwise::Link::new(a.as_str(), b.as_str(), 0.5).segment("no-request-has-this");
            g.link(&never).unwrap();
            g.build().unwrap()
        };
        let general = Engine::builder(catalog)
            .strategy(cartwise::CrossSell::new(
                std::sync::Arc::new(graph),
                std::sync::Arc::new(category_rules),
            ))
            .strategy(cartwise::Upsell::new(s.upsell.clone()).unwrap())
            .rules(s.world.rules.clone())
            .build()
            .unwrap();
        let cart = cart_lines(plain.catalog(), &s.world, &s.cart);
        let expected = plain.recommend(&cart, &s.request).unwrap();
        let got = general.recommend(&cart, &s.request).unwrap();
        prop_assert_eq!(got, expected);
    }

    /// Same input, same output: twice through `recommend`, and through
    /// `recommend_with` with a scratch that served another cart before.
    #[test]
    fn same_input_twice_gives_identical_output(s in arb_scenario(), other in 0usize..3) {
        let engine = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        let cart = cart_lines(engine.catalog(), &s.world, &s.cart);
        let first = engine.recommend(&cart, &s.request).unwrap();
        let second = engine.recommend(&cart, &s.request).unwrap();
        prop_assert_eq!(&first, &second);

        let mut scratch = Scratch::new();
        let warm_up = [CartLine { product: cartwise::ProductId(other as u32), quantity: 1 }];
        engine.recommend_with(&mut scratch, &warm_up, &Request::new().limit(10)).unwrap();
        let third = engine.recommend_with(&mut scratch, &cart, &s.request).unwrap().to_vec();
        prop_assert_eq!(&first.suggestions, &third);
        assert_suggestions_valid(&engine, &cart, &s.request, &third, &s.upsell)?;
    }

    /// The default scorer given by value is scored inline as the engine
    /// filters; shared as a trait object, through a batch. Both rank alike,
    /// to the bit, under every merchant rule and request option.
    #[test]
    fn inline_default_scoring_equals_the_batch(s in arb_scenario(), low_stock in 0u32..8) {
        inline_and_batch_agree(&s, low_stock)?;
    }

    /// A call without merchant rules, budget or exclusions (the most
    /// common kind) is ranked by the engine's plain filter, which leaves
    /// those checks out and keys candidates by score and product alone.
    /// It ranks as the batch does, to the bit, with any kinds, limit and
    /// per-category cap.
    #[test]
    fn plain_inline_scoring_equals_the_batch(s in arb_scenario(), low_stock in 0u32..8) {
        let mut s = s;
        let mut rules = Rules::new();
        if let Some(cap) = s.world.rules.max_per_category {
            rules = rules.max_per_category(cap);
        }
        s.world.rules = rules;
        let mut request = Request::new().limit(s.request.limit).kinds(s.request.kinds);
        if let Some(cap) = s.request.max_per_category {
            request = request.max_per_category(cap);
        }
        s.request = request;
        inline_and_batch_agree(&s, low_stock)?;
    }

    /// Two engines built separately from the same shop answer identically.
    #[test]
    fn identical_engines_agree(s in arb_scenario()) {
        let a = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        let b = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        let ra = run_checked(&a, &s)?;
        let rb = run_checked(&b, &s)?;
        prop_assert_eq!(ra, rb);
    }

    /// Adding products and edges in another order gives the same SKUs in the
    /// same order with the same scores: ids follow SKUs, not input order.
    #[test]
    fn insertion_order_does_not_change_the_answer((s, products, edges) in arb_shuffled()) {
        let a = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        let b = build_engine_ordered(
            &s.world,
            &s.upsell,
            DefaultScorer::default(),
            Some(&products),
            Some(&edges),
        );
        let ra = run_checked(&a, &s)?;
        let rb = run_checked(&b, &s)?;
        prop_assert_eq!(summary(a.catalog(), &ra), summary(b.catalog(), &rb));
        let ca: &InMemoryCatalog = a.catalog();
        let cb: &InMemoryCatalog = b.catalog();
        prop_assert_eq!(ca, cb);
    }

    /// A cart that repeats a product answers as the cart with one line of
    /// the summed quantity, at the first position.
    #[test]
    fn repeated_lines_answer_as_the_merged_cart(s in arb_scenario()) {
        let engine = build_engine(&s.world, &s.upsell, RelevanceScorer);
        let cart = cart_lines(engine.catalog(), &s.world, &s.cart);
        let merged = common::merged(&cart);
        let a = engine.recommend(&cart, &s.request).unwrap();
        let b = engine.recommend(&merged, &s.request).unwrap();
        prop_assert_eq!(a, b);
    }

    /// Kinds filter the answer, and an upsell of a product reached by an
    /// edge too comes out once, as an upsell: the cross-sell-only and
    /// upsell-only answers never hold a product the other kind claims.
    #[test]
    fn kinds_select_their_own_suggestions(s in arb_scenario()) {
        let engine = build_engine(&s.world, &s.upsell, RelevanceScorer);
        let cart = cart_lines(engine.catalog(), &s.world, &s.cart);
        let mut request = s.request.clone();
        for kinds in [Kinds::CrossSell, Kinds::Upsell, Kinds::Both] {
            request.kinds = kinds;
            let recs = engine.recommend(&cart, &request).unwrap();
            assert_suggestions_valid(&engine, &cart, &request, &recs.suggestions, &s.upsell)?;
            let expected = reference(&s.world, &s.upsell, &s.cart, &request);
            prop_assert_eq!(observed(engine.catalog(), &recs.suggestions), expected);
        }
    }

    /// Edge weights near `f32::MAX` (whose sums overflow) and huge boosts
    /// still give finite scores in rank order, and the reference (whose
    /// sums and boosts saturate at `f32::MAX`) still agrees: the product
    /// with the most evidence is not sent to the bottom.
    #[test]
    fn extreme_weights_and_boosts_keep_scores_finite(s in arb_extreme()) {
        let engine = build_engine(&s.world, &s.upsell, RelevanceScorer);
        let got = run_checked(&engine, &s)?;
        let expected = reference(&s.world, &s.upsell, &s.cart, &s.request);
        prop_assert_eq!(observed(engine.catalog(), &got), expected);
        let engine = build_engine(&s.world, &s.upsell, DefaultScorer::default());
        run_checked(&engine, &s)?;
    }
}
