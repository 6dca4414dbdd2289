//! Fuzzes the snapshot loader.
//!
//! Every input is loaded twice: as given (almost always stopped by the
//! header or the checksum), and with the header's payload length and
//! checksum recomputed, so the fuzzer reaches the section decoder and the
//! validators behind the checksum. A state that loads must build an
//! engine, answer a cart without panicking, and save to the same bytes.
#![no_main]

use cartwise::snapshot::{checksum, HEADER_LEN};
use cartwise::{CartLine, Catalog, EngineState, ProductId, Recommender, Request};
use libfuzzer_sys::fuzz_target;

fn exercise(bytes: &[u8]) {
    let Ok(state) = EngineState::from_bytes(bytes) else {
        return;
    };
    let again = state.to_bytes().expect("a loaded state saves");
    assert_eq!(
        EngineState::from_bytes(&again).expect("a saved state loads"),
        state
    );
    let engine = state.to_engine().expect("a loaded state builds an engine");
    let n = engine.catalog().len();
    if n == 0 {
        return;
    }
    let cart: Vec<CartLine> = (0..n.min(3))
        .map(|i| CartLine {
            product: ProductId::from_index(i),
            quantity: 1,
        })
        .collect();
    if let Ok(recs) = engine.recommend(&cart, &Request::new().limit(10)) {
        for s in &recs {
            let _ = engine.view(s);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= HEADER_LEN {
        let mut fixed = data.to_vec();
        let payload_len = (fixed.len() - HEADER_LEN) as u64;
        let sum = checksum(&fixed[HEADER_LEN..]);
        fixed[12..20].copy_from_slice(&payload_len.to_le_bytes());
        fixed[20..28].copy_from_slice(&sum.to_le_bytes());
        exercise(&fixed);
    }
});
