//! The cartwise demo: an electronics shop.
//!
//! Loads the bundled catalog (`examples/data/electronics.json`: 82 products
//! in 18 categories, nine three-tier families, curated complement edges and
//! category rules), then prints the suggestions for four sample carts as a
//! table: product, kind, price and the reason.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example shop
//! ```

use cartwise::catalog_json;
use cartwise::{Cart, Catalog, InlineCart, Recommender, Request, Result};

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
        let recs = engine.recommend(&cart, &Request::new().limit(6))?;
        println!(
            "   {:<40} {:<10} {:>9}  reason",
            "suggestion", "kind", "price"
        );
        for s in &recs {
            let v = engine.view(s);
            println!(
                "   {:<40} {:<10} {:>9}  {}",
                clip(&v.name, 40),
                v.kind.to_string(),
                v.price.to_string(),
                v.reason
            );
        }
        if recs.is_empty() {
            println!("   (no suggestions)");
        }
        println!();
    }
    Ok(())
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
