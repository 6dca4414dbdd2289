//! The miner against naive references and hand-computed values; its
//! thresholds, top-N, time decay, event weights and determinism; and the
//! hostile inputs of the reliability issue (a 100,000-line order, millions
//! of distinct SKUs, malformed logs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cartwise::{
    Catalog, Decay, Error, Event, EventWeights, Events, Itemsets, Measure, Measures, MinedGraph,
    Miner, OrderLog, OrderLogBuilder, Phase, ReadOptions, MAX_ITEMS_PER_ORDER,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// The naive reference: orders as sets of SKUs, counts by brute force.

/// Orders as sorted sets of SKUs, in first-appearance order of their id.
fn baskets(rows: &[(String, String)]) -> Vec<BTreeSet<String>> {
    let mut ids: Vec<&str> = Vec::new();
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    for (o, s) in rows {
        let k = match ids.iter().position(|x| x == o) {
            Some(k) => k,
            None => {
                ids.push(o);
                sets.push(BTreeSet::new());
                ids.len() - 1
            }
        };
        sets[k].insert(s.clone());
    }
    sets
}

/// How many baskets hold every one of `items`.
fn count(baskets: &[BTreeSet<String>], items: &[&str]) -> f64 {
    baskets
        .iter()
        .filter(|b| items.iter().all(|i| b.contains(*i)))
        .count() as f64
}

/// The measures of `X -> y`, straight from the definitions.
fn naive(n: f64, cx: f64, cy: f64, cxy: f64) -> [f64; 6] {
    let support = cxy / n;
    let confidence = cxy / cx;
    let lift = confidence / (cy / n);
    let leverage = support - (cx / n) * (cy / n);
    let conviction = if cy == n {
        1.0
    } else if confidence == 1.0 {
        f64::INFINITY
    } else {
        (1.0 - cy / n) / (1.0 - confidence)
    };
    let jaccard = cxy / (cx + cy - cxy);
    [support, confidence, lift, leverage, conviction, jaccard]
}

fn as_array(m: &Measures) -> [f64; 6] {
    [
        m.support,
        m.confidence,
        m.lift,
        m.leverage,
        m.conviction,
        m.jaccard,
    ]
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn assert_measures(got: &Measures, want: [f64; 6], what: &str) {
    for (k, (g, w)) in as_array(got).iter().zip(want).enumerate() {
        assert!(close(*g, w), "{what}: measure {k} is {g}, expected {w}");
    }
}

/// Every rule and itemset rule of a mined graph, keyed by SKUs.
type RuleMap = BTreeMap<(String, String), (Measures, f32)>;
type ItemsetMap = BTreeMap<(String, String, String), (Measures, f32)>;

fn rule_map(g: &MinedGraph) -> RuleMap {
    g.rules()
        .map(|r| ((r.from.to_owned(), r.to.to_owned()), (r.measures, r.weight)))
        .collect()
}

fn itemset_map(g: &MinedGraph) -> ItemsetMap {
    g.itemset_rules()
        .map(|r| {
            let key = (
                r.antecedent[0].to_owned(),
                r.antecedent[1].to_owned(),
                r.to.to_owned(),
            );
            (key, (r.measures, r.weight))
        })
        .collect()
}

fn log_of(rows: &[(String, String)]) -> OrderLog {
    OrderLog::from_rows(rows.iter().map(|(o, s)| (o.as_str(), s.as_str()))).unwrap()
}

fn rows_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((0u8..12, 0u8..9), 1..80).prop_map(|rows| {
        rows.into_iter()
            .map(|(o, s)| (format!("o{o}"), format!("s{s}")))
            .collect()
    })
}

