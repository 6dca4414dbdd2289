//! Spark interop: rules mined by a real Spark 4.3 FPGrowth run
//! (`tests/fixtures/spark/`, see its README) load into cartwise, and the
//! engine then suggests for each basket exactly what Spark's `transform`
//! predicts for it.

use std::collections::BTreeSet;
use std::sync::Arc;

use cartwise::spark::{read_association_rules, to_graph, to_graph_with, SparkRule};
use cartwise::{
    Associations, Catalog, ComplementGraph, Engine, InMemoryCatalog, InlineCart, ItemsetRules,
    Kinds, Measure, Miner, OrderLog, Product, Recommender, RelevanceScorer, Request,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/spark");

/// The catalog of every SKU in the orders Spark mined, built without a
/// catalog of our own: mine the log and turn the items into products.
fn catalog() -> InMemoryCatalog {
    let log = OrderLog::from_csv_path(format!("{FIXTURE}/orders.csv")).unwrap();
    assert_eq!(log.len(), 2000);
    let catalog = Miner::new().mine(log.view()).unwrap().to_catalog().unwrap();
    assert_eq!(catalog.len(), log.n_items());
    catalog
}

fn rules() -> Vec<SparkRule> {
    let file = std::fs::File::open(format!("{FIXTURE}/association_rules.jsonl")).unwrap();
    read_association_rules(std::io::BufReader::new(file)).unwrap()
}

/// `(basket, prediction)` pairs from Spark's `transform`.
fn transform() -> Vec<(Vec<String>, BTreeSet<String>)> {
    let text = std::fs::read_to_string(format!("{FIXTURE}/transform.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let list = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect()
            };
            (list("basket"), list("prediction").into_iter().collect())
        })
        .collect()
}

/// The learned strategies only, ranked by summed evidence.
fn engine(catalog: &InMemoryCatalog, graph: ComplementGraph, itemsets: ItemsetRules) -> Engine {
    Engine::builder(catalog.clone())
        .strategy(Associations::new(Arc::new(graph), Arc::new(itemsets)))
        .scorer(RelevanceScorer)
        .build()
        .unwrap()
}

fn request() -> Request {
    Request::new().limit(100).kinds(Kinds::CrossSell)
}

fn cart(engine: &Engine, skus: &[String]) -> InlineCart {
    InlineCart::from_skus(engine.catalog(), skus.iter().map(|s| (s.as_str(), 1))).unwrap()
}

#[test]
fn fixture_loads_with_nothing_unknown() {
    let catalog = catalog();
    let (graph, itemsets, report) = to_graph(&rules(), &catalog).unwrap();
    // The README's counts: 494 rules with one antecedent item, 174 with
    // two, 4 with three.
    assert_eq!(report.edges, 494);
    assert_eq!(report.itemset_rules, 174);
    assert_eq!(report.skipped_long_antecedents, 4);
    assert_eq!((report.unknown_skus, report.skipped_rules), (0, 0));
    assert_eq!(graph.edge_count(), 494);
    assert_eq!(itemsets.len(), 174);
    graph.validate(catalog.len()).unwrap();
    itemsets.validate(catalog.len()).unwrap();
}

#[test]
fn recommendations_are_exactly_sparks_predictions() {
    let catalog = catalog();
    let (graph, itemsets, _) = to_graph(&rules(), &catalog).unwrap();
    let engine = engine(&catalog, graph, itemsets);
    let baskets = transform();
    assert_eq!(baskets.len(), 15);
    for (basket, prediction) in &baskets {
        let recs = engine
            .recommend(&cart(&engine, basket), &request())
            .unwrap();
        assert!(recs.len() < 100, "{basket:?}: the limit cut the list");
        let ours: BTreeSet<String> = recs
            .iter()
            .map(|s| engine.catalog().sku(s.product).to_owned())
            .collect();
        assert_eq!(&ours, prediction, "basket {basket:?}");
    }
}

