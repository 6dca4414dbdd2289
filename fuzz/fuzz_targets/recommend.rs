//! Fuzzes `recommend` with carts and requests made from the input bytes,
//! against the demo catalog (`examples/data/electronics.json`), and checks
//! the rules that always hold: no suggestion is in the cart (except a
//! cross-sell topping up a quantity-aware link), none is repeated, at most `limit`, scores finite and in descending order unless
//! pinned, nothing above the budget.
#![no_main]

use std::sync::OnceLock;

use cartwise::{
    catalog_json, CartLine, Catalog, Day, Engine, Kinds, Money, ProductId, Recommender, Request,
    Scratch,
};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        catalog_json::from_json_str(include_str!("../../examples/data/electronics.json"))
            .and_then(|l| l.into_engine())
            .expect("the demo catalog loads")
    })
}

/// Reads bytes off the front of the input; zeros when it runs out.
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

fuzz_target!(|data: &[u8]| {
    let engine = engine();
    let catalog = engine.catalog();
    let n = catalog.len() as u32;
    let mut b = Bytes(data);

    let mut req = Request::new().limit(usize::from(b.u8()) % 110);
    req.kinds = match b.u8() % 3 {
        0 => Kinds::Both,
        1 => Kinds::CrossSell,
        _ => Kinds::Upsell,
    };
    let flags = b.u8();
    if flags & 1 != 0 {
        req.budget = Some(Money(u64::from(b.u32()) * 10));
    }
    if flags & 2 != 0 {
        req.max_per_category = Some(u32::from(b.u8() % 4));
    }
    if flags & 4 != 0 {
        req = req.exclude_sku(catalog.sku(ProductId(b.u32() % n)).to_owned());
    }
    if flags & 8 != 0 {
        req = req.exclude_category(format!("{}", b.u8()));
    }
    if flags & 16 != 0 {
        if let Some(d) = Day::from_ymd(
            2020 + i32::from(b.u8() % 10),
            1 + u32::from(b.u8() % 12),
            1 + u32::from(b.u8() % 28),
        ) {
            req = req.on(d);
        }
    }
    if flags & 32 != 0 {
        req = req.segment(["vip", "b2b", "student"][usize::from(b.u8() % 3)]);
    }
    if flags & 64 != 0 {
        req = req.purchased(catalog.sku(ProductId(b.u32() % n)).to_owned());
    }
    if flags & 128 != 0 {
        req = req.exclude_product(ProductId(b.u32() % (n + 2)));
    }

    // Cart: lines of (product, quantity); ids may fall outside the catalog
    // and quantities may be zero, to exercise the errors.
    let lines = usize::from(b.u8() % 24);
    let cart: Vec<CartLine> = (0..lines)
        .map(|_| CartLine {
            product: ProductId(b.u32() % (n + 2)),
            quantity: match b.u8() {
                0 => 0,
                255 => u32::MAX,
                q => u32::from(q % 5),
            },
        })
        .collect();

    let got = engine.recommend(&cart, &req);
    let mut scratch = Scratch::new();
    let with = engine
        .recommend_with(&mut scratch, &cart, &req)
        .map(|s| s.to_vec());
    assert_eq!(
        got.as_ref().ok().map(|r| &r.suggestions),
        with.as_ref().ok()
    );
    let Ok(recs) = got else { return };
    assert!(recs.len() <= req.limit);
    let mut seen = Vec::new();
    for s in &recs {
        assert!(s.score.is_finite(), "score {}", s.score);
        // Only a quantity-aware link may top up a line already in the cart.
        if cart.iter().any(|l| l.product == s.product) {
            assert_eq!(s.kind, cartwise::Kind::CrossSell, "upsold a cart product");
        }
        assert!(!seen.contains(&s.product), "suggested twice");
        seen.push(s.product);
        if let Some(budget) = req.budget {
            assert!(catalog.price(s.product) <= budget, "above budget");
        }
        let _ = engine.view(s);
    }
    let _ = engine.recommend_placements(
        &cart,
        &req,
        &[
            cartwise::Placement::new("a", 3, Kinds::Both),
            cartwise::Placement::new("b", 2, Kinds::CrossSell),
        ],
    );
    let _ = engine.bundle_offers(&cart);
});