fn measure_strategy() -> impl Strategy<Value = Measure> {
    (0usize..6).prop_map(|k| Measure::ALL[k])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With no thresholds and no top-N, every co-occurring pair is a rule
    /// in both directions, with the naive measures, and the weight is the
    /// chosen measure; itemset rules match brute-force triple counts.
    #[test]
    fn measures_match_a_brute_force_reference(
        rows in rows_strategy(),
        measure in measure_strategy(),
        threads in 1usize..4,
    ) {
        let log = log_of(&rows);
        let b = baskets(&rows);
        let n = b.len() as f64;
        let mut miner = Miner::new();
        miner.top(usize::MAX).itemset_top(usize::MAX).measure(measure).threads(threads)
            .itemsets(Itemsets::Mine).itemset_min_count(1.0);
        let g = miner.mine(log.view()).unwrap();
        prop_assert_eq!(g.orders(), b.len() as u64);
        prop_assert_eq!(g.total(), n);
        let skus: Vec<String> = b.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        prop_assert_eq!(g.skus().collect::<Vec<_>>(), skus.iter().map(String::as_str).collect::<Vec<_>>());
        for (i, s) in skus.iter().enumerate() {
            prop_assert_eq!(g.count(i as u32), count(&b, &[s]));
        }
        // Pairs.
        let rules = rule_map(&g);
        let mut expected = 0;
        for x in &skus {
            for y in &skus {
                let cxy = count(&b, &[x, y]);
                if x == y || cxy == 0.0 {
                    continue;
                }
                let want = naive(n, count(&b, &[x]), count(&b, &[y]), cxy);
                let m = Measures::new(n, count(&b, &[x]), count(&b, &[y]), cxy);
                let w = m.weight(measure, cartwise::mine::DEFAULT_CONVICTION_CAP);
                match rules.get(&(x.clone(), y.clone())) {
                    Some((got, weight)) => {
                        assert_measures(got, want, &format!("{x} -> {y}"));
                        prop_assert_eq!(got.count, cxy);
                        prop_assert_eq!(*weight, w);
                        expected += 1;
                    }
                    // Only rules with a non-positive weight are dropped.
                    None => prop_assert!(w <= 0.0, "{} -> {} missing (weight {})", x, y, w),
                }
            }
        }
        prop_assert_eq!(rules.len(), expected);
        // Triples.
        let itemsets = itemset_map(&g);
        let mut expected = 0;
        for (ia, a) in skus.iter().enumerate() {
            for bb in &skus[ia + 1..] {
                let cab = count(&b, &[a, bb]);
                for c in &skus {
                    let cabc = count(&b, &[a, bb, c]);
                    if c == a || c == bb || cabc == 0.0 {
                        continue;
                    }
                    let want = naive(n, cab, count(&b, &[c]), cabc);
                    let m = Measures::new(n, cab, count(&b, &[c]), cabc);
                    let w = m.weight(measure, cartwise::mine::DEFAULT_CONVICTION_CAP);
                    match itemsets.get(&(a.clone(), bb.clone(), c.clone())) {
                        Some((got, weight)) => {
                            assert_measures(got, want, &format!("{{{a}, {bb}}} -> {c}"));
                            prop_assert_eq!(got.count, cabc);
                            prop_assert_eq!(*weight, w);
                            expected += 1;
                        }
                        None => prop_assert!(w <= 0.0, "{{{}, {}}} -> {} missing", a, bb, c),
                    }
                }
            }
        }
        prop_assert_eq!(itemsets.len(), expected);
    }

    /// Under time decay and event weights, pair and itemset rules match a
    /// brute-force weighted reference.
    #[test]
    fn weighted_measures_match_a_brute_force_reference(
        rows in prop::collection::vec((0u8..10, 0u8..8, 0u8..3), 1..60),
        view in 0u8..5,
        cart in 0u8..5,
    ) {
        // Weights in quarters, view <= cart as the miner requires.
        let (view, cart) = (f32::from(view.min(cart)) * 0.25, f32::from(cart) * 0.25);
        let event = |e: u8| [Event::Purchase, Event::Cart, Event::View][e as usize];
        let weight = |e: Event| match e { Event::Purchase => 1.0, Event::Cart => f64::from(cart), Event::View => f64::from(view) };
        // Order o is (o * 3) % 7 days old... relative to day 0; half-life 2 days.
        let day = |o: u8| u32::from(o) * 3 % 7;
        let mut b = OrderLogBuilder::new();
        for &(o, s, e) in &rows {
            let t = format!("2024-01-{:02}", day(o) + 1);
            b.push_event(&format!("o{o}"), &format!("s{s}"), Some(&t), event(e)).unwrap();
        }
        let log = b.build().unwrap();
        // The reference: per order, each SKU's strongest event, and w_o.
        let mut orders: BTreeMap<u8, BTreeMap<String, f64>> = BTreeMap::new();
        for &(o, s, e) in &rows {
            let w = orders.entry(o).or_default().entry(format!("s{s}")).or_insert(0.0);
            *w = w.max(weight(event(e)));
        }
        let newest = orders.keys().map(|&o| day(o)).max().unwrap();
        let w_o = |o: u8| 0.5f64.powf(f64::from(newest - day(o)) / 2.0);
        let c = |items: &[&str]| -> f64 {
            orders.iter().map(|(&o, lines)| {
                w_o(o) * items.iter().map(|i| lines.get(*i).copied().unwrap_or(0.0)).product::<f64>()
            }).sum()
        };
        let n: f64 = orders.iter().map(|(&o, l)| w_o(o) * l.values().copied().fold(0.0, f64::max)).sum();
        let mut miner = Miner::new();
        miner.top(usize::MAX).itemset_top(usize::MAX).itemsets(Itemsets::Mine).itemset_min_count(0.0)
            .events(Events::Weighted(EventWeights::new(cart, view)))
            .decay(Decay::HalfLife(Duration::from_secs(2 * 86_400)));
        let g = miner.mine(log.view()).unwrap();
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0);
        prop_assert!(near(g.total(), n), "{} vs {}", g.total(), n);
        let skus: Vec<String> = (0..8).map(|s| format!("s{s}")).filter(|s| c(&[s]) > 0.0).collect();
        prop_assert_eq!(g.skus().collect::<Vec<_>>(), skus.iter().map(String::as_str).collect::<Vec<_>>());
        let rules = rule_map(&g);
        let mut expected = 0;
        for x in &skus {
            for y in skus.iter().filter(|y| *y != x) {
                let cxy = c(&[x, y]);
                if cxy <= 0.0 {
                    continue;
                }
                expected += 1;
                let want = naive(n, c(&[x]), c(&[y]), cxy);
                let (got, _) = rules.get(&(x.clone(), y.clone())).unwrap();
                for (k, (g, w)) in as_array(got).iter().zip(want).enumerate() {
                    prop_assert!(near(*g, w) || (g.is_infinite() && w > 1e5), "{} -> {}: measure {}: {} vs {}", x, y, k, g, w);
                }
            }
        }
        prop_assert_eq!(rules.len(), expected);
        let itemsets = itemset_map(&g);
        let mut expected = 0;
        for (ia, a) in skus.iter().enumerate() {
            for bb in &skus[ia + 1..] {
                for z in skus.iter().filter(|z| *z != a && *z != bb) {
                    let cabz = c(&[a, bb, z]);
                    if cabz <= 0.0 {
                        continue;
                    }
                    expected += 1;
                    let (got, _) = itemsets.get(&(a.clone(), bb.clone(), z.clone())).unwrap();
                    prop_assert!(near(got.count, cabz), "{{{}, {}}} -> {}: {} vs {}", a, bb, z, got.count, cabz);
                    prop_assert!(near(got.confidence, cabz / c(&[a, bb])));
                }
            }
        }
        prop_assert_eq!(itemsets.len(), expected);
    }

    /// Every kept rule passes the thresholds, and each item keeps exactly
    /// the `top` strongest passing rules (ties by consequent SKU), for
    /// pairs and for itemset antecedents alike.
    #[test]
    fn thresholds_and_top_n(
        rows in rows_strategy(),
        measure in measure_strategy(),
        min_support in 0.0f64..0.4,
        min_count in 0.0f64..3.0,
        min_confidence in 0.0f64..0.8,
        top in 1usize..4,
    ) {
        let log = log_of(&rows);
        let b = baskets(&rows);
        let n = b.len() as f64;
        let mut miner = Miner::new();
        miner.min_support(min_support).min_count(min_count).min_confidence(min_confidence)
            .top(top).itemset_top(top).measure(measure).itemsets(Itemsets::Mine).itemset_min_count(0.0);
        let g = miner.mine(log.view()).unwrap();
        let skus: Vec<String> = b.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let passes = |m: &Measures| {
            m.count >= min_count && m.support >= min_support && m.confidence >= min_confidence
        };
        // The reference: all passing rules per antecedent, strongest first.
        let pick = |mut list: Vec<(f32, String)>| -> BTreeSet<String> {
            list.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.as_bytes().cmp(y.1.as_bytes())));
            list.into_iter().take(top).map(|x| x.1).collect()
        };
        let rules = rule_map(&g);
        for x in &skus {
            let mut list = Vec::new();
            for y in skus.iter().filter(|y| *y != x) {
                let m = Measures::new(n, count(&b, &[x]), count(&b, &[y]), count(&b, &[x, y]));
                let w = m.weight(measure, cartwise::mine::DEFAULT_CONVICTION_CAP);
                if m.count > 0.0 && passes(&m) && w > 0.0 {
                    list.push((w, y.clone()));
                }
            }
            let got: BTreeSet<String> = rules.keys().filter(|k| &k.0 == x).map(|k| k.1.clone()).collect();
            prop_assert_eq!(got, pick(list), "rules of {}", x);
        }
        for (m, _) in rules.values() {
            prop_assert!(passes(m));
        }
        let itemsets = itemset_map(&g);
        for (ia, a) in skus.iter().enumerate() {
            for bb in &skus[ia + 1..] {
                let cab = count(&b, &[a, bb]);
                let mut list = Vec::new();
                for c in skus.iter().filter(|c| *c != a && *c != bb) {
                    let m = Measures::new(n, cab, count(&b, &[c]), count(&b, &[a, bb, c]));
                    let w = m.weight(measure, cartwise::mine::DEFAULT_CONVICTION_CAP);
                    if m.count > 0.0 && passes(&m) && w > 0.0 {
                        list.push((w, c.clone()));
                    }
                }
                let got: BTreeSet<String> = itemsets
                    .keys()
                    .filter(|k| &k.0 == a && &k.1 == bb)
                    .map(|k| k.2.clone())
                    .collect();
                prop_assert_eq!(got, pick(list), "itemset rules of {{{}, {}}}", a, bb);
            }
        }
    }

    /// The result does not depend on the thread count or the row order,
    /// and survives a JSON round trip byte for byte.
    #[test]
    fn deterministic_bytes(rows in rows_strategy(), seed in any::<u64>(), threads in 2usize..4) {
        let mut miner = Miner::new();
        miner.threads(1).itemsets(Itemsets::Mine).itemset_min_count(1.0).top(3);
        let one = miner.mine(log_of(&rows).view()).unwrap().to_json();
        // Shuffle the rows (a seeded Fisher-Yates): item ids and order
        // order change, the mined graph must not.
        let mut shuffled = rows.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        miner.threads(threads);
        let other = miner.mine(log_of(&shuffled).view()).unwrap();
        prop_assert_eq!(&other.to_json(), &one);
        let back = MinedGraph::from_json_str(&one).unwrap();
        prop_assert_eq!(&back, &other);
        prop_assert_eq!(back.to_json(), one);
    }
}

