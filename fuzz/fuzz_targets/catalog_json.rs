//! Fuzzes the JSON catalog loader (`catalog_json::from_json_str`) and the
//! JSON engine state (`EngineState::from_json`). A catalog that loads must
//! build an engine, answer a cart and render the answer without panicking.
#![no_main]

use cartwise::{catalog_json, CartLine, Catalog, EngineState, ProductId, Recommender, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = EngineState::from_json(text);
    let Ok(loaded) = catalog_json::from_json_str(text) else {
        return;
    };
    let _ = loaded.to_json();
    let Ok(engine) = loaded.into_engine() else {
        return;
    };
    let n = engine.catalog().len();
    let cart: Vec<CartLine> = (0..n.min(4))
        .map(|i| CartLine {
            product: ProductId::from_index(i),
            quantity: 1 + i as u32,
        })
        .collect();
    if let Ok(recs) = engine.recommend(&cart, &Request::new().limit(20)) {
        for s in &recs {
            let _ = engine.view(s);
        }
    }
});
