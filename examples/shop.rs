//! The cartwise demo: an electronics shop.
//!
//! Loads the bundled catalog (`examples/data/electronics.json`: 91 products
//! in 21 categories, ten tiered families, typed curated links, category
//! rules, size variants, bundles), then shows
//!
//! 1. the suggestions for four sample carts as a table (product, kind,
//!    quantity, price, reason);
//! 2. variants: a 45mm watch gets the 45mm band and the 45mm Pro upgrade;
//! 3. quantities: two photo printers call for six packs of paper;
//! 4. bundles: the rest of a bundle, with the saving;
//! 5. one page with three placements that never repeat a product;
//! 6. conditions: a dated gift-box link, a b2b-only link, and what a
//!    customer bought before.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example shop
//! ```

use cartwise::catalog_json;
use cartwise::{
    Cart, Catalog, Day, Engine, InlineCart, Kinds, Placement, Recommender, Request, Result,
    Suggestion,
};

const CATALOG: &str = include_str!("data/electronics.json");

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let engine = catalog_json::from_json_str(CATALOG)?.into_engine()?;
    let catalog = engine.catalog();
    println!(
        "cartwise demo shop: {} products, {} categories\n",
        catalog.len(),
        catalog.category_count()
    );

    let carts: [(&str, &[(&str, u32)]); 4] = [
        ("A phone on its own", &[("PH-15-PRO", 1)]),
        ("A laptop and a mouse", &[("LT-AIR13", 1), ("MOUSE-WL", 1)]),
        ("A phone with its case", &[("PH-15", 1), ("CASE-15", 1)]),
        (
            "Headphones, a tablet and a brand-new laptop with no curated links",
            &[("HP-SW-PLUS", 1), ("TB-PAD", 1), ("LT-STUDIO-15", 1)],
        ),
    ];
    for (title, lines) in carts {
        let cart = InlineCart::from_skus(catalog, lines.iter().copied())?;
        section(&engine, title, &cart, &Request::new().limit(6))?;
    }

    // Variants: the band is linked to the 41mm variant; the cart's 45mm
    // watch gets the 45mm band, and the upgrade keeps the size.
    let cart = InlineCart::from_skus(catalog, [("TW-1-45", 1)])?;
    section(
        &engine,
        "Variants: a 45mm Trail Watch",
        &cart,
        &Request::new().limit(4),
    )?;

    // Quantities: three packs of paper per printer, two printers.
    let cart = InlineCart::from_skus(catalog, [("PRN-PHOTO", 2), ("PAPER-PHOTO-20", 1)])?;
    section(
        &engine,
        "Quantities: two photo printers and one pack of paper",
        &cart,
        &Request::new().limit(3),
    )?;

    // Bundles: the cart holds part of two bundles.
    let cart = InlineCart::from_skus(catalog, [("PH-15", 1), ("LT-AIR13", 1), ("MOUSE-WL", 1)])?;
    println!("== Bundles for a cart with Phone 15, Book Air 13 and a mouse");
    for offer in engine.bundle_offers(&cart)? {
        let bundle = &engine.bundles().list()[offer.bundle];
        let missing: Vec<&str> = offer.missing.iter().map(|&p| catalog.name(p)).collect();
        println!(
            "   {:<26} add {}: {} for the set instead of {} (you save {})",
            bundle.name,
            missing.join(" + "),
            offer.price,
            offer.regular_price,
            offer.saving
        );
    }
    println!();

    // Placements: one product page, three slots, no product twice.
    let cart = InlineCart::from_skus(catalog, [("PH-15", 1)])?;
    println!("== One page, three placements, for a cart with Phone 15");
    let placements = [
        Placement::new("product_page", 4, Kinds::Both),
        Placement::cart(),
        Placement::checkout(),
    ];
    for (placement, recs) in
        placements
            .iter()
            .zip(engine.recommend_placements(&cart, &Request::new(), &placements)?)
    {
        let names: Vec<&str> = recs.iter().map(|s| catalog.name(s.product)).collect();
        println!("   {:<13} {}", placement.name, names.join(" | "));
    }
    println!();

    // Conditions: a December gift-box link, a b2b-only monitor link, and a
    // customer who bought the sleeve last year (durable: not offered again).
    let cart = InlineCart::from_skus(catalog, [("PH-15", 1)])?;
    let december = "2026-12-10".parse::<Day>()?;
    section(
        &engine,
        "Conditions: Phone 15 on 2026-12-10 (the gift-box link is dated Dec 1-24)",
        &cart,
        &Request::new().limit(6).on(december),
    )?;
    let cart = InlineCart::from_skus(catalog, [("LT-AIR13", 1)])?;
    section(
        &engine,
        "Conditions: Book Air 13 for a b2b customer who bought the 13-inch sleeve before",
        &cart,
        &Request::new()
            .limit(6)
            .segment("b2b")
            .purchased("BAG-SLV-13"),
    )?;
    Ok(())
}

/// Prints one cart and its suggestions as a table.
fn section(engine: &Engine, title: &str, cart: &InlineCart, request: &Request) -> Result<()> {
    let catalog = engine.catalog();
    println!("== {title}");
    let names: Vec<String> = cart
        .lines()
        .iter()
        .map(|l| {
            format!(
                "{} x{} ({})",
                catalog.name(l.product),
                l.quantity,
                catalog.price(l.product)
            )
        })
        .collect();
    println!("   cart: {}", names.join(", "));
    let recs = engine.recommend(cart, request)?;
    println!(
        "   {:<40} {:<10} {:>3} {:>9}  reason",
        "suggestion", "kind", "qty", "price"
    );
    for s in &recs {
        print_row(engine, s);
    }
    if recs.is_empty() {
        println!("   (no suggestions)");
    }
    println!();
    Ok(())
}

fn print_row(engine: &Engine, s: &Suggestion) {
    let v = engine.view(s);
    println!(
        "   {:<40} {:<10} {:>3} {:>9}  {}",
        clip(&v.name, 40),
        v.kind.to_string(),
        v.quantity,
        v.price.to_string(),
        v.reason
    );
}

/// Shortens `s` to `max` characters, marking the cut with an ellipsis.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