// ---------------------------------------------------------------------------
// A tiny fixture, computed by hand.

/// Five baskets:
///
/// ```text
/// o1: bread, butter, milk
/// o2: bread, butter
/// o3: bread, jam
/// o4: milk, jam
/// o5: bread, butter, jam
/// ```
///
/// n = 5; c(bread) = 4, c(butter) = 3, c(jam) = 3, c(milk) = 2;
/// c(bread, butter) = 3 (o1 o2 o5), c(bread, jam) = 2 (o3 o5),
/// c(bread, milk) = 1, c(butter, milk) = 1, c(butter, jam) = 1,
/// c(milk, jam) = 1 (o4).
fn tiny() -> OrderLog {
    OrderLog::from_rows([
        ("o1", "bread"),
        ("o1", "butter"),
        ("o1", "milk"),
        ("o2", "bread"),
        ("o2", "butter"),
        ("o3", "bread"),
        ("o3", "jam"),
        ("o4", "milk"),
        ("o4", "jam"),
        ("o5", "bread"),
        ("o5", "butter"),
        ("o5", "jam"),
    ])
    .unwrap()
}

#[test]
fn hand_computed_pair_measures() {
    let g = Miner::new().mine(tiny().view()).unwrap();
    assert_eq!(g.total(), 5.0);
    assert_eq!(
        g.skus().collect::<Vec<_>>(),
        ["bread", "butter", "jam", "milk"]
    );
    // bread -> butter:
    //   support    = 3/5                     = 0.6
    //   confidence = 3/4                     = 0.75
    //   lift       = 0.75 / (3/5)            = 1.25
    //   leverage   = 0.6 - (4/5)(3/5) = 0.6 - 0.48 = 0.12
    //   conviction = (1 - 3/5) / (1 - 0.75) = 0.4 / 0.25 = 1.6
    //   jaccard    = 3 / (4 + 3 - 3)         = 0.75
    let m = g.measures("bread", "butter").unwrap();
    assert_measures(&m, [0.6, 0.75, 1.25, 0.12, 1.6, 0.75], "bread -> butter");
    assert_eq!(m.count, 3.0);
    // butter -> bread: every butter order holds bread.
    //   confidence = 3/3 = 1; lift = 1 / (4/5) = 1.25;
    //   conviction = (1 - 4/5) / (1 - 1) = infinite.
    let m = g.measures("butter", "bread").unwrap();
    assert_measures(
        &m,
        [0.6, 1.0, 1.25, 0.12, f64::INFINITY, 0.75],
        "butter -> bread",
    );
    // milk -> jam (o4 only):
    //   support 1/5 = 0.2; confidence 1/2 = 0.5; lift 0.5 / (3/5) = 5/6;
    //   leverage 0.2 - (2/5)(3/5) = 0.2 - 0.24 = -0.04;
    //   conviction (1 - 3/5) / (1 - 0.5) = 0.8; jaccard 1 / (2 + 3 - 1) = 0.25.
    let m = g.measures("milk", "jam").unwrap();
    assert_measures(&m, [0.2, 0.5, 5.0 / 6.0, -0.04, 0.8, 0.25], "milk -> jam");
    // Weights under each measure.
    let weight = |measure: Measure, from: &str, to: &str| {
        let mut miner = Miner::new();
        miner.measure(measure);
        let g = miner.mine(tiny().view()).unwrap();
        let w = g
            .rules()
            .find(|r| r.from == from && r.to == to)
            .map(|r| r.weight);
        w
    };
    assert_eq!(weight(Measure::Confidence, "bread", "butter"), Some(0.75));
    assert_eq!(weight(Measure::Lift, "bread", "butter"), Some(1.25));
    // Infinite conviction weighs the cap.
    assert_eq!(
        weight(Measure::Conviction, "butter", "bread"),
        Some(cartwise::mine::DEFAULT_CONVICTION_CAP as f32)
    );
    // Negative leverage: milk and jam go together less than chance, no edge.
    assert_eq!(weight(Measure::Leverage, "milk", "jam"), None);
    assert!(weight(Measure::Leverage, "bread", "butter").is_some());
}