#[test]
fn missing_skus_are_counted_and_skipped() {
    // A catalog without "whole milk": every rule naming it is skipped.
    let full = catalog();
    let products: Vec<Product> = full
        .to_products()
        .into_iter()
        .filter(|p| p.sku != "whole milk")
        .collect();
    let catalog = InMemoryCatalog::from_products(products).unwrap();
    let rules = rules();
    let naming = |r: &SparkRule| {
        r.antecedent.len() <= 2
            && r.antecedent
                .iter()
                .chain(&r.consequent)
                .any(|s| s == "whole milk")
    };
    let expected = rules.iter().filter(|r| naming(r)).count() as u64;
    assert!(expected > 0);
    let (graph, itemsets, report) = to_graph(&rules, &catalog).unwrap();
    assert_eq!(report.unknown_skus, 1);
    assert_eq!(report.first_unknown_sku.as_deref(), Some("whole milk"));
    assert_eq!(report.skipped_rules, expected);
    assert_eq!(report.edges + report.itemset_rules + expected, 494 + 174);
    assert_eq!(graph.edge_count() as u64, report.edges);
    assert_eq!(itemsets.len() as u64, report.itemset_rules);
}

#[test]
fn a_two_item_rule_lifts_its_consequent() {
    let catalog = catalog();
    let rules = rules();
    let (graph, itemsets, _) = to_graph(&rules, &catalog).unwrap();
    let with = engine(&catalog, graph.clone(), itemsets);
    let without = engine(&catalog, graph, ItemsetRules::empty(catalog.len()));
    // {curd, whole milk} -> yogurt, confidence 27/64 (see the spark unit tests).
    let rule = rules
        .iter()
        .find(|r| r.antecedent == ["curd", "whole milk"] && r.consequent == ["yogurt"])
        .unwrap();
    let basket = vec!["curd".to_owned(), "whole milk".to_owned()];
    let yogurt = catalog.id("yogurt").unwrap();
    let score = |e: &Engine| {
        e.recommend(&cart(e, &basket), &request())
            .unwrap()
            .iter()
            .find(|s| s.product == yogurt)
            .map(|s| s.score)
            .unwrap()
    };
    let (a, b) = (score(&with), score(&without));
    assert!(a > b, "with the itemset rule {a}, without {b}");
    // The single edges give curd -> yogurt plus whole milk -> yogurt; the
    // itemset rule adds its own confidence on top.
    let single = |from: &str| {
        rules
            .iter()
            .find(|r| r.antecedent == [from] && r.consequent == ["yogurt"])
            .unwrap()
            .confidence
    };
    let expected_without = (single("curd") as f32) + (single("whole milk") as f32);
    assert!(
        (b - expected_without).abs() < 1e-6,
        "{b} vs {expected_without}"
    );
    assert!((a - b - rule.confidence as f32).abs() < 1e-6, "{a} - {b}");
    // And it moves yogurt up the ranking for this basket.
    let rank = |e: &Engine| {
        e.recommend(&cart(e, &basket), &request())
            .unwrap()
            .iter()
            .position(|s| s.product == yogurt)
            .unwrap()
    };
    assert!(rank(&with) <= rank(&without));
}

#[test]
fn weights_follow_the_chosen_measure() {
    let catalog = catalog();
    let rules = rules();
    let id = |s: &str| catalog.id(s).unwrap();
    let beef_rolls = rules
        .iter()
        .find(|r| r.antecedent == ["beef"] && r.consequent == ["rolls/buns"])
        .unwrap();
    for measure in Measure::ALL {
        let (graph, _, report) = to_graph_with(&rules, &catalog, measure).unwrap();
        let w = graph.weight(id("beef"), id("rolls/buns"));
        let (s, f, l) = (
            beef_rolls.support.unwrap(),
            beef_rolls.confidence,
            beef_rolls.lift.unwrap(),
        );
        // The antecedent's support is s / f, the consequent's f / l.
        let (sa, sc) = (s / f, f / l);
        let expected = match measure {
            Measure::Support => s,
            Measure::Confidence => f,
            Measure::Lift => l,
            Measure::Leverage => s - sa * sc,
            Measure::Conviction => (1.0 - sc) / (1.0 - f),
            Measure::Jaccard => s / (sa + sc - s),
            _ => unreachable!(),
        };
        let w = w.unwrap();
        assert!(
            (f64::from(w) - expected).abs() <= 1e-6 * expected.abs().max(1.0),
            "{measure}: {w} vs {expected}"
        );
        // Leverage drops the negatively associated rules; the rest keep all.
        if measure != Measure::Leverage {
            assert_eq!(report.skipped_weightless, 0, "{measure}");
        }
    }
}
