//! The learned model served through the engine: `Learned` with the
//! relevance scorer suggests, for a cart, the same products as the model's
//! own top-k, on random order logs: items of the same scores, the same
//! items except where several tie at the cut (the two break exact ties
//! differently), and scores equal to a reference sum.

use std::sync::Arc;

use cartwise::{
    Catalog, CatalogBuilder, Engine, InlineCart, Kinds, LearnConfig, Learned, LearnedModel, Money,
    OrderLog, Product, Recommender, RelevanceScorer, Request,
};
use proptest::prelude::*;

fn engine_for(log: &OrderLog, model: &LearnedModel) -> Engine {
    let mut b = CatalogBuilder::new();
    for sku in log.skus() {
        b.add(Product::new(sku, sku, Money(100), "all")).unwrap();
    }
    let catalog = b.build().unwrap();
    let (graph, unknown) = model.to_learned_graph(&catalog).unwrap();
    assert_eq!(unknown, 0);
    Engine::builder(catalog)
        .strategy(Learned::new(Arc::new(graph)))
        .scorer(RelevanceScorer)
        .build()
        .unwrap()
}

/// The model's score of item `j` for `cart`, summed in `f64`: the prior
/// plus every cart item's edge into `j` (the reference for both rankings).
fn reference_score(model: &LearnedModel, cart: &[u32], j: u32) -> f64 {
    let mut s = f64::from(model.prior(j));
    for &i in cart {
        let (targets, weights) = model.edges(i);
        if let Some(k) = targets.iter().position(|&t| t == j) {
            s += f64::from(weights[k]);
        }
    }
    s
}

/// Checks that the engine's suggestions for `cart` are as good as the
/// model's own top 10: over the positive-score prefix, the two lists hold
/// items of the same reference scores, and every item scoring clearly above
/// the last one kept is in both. The two break exact ties differently (the
/// engine by product id, the model by popularity), so which of several
/// items tied at the cut is kept may differ.
fn check_engine_matches_model(orders: &[Vec<u8>], cart: &[u8]) -> Result<(), TestCaseError> {
    let rows: Vec<(String, String)> = orders
        .iter()
        .enumerate()
        .flat_map(|(o, items)| {
            items
                .iter()
                .map(move |i| (format!("o{o}"), format!("s{i:02}")))
        })
        .collect();
    let log = OrderLog::from_rows(rows).unwrap();
    let model = LearnedModel::fit(log.view(), &LearnConfig::default()).unwrap();
    let engine = engine_for(&log, &model);
    let cart_items: Vec<u32> = {
        let mut v: Vec<u32> = cart
            .iter()
            .filter_map(|i| log.item(&format!("s{i:02}")))
            .collect();
        let mut seen = Vec::new();
        v.retain(|x| {
            if seen.contains(x) {
                false
            } else {
                seen.push(*x);
                true
            }
        });
        v
    };
    if cart_items.is_empty() {
        return Ok(());
    }
    let mut expected = Vec::new();
    let mut scratch = model.scratch();
    model.recommend_into(&mut scratch, &cart_items, 10, &mut expected);

    let skus: Vec<(&str, u32)> = cart_items.iter().map(|&i| (log.sku(i), 1)).collect();
    let cart = InlineCart::from_skus(engine.catalog(), skus).unwrap();
    let recs = engine
        .recommend(&cart, &Request::new().limit(10).kinds(Kinds::CrossSell))
        .unwrap();
    let got: Vec<u32> = recs
        .iter()
        .map(|s| log.item(engine.catalog().sku(s.product)).unwrap())
        .collect();
    // The engine drops candidates whose score is not positive; the model
    // may list zero-score items. Compare the positive-score prefix.
    let positive = recs.iter().filter(|s| s.score > 0.0).count();
    prop_assert!(got.len() <= expected.len() || expected.len() < 10);
    let n = positive.min(expected.len());
    if n == 0 {
        return Ok(());
    }
    let score = |j: u32| reference_score(&model, &cart_items, j);
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1.0);
    // The engine's scores are the model's.
    for (s, &j) in recs.iter().zip(&got) {
        prop_assert!(
            close(f64::from(s.score), score(j)),
            "{} vs {}",
            s.score,
            score(j)
        );
    }
    let mut a: Vec<f64> = got[..n].iter().map(|&j| score(j)).collect();
    let mut b: Vec<f64> = expected[..n].iter().map(|&j| score(j)).collect();
    a.sort_by(|x, y| y.total_cmp(x));
    b.sort_by(|x, y| y.total_cmp(x));
    for (x, y) in a.iter().zip(&b) {
        prop_assert!(close(*x, *y), "engine {a:?} vs model {b:?}");
    }
    let cut = b[n - 1];
    for &j in &expected[..n] {
        if !close(score(j), cut) {
            prop_assert!(got[..n].contains(&j), "{} missing", log.sku(j));
        }
    }
    for &j in &got[..n] {
        if !close(score(j), cut) {
            prop_assert!(expected[..n].contains(&j), "{} extra", log.sku(j));
        }
    }
    Ok(())
}

/// Found by the property below: two items tie exactly at the 10th place,
/// and the engine keeps one, the model the other.
#[test]
fn a_tie_at_the_cut_may_keep_either_item() {
    let orders: Vec<Vec<u8>> = vec![
        vec![5],
        vec![2, 3],
        vec![4, 0],
        vec![9, 8, 11],
        vec![12],
        vec![12, 6, 10],
        vec![2, 1],
    ];
    check_engine_matches_model(&orders, &[5]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn engine_matches_the_model(
        orders in proptest::collection::vec(proptest::collection::vec(0u8..14, 1..6), 4..60),
        cart in proptest::collection::vec(0u8..14, 1..4),
    ) {
        check_engine_matches_model(&orders, &cart)?;
    }
}