#[test]
fn hand_computed_itemset_measures() {
    let mut miner = Miner::new();
    miner.itemsets(Itemsets::Mine).itemset_min_count(1.0);
    let g = miner.mine(tiny().view()).unwrap();
    let rules = itemset_map(&g);
    // {bread, butter} -> jam: o5 only; c(bread, butter) = 3.
    //   support 1/5 = 0.2; confidence 1/3; lift (1/3) / (3/5) = 5/9.
    let (m, w) = rules[&("bread".into(), "butter".into(), "jam".into())];
    assert_eq!(m.count, 1.0);
    assert!(close(m.support, 0.2) && close(m.confidence, 1.0 / 3.0));
    assert!(close(m.lift, 5.0 / 9.0));
    assert_eq!(w, (1.0f64 / 3.0) as f32);
    // {bread, butter} -> milk: o1; lift (1/3) / (2/5) = 5/6.
    let (m, _) = rules[&("bread".into(), "butter".into(), "milk".into())];
    assert!(close(m.lift, 5.0 / 6.0));
    // {bread, jam} -> butter: o5; c(bread, jam) = 2, confidence 1/2.
    let (m, _) = rules[&("bread".into(), "jam".into(), "butter".into())];
    assert!(close(m.confidence, 0.5));
    // The triples of the five baskets: {bread, butter, milk} (o1) and
    // {bread, butter, jam} (o5), three rules each.
    assert_eq!(rules.len(), 6);
    // The default minimum count of 5 keeps none of them.
    let g = Miner::new()
        .itemsets(Itemsets::Mine)
        .mine(tiny().view())
        .unwrap();
    assert_eq!(g.n_itemset_rules(), 0);
}

