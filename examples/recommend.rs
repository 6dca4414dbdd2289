//! Suggestions for any catalog in the cartwise JSON format.
//!
//! ```text
//! cargo run --release --example recommend -- --catalog FILE.json --cart SKU[,SKU...] [--limit N] [--json]
//! ```
//!
//! A cart entry may carry a quantity: `PH-15:2`. With `--json` the output is
//! one JSON object: `{"version": 0, "cart": [...], "suggestions": [{"sku", "name",
//! "kind", "price", "score", "reason", ...}]}`; otherwise a table.

use std::process::ExitCode;

use cartwise::{catalog_json, InlineCart, Recommender, Request};

const USAGE: &str =
    "usage: recommend --catalog FILE.json --cart SKU[:QTY][,SKU[:QTY]...] [--limit N] [--json]";

struct Args {
    catalog: String,
    cart: Vec<(String, u32)>,
    limit: usize,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut catalog = None;
    let mut cart = None;
    let mut limit = cartwise::DEFAULT_LIMIT;
    let mut json = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--catalog" => catalog = Some(it.next().ok_or("--catalog needs a file")?),
            "--cart" => cart = Some(it.next().ok_or("--cart needs SKUs")?),
            "--limit" => {
                let v = it.next().ok_or("--limit needs a number")?;
                limit = v
                    .parse()
                    .map_err(|_| format!("--limit: not a number: {v:?}"))?;
            }
            "--json" => json = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let catalog = catalog.ok_or_else(|| format!("missing --catalog\n{USAGE}"))?;
    let cart = cart.ok_or_else(|| format!("missing --cart\n{USAGE}"))?;
    let cart = cart
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|entry| match entry.rsplit_once(':') {
            Some((sku, q)) => q
                .parse()
                .map(|q| (sku.to_owned(), q))
                .map_err(|_| format!("bad quantity in cart entry {entry:?}")),
            None => Ok((entry.to_owned(), 1)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Args {
        catalog,
        cart,
        limit,
        json,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> cartwise::Result<()> {
    let engine = catalog_json::from_json_file(&args.catalog)?.into_engine()?;
    let cart = InlineCart::from_skus(
        engine.catalog(),
        args.cart.iter().map(|(s, q)| (s.as_str(), *q)),
    )?;
    let recs = engine.recommend(&cart, &Request::new().limit(args.limit))?;
    let views: Vec<_> = recs.iter().map(|s| engine.view(s)).collect();
    if args.json {
        let out = serde_json::json!({
            "version": recs.version,
            "cart": args.cart.iter().map(|(s, q)| serde_json::json!({"sku": s, "quantity": q})).collect::<Vec<_>>(),
            "suggestions": views,
        });
        println!("{out}");
    } else {
        println!(
            "{:<16} {:<10} {:>10} {:>6}  reason",
            "sku", "kind", "price", "score"
        );
        for v in &views {
            println!(
                "{:<16} {:<10} {:>3} {:>10} {:>6.3}  {}",
                v.sku,
                v.kind.to_string(),
                v.quantity,
                v.price.to_string(),
                v.score,
                v.reason
            );
        }
    }
    Ok(())
}