#[test]
fn mapping_onto_a_catalog() {
    let mut miner = Miner::new();
    miner.itemsets(Itemsets::Mine).itemset_min_count(1.0);
    let g = miner.mine(tiny().view()).unwrap();
    let catalog = g.to_catalog().unwrap();
    assert_eq!(catalog.len(), 4);
    let bread = catalog.id("bread").unwrap();
    assert_eq!(catalog.popularity(bread), 4);
    assert_eq!(catalog.name(bread), "bread");
    assert_eq!(catalog.category_name(catalog.category(bread)), "unknown");
    let (graph, report) = g.to_graph(&catalog).unwrap();
    assert_eq!(graph.edge_count(), g.n_rules());
    assert_eq!((report.unknown_skus, report.skipped_rules), (0, 0));
    assert_eq!(
        graph.weight(bread, catalog.id("butter").unwrap()),
        Some(0.75)
    );
    let (itemsets, report) = g.to_itemset_rules(&catalog).unwrap();
    assert_eq!((itemsets.len(), report.itemset_rules), (6, 6));
    // A catalog without jam: jam's rules are skipped and counted.
    let products = catalog
        .to_products()
        .into_iter()
        .filter(|p| p.sku != "jam")
        .collect::<Vec<_>>();
    let smaller = cartwise::InMemoryCatalog::from_products(products).unwrap();
    let (graph, report) = g.to_graph(&smaller).unwrap();
    let with_jam = g
        .rules()
        .filter(|r| r.from == "jam" || r.to == "jam")
        .count() as u64;
    assert_eq!(report.unknown_skus, 1);
    assert_eq!(report.first_unknown_sku.as_deref(), Some("jam"));
    assert_eq!(report.skipped_rules, with_jam);
    assert_eq!(graph.edge_count() as u64 + with_jam, g.n_rules() as u64);
    let (_, report) = g.to_itemset_rules(&smaller).unwrap();
    assert_eq!((report.itemset_rules, report.skipped_rules), (3, 3));
}

#[test]
fn json_rejects_broken_graphs() {
    let g = Miner::new().mine(tiny().view()).unwrap();
    let json = g.to_json();
    assert_eq!(MinedGraph::from_json_str(&json).unwrap(), g);
    let broken = |from: &str, to: &str| {
        assert!(json.contains(from), "{from}");
        MinedGraph::from_json_str(&json.replacen(from, to, 1)).unwrap_err()
    };
    // SKUs out of order.
    assert!(matches!(
        broken("\"bread\"", "\"zzz\""),
        Error::Snapshot { .. }
    ));
    // Another format version.
    assert!(matches!(
        broken("\"version\":1", "\"version\":2"),
        Error::SnapshotVersion {
            expected: 1,
            found: 2
        }
    ));
    // A rule to an item that does not exist.
    let e = broken("[[1,", "[[99,");
    assert!(
        matches!(e, Error::Snapshot { ref reason } if reason.contains("out of range")),
        "{e}"
    );
    // A negative weight.
    assert!(matches!(
        broken(",0.75]", ",-0.75]"),
        Error::Snapshot { .. }
    ));
    // Not JSON at all.
    assert!(matches!(
        MinedGraph::from_json_str("{\"format\":"),
        Err(Error::Json { line: 1, .. })
    ));
}

#[test]
fn dot_shows_the_strongest_edges_escaped() {
    let log = OrderLog::from_rows([
        ("1", "a\"b"),
        ("1", "c"),
        ("2", "a\"b"),
        ("2", "c"),
        ("3", "c"),
    ])
    .unwrap();
    let g = Miner::new().mine(log.view()).unwrap();
    let mut out = Vec::new();
    g.write_dot(&mut out, 1, |sku| {
        (sku == "c").then(|| "Tea\ncup".to_owned())
    })
    .unwrap();
    let dot = String::from_utf8(out).unwrap();
    // a"b -> c has confidence 1, c -> a"b 2/3: only the first is kept.
    assert!(dot.starts_with("digraph cartwise {"), "{dot}");
    assert!(dot.contains(r#"n0 [label="a\"b"];"#), "{dot}");
    assert!(dot.contains(r#"n1 [label="c\nTea\ncup"];"#), "{dot}");
    assert!(dot.contains("n0 -> n1 [label=\"1.000\""), "{dot}");
    assert!(!dot.contains("n1 -> n0"), "{dot}");
}

#[test]
fn progress_covers_every_phase() {
    let mut phases: Vec<(Phase, f64)> = Vec::new();
    let mut miner = Miner::new();
    miner.itemsets(Itemsets::Mine).threads(2);
    miner
        .mine_with_progress(tiny().view(), |p| phases.push((p.phase, p.fraction)))
        .unwrap();
    for phase in [Phase::Counting, Phase::Rules, Phase::Itemsets] {
        let seen: Vec<f64> = phases
            .iter()
            .filter(|p| p.0 == phase)
            .map(|p| p.1)
            .collect();
        assert_eq!(seen.last(), Some(&1.0), "{phase}: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{phase}: {seen:?}");
    }
}

#[test]
fn bad_settings_are_rejected() {
    let log = tiny();
    let check = |miner: &mut Miner, field: &str| match miner.mine(log.view()) {
        Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected InvalidConfig for {field}, got {other:?}"),
    };
    check(Miner::new().min_support(1.5), "min_support");
    check(Miner::new().min_count(f64::NAN), "min_count");
    check(Miner::new().min_confidence(-0.1), "min_confidence");
    check(Miner::new().top(0), "top");
    check(Miner::new().itemset_top(0), "itemset_top");
    check(Miner::new().conviction_cap(f64::INFINITY), "conviction_cap");
    check(Miner::new().itemset_min_count(-1.0), "itemset_min_count");
    check(
        Miner::new().decay(Decay::HalfLife(Duration::ZERO)),
        "half_life",
    );
    check(
        Miner::new().events(Events::Weighted(EventWeights::new(1.5, 0.2))),
        "event_weights.cart",
    );
    check(
        Miner::new().events(Events::Weighted(EventWeights::new(0.2, 0.5))),
        "event_weights.view",
    );
    assert!(matches!(
        "loft".parse::<Measure>(),
        Err(Error::InvalidConfig {
            field: "measure",
            ..
        })
    ));
    assert_eq!(
        "conviction".parse::<Measure>().unwrap(),
        Measure::Conviction
    );
}

// ---------------------------------------------------------------------------
// Time decay and event weights, by hand.

fn timed(rows: &[(&str, &str, &str)]) -> OrderLog {
    let mut b = OrderLogBuilder::new();
    for (o, s, t) in rows {
        b.push_line(o, s, Some(t)).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn an_order_one_half_life_old_counts_half() {
    // o1 is 10 days older than the newest orders o2 and o3; half-life 10 days.
    //   w(o1) = 0.5^(10/10) = 0.5, w(o2) = w(o3) = 0.5^0 = 1
    //   n = 2.5; c(a) = 0.5 + 1 + 1 = 2.5; c(b) = 0.5 + 1 = 1.5; c(c) = 1
    //   c(a, b) = 1.5 (o1 and o2), c(a, c) = 1 (o3)
    //   a -> b: support 1.5/2.5 = 0.6, confidence 1.5/2.5 = 0.6
    //   b -> a: confidence 1.5/1.5 = 1
    //   a -> c: confidence 1/2.5 = 0.4
    let log = timed(&[
        ("o1", "a", "2024-01-01T12:00:00"),
        ("o1", "b", ""),
        ("o2", "a", "2024-01-11T12:00:00"),
        ("o2", "b", "2024-01-11T12:00:00"),
        ("o3", "c", "2024-01-11"),
        ("o3", "a", "2024-01-11"),
    ]);
    // o3 is at midnight, 12 hours before o2: weight 0.5^(0.5/10).
    let w3 = 0.5f64.powf(0.05);
    let mut miner = Miner::new();
    miner.decay(Decay::HalfLife(Duration::from_secs(10 * 86_400)));
    let g = miner.mine(log.view()).unwrap();
    assert!(close(g.total(), 0.5 + 1.0 + w3));
    let m = g.measures("a", "b").unwrap();
    assert_eq!(m.count, 1.5);
    assert!(close(m.confidence, 1.5 / (1.5 + w3)));
    assert!(close(g.measures("b", "a").unwrap().confidence, 1.0));
    // The same with o3 at noon too: the numbers of the comment above.
    let log = timed(&[
        ("o1", "a", "2024-01-01T12:00:00"),
        ("o1", "b", ""),
        ("o2", "a", "2024-01-11T12:00:00"),
        ("o2", "b", ""),
        ("o3", "c", "2024-01-11T12:00:00Z"),
        ("o3", "a", ""),
    ]);
    let g = miner.mine(log.view()).unwrap();
    assert_eq!(g.total(), 2.5);
    let i = |s: &str| g.item(s).unwrap();
    assert_eq!(
        (g.count(i("a")), g.count(i("b")), g.count(i("c"))),
        (2.5, 1.5, 1.0)
    );
    assert_eq!(g.measures("a", "b").unwrap().support, 0.6);
    assert_eq!(g.measures("a", "b").unwrap().confidence, 0.6);
    assert_eq!(g.measures("a", "c").unwrap().confidence, 0.4);
    // Two half-lives old counts a quarter; the reference is the newest
    // order, never the clock.
    let log = timed(&[
        ("old", "a", "2000-01-01"),
        ("old", "b", "2000-01-01"),
        ("new", "a", "2000-01-21"),
    ]);
    let g = miner.mine(log.view()).unwrap();
    assert_eq!(g.measures("a", "b").unwrap().count, 0.25);
    assert_eq!(g.total(), 1.25);
    // Without decay the same logs count every order fully.
    assert_eq!(Miner::new().mine(log.view()).unwrap().total(), 2.0);
}

#[test]
fn decay_needs_a_timestamp_on_every_order() {
    let mut miner = Miner::new();
    miner.decay(Decay::HalfLife(Duration::from_secs(86_400)));
    let log = timed(&[("o1", "a", "2024-01-01"), ("o2", "a", "")]);
    match miner.mine(log.view()).unwrap_err() {
        Error::InvalidTimestamp { order_id, value } => {
            assert_eq!((order_id.as_str(), value.as_str()), ("o2", ""));
        }
        other => panic!("unexpected {other:?}"),
    }
    let log = timed(&[("o1", "a", "2024-01-01"), ("o2", "a", "last tuesday")]);
    assert!(matches!(
        miner.mine(log.view()),
        Err(Error::InvalidTimestamp { value, .. }) if value == "last tuesday"
    ));
}

fn evented(rows: &[(&str, &str, Event)]) -> OrderLog {
    let mut b = OrderLogBuilder::new();
    for (o, s, e) in rows {
        b.push_event(o, s, None, *e).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn event_weights_by_hand() {
    // o1: a bought, b viewed; o2: a and b bought; o3: c viewed only.
    let log = evented(&[
        ("o1", "a", Event::Purchase),
        ("o1", "b", Event::View),
        ("o2", "a", Event::Purchase),
        ("o2", "b", Event::Purchase),
        ("o3", "c", Event::View),
    ]);
    // Purchases only (the default): o1 = {a}, o2 = {a, b}, o3 counts 0.
    //   n = 2; c(a) = 2, c(b) = 1, c(a, b) = 1; c is not an item at all.
    let g = Miner::new().mine(log.view()).unwrap();
    assert_eq!(g.total(), 2.0);
    assert_eq!(g.skus().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(g.measures("a", "b").unwrap().confidence, 0.5);
    // Weighted (view 0.2, cart 0.5):
    //   n = max(1, 0.2) + 1 + 0.2 = 2.2
    //   c(a) = 2, c(b) = 0.2 + 1 = 1.2, c(c) = 0.2
    //   c(a, b) = 1·0.2 + 1·1 = 1.2
    //   a -> b: confidence 1.2/2 = 0.6; b -> a: 1.2/1.2 = 1
    let mut miner = Miner::new();
    miner.events(Events::weighted());
    let g = miner.mine(log.view()).unwrap();
    let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(near(g.total(), 2.2), "{}", g.total());
    assert!(near(g.count(g.item("b").unwrap()), 1.2));
    assert!(near(g.count(g.item("c").unwrap()), 0.2));
    let m = g.measures("a", "b").unwrap();
    assert!(near(m.count, 1.2) && near(m.confidence, 0.6), "{m:?}");
    assert!(near(g.measures("b", "a").unwrap().confidence, 1.0));
    assert!(near(m.support, 1.2 / 2.2));
    // Custom weights: a view worth nothing is purchases only again, but
    // the cart-less view-only order still has weight 0.
    let mut miner = Miner::new();
    miner.events(Events::Weighted(EventWeights::new(0.5, 0.0)));
    assert_eq!(miner.mine(log.view()).unwrap().total(), 2.0);
}

#[test]
fn viewed_this_bought_that_is_learned_from_a_csv() {
    let text = "order_id,sku,event\n\
                s1,phone,view\ns1,case,purchase\n\
                s2,phone,view\ns2,case,purchase\n\
                s3,phone,purchase\n";
    let log = OrderLog::from_csv_reader(text.as_bytes(), &ReadOptions::new()).unwrap();
    // Purchases only: phone and case are never bought together.
    assert!(Miner::new()
        .mine(log.view())
        .unwrap()
        .measures("phone", "case")
        .is_none());
    // With views: phone -> case from two sessions, weight 0.2 each.
    let g = Miner::new()
        .events(Events::weighted())
        .mine(log.view())
        .unwrap();
    let m = g.measures("phone", "case").unwrap();
    // c(phone) = 0.2 + 0.2 + 1 = 1.4, c(phone, case) = 0.4.
    assert!((m.confidence - 0.4 / 1.4).abs() < 1e-6, "{m:?}");
}

// ---------------------------------------------------------------------------
// Hostile inputs.

/// One order of 100,000 distinct lines, next to a few normal ones: pair
/// counting sees only its first `MAX_ITEMS_PER_ORDER` items (130,816
/// pairs, not five billion), item counts see all of it.
#[test]
fn an_order_of_100_000_lines_is_capped_for_pairs() {
    let mut b = OrderLogBuilder::new();
    for k in 0..100_000 {
        b.push("huge", &format!("sku{k:06}")).unwrap();
    }
    for o in 0..3 {
        b.push(&format!("small{o}"), "sku000000").unwrap();
        b.push(&format!("small{o}"), "sku099999").unwrap();
    }
    let log = b.build().unwrap();
    assert_eq!(log.report().truncated_orders, 1);
    let mut miner = Miner::new();
    miner.top(1);
    let g = miner.mine(log.view()).unwrap();
    let m = MAX_ITEMS_PER_ORDER as u64;
    // The capped prefix's pairs, plus (sku000000, sku099999) from the small
    // orders (sku099999 is past the cap in the huge order).
    assert_eq!(g.pairs_counted(), m * (m - 1) / 2 + 1);
    assert_eq!(g.n_items(), 100_000);
    assert_eq!(g.count(g.item("sku099999").unwrap()), 4.0);
    assert_eq!(g.measures("sku099999", "sku000000").unwrap().count, 3.0);
    // Items past the cap have no pairs from the huge order.
    assert!(g.measures("sku050000", "sku000000").is_none());
    // One rule per item at most, and items past the cap have none.
    assert!(g.n_rules() <= MAX_ITEMS_PER_ORDER + 1);
}

/// Ten million distinct SKUs stop at a configured cap with a clear error,
/// after reading only what the cap allows.
#[test]
fn distinct_skus_stop_at_the_cap() {
    let mut b = OrderLogBuilder::new();
    b.max_items(1_000);
    let mut err = None;
    for k in 0..10_000_000u64 {
        if let Err(e) = b.push(&format!("o{}", k / 4), &format!("sku{k}")) {
            err = Some((k, e));
            break;
        }
    }
    match err {
        Some((k, Error::CapExceeded { what, cap, got })) => {
            assert_eq!(k, 1_000);
            assert_eq!((what, cap, got), ("distinct SKUs", 1_000, 1_001));
        }
        other => panic!("expected the cap, got {other:?}"),
    }
    // The same through the CSV reader.
    let mut text = String::from("order_id,sku\n");
    for k in 0..2_000 {
        text.push_str(&format!("{},{k}\n", k / 4));
    }
    let mut opts = ReadOptions::new();
    opts.max_items(1_000);
    let e = OrderLog::from_csv_reader(text.as_bytes(), &opts).unwrap_err();
    assert!(
        matches!(
            e,
            Error::CapExceeded {
                what: "distinct SKUs",
                cap: 1_000,
                got: 1_001
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "distinct SKUs exceeds the cap of 1000 (got 1001)"
    );
}

/// Ten million distinct SKUs under the default cap: read and mined in
/// bounded memory. Slow and memory-hungry (measured: 39 s and a peak RSS of
/// 2.7 GB in a release build on 2 cores), so run by hand:
///
/// ```text
/// cargo test --release --test mine -- --ignored ten_million
/// ```
#[test]
#[ignore]
fn ten_million_distinct_skus_mine_in_bounded_memory() {
    let mut b = OrderLogBuilder::new();
    for k in 0..10_000_000u64 {
        // Orders of four SKUs; SKU k and k + 1 share an order for k % 4 < 3.
        b.push(&format!("o{}", k / 4), &format!("sku{k:08}"))
            .unwrap();
    }
    let log = b.build().unwrap();
    assert_eq!((log.n_items(), log.len()), (10_000_000, 2_500_000));
    let mut miner = Miner::new();
    miner.top(2);
    let g = miner.mine(log.view()).unwrap();
    assert_eq!(g.n_items(), 10_000_000);
    assert_eq!(g.pairs_counted(), 2_500_000 * 6);
    assert_eq!(g.n_rules(), 10_000_000 * 2);
}

#[test]
fn malformed_logs_are_clear_errors() {
    let read = |text: &str| OrderLog::from_csv_reader(text.as_bytes(), &ReadOptions::new());
    // Empty log, and a header alone.
    assert!(matches!(read(""), Err(Error::EmptyOrders)));
    assert!(matches!(read("order_id,sku\n"), Err(Error::EmptyOrders)));
    // A header without `sku`.
    match read("order_id,product\n1,a\n") {
        Err(Error::MissingColumn { column, found }) => {
            assert_eq!(column, "sku");
            assert_eq!(found, ["order_id", "product"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // A row with too few fields.
    match read("order_id,sku,quantity\n1,a,1\n2,b\n") {
        Err(Error::Csv { line, message }) => {
            assert_eq!(line, 3);
            assert!(message.contains("expected 3 fields"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // An empty SKU.
    match read("order_id,sku\n1,a\n2,\n") {
        Err(Error::Csv { line, message }) => {
            assert_eq!(line, 3);
            assert!(message.contains("empty sku"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Rows given directly: an empty SKU names the row.
    assert!(matches!(
        OrderLog::from_rows([("1", "a"), ("1", "")]),
        Err(Error::EmptyOrderField {
            row: 2,
            field: "sku",
            ..
        })
    ));
}

#[test]
fn an_empty_view_mines_an_empty_graph() {
    let log = tiny();
    let g = Miner::new()
        .itemsets(Itemsets::Mine)
        .mine(log.slice(2..2))
        .unwrap();
    assert_eq!((g.n_items(), g.n_rules(), g.n_itemset_rules()), (0, 0, 0));
    assert_eq!(g.total(), 0.0);
    let catalog = g.to_catalog().unwrap();
    assert!(catalog.is_empty());
    assert_eq!(MinedGraph::from_json_str(&g.to_json()).unwrap(), g);
}

/// Only the training part of a split is mined; items seen only in the rest
/// are not in the graph.
#[test]
fn a_view_mines_only_its_orders() {
    let log = tiny();
    let g = Miner::new().mine(log.slice(0..2)).unwrap();
    assert_eq!(g.skus().collect::<Vec<_>>(), ["bread", "butter", "milk"]);
    assert_eq!(g.total(), 2.0);
}

// ---------------------------------------------------------------------------
// The example, run as a user would run it.

/// `cargo run --example mine` writes the graph the library mines, a DOT
/// file, and a summary.
#[test]
fn the_mine_example_writes_a_loadable_graph() {
    let dir = std::env::temp_dir().join(format!("cartwise-mine-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, dot) = (dir.join("graph.json"), dir.join("graph.dot"));
    let orders = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/spark/orders.csv"
    );
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "--example",
            "mine",
            "--",
            "--orders",
            orders,
        ])
        .args(["--measure", "lift", "--top", "5", "--itemsets", "--out"])
        .arg(&json)
        .arg("--dot")
        .arg(&dot)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("orders         2000\n"), "{stdout}");
    assert!(stdout.contains("(weight = lift)"), "{stdout}");
    assert!(stderr.contains("counting pairs"), "{stderr}");
    // The file is what the library mines with the same settings, byte for
    // byte, and it loads.
    let log = OrderLog::from_csv_path(orders).unwrap();
    let mut miner = Miner::new();
    miner.measure(Measure::Lift).top(5).itemsets(Itemsets::Mine);
    let expected = miner.mine(log.view()).unwrap();
    assert_eq!(std::fs::read_to_string(&json).unwrap(), expected.to_json());
    let loaded = MinedGraph::from_json_file(&json).unwrap();
    let summary = format!("edges          {} (weight = lift)", loaded.n_rules());
    assert!(stdout.contains(&summary), "{stdout}");
    let dot = std::fs::read_to_string(&dot).unwrap();
    assert!(dot.starts_with("digraph cartwise {"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 100);
    std::fs::remove_dir_all(&dir).ok();
    // A bad flag is a usage error.
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "--example",
            "mine",
            "--",
            "--measure",
            "loft",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("measure"));
}
