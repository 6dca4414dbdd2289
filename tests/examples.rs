//! The examples, run as a user would run them (`cargo run --example …`),
//! with their output checked.
//!
//! Each example is run once per case through the `cargo` that runs these
//! tests; the first run builds it, so this file is slow the first time and
//! quick after. The `shop` output is shared by the tests that read it.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs `cargo run --quiet --example <args>` in the crate's directory.
fn cargo_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example"])
        .args(args)
        .output()
        .expect("cargo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// The demo's standard output, from one run shared by the tests.
fn shop() -> &'static str {
    static OUT: OnceLock<String> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = cargo_run(&["shop"]);
        assert!(
            out.status.success(),
            "shop failed: {}\n{}",
            out.status,
            text(&out.stderr)
        );
        text(&out.stdout)
    })
}

/// The lines of the section whose `== ` title starts with `title`, up to
/// the next blank line.
fn section(title: &str) -> Vec<&'static str> {
    let mut lines = shop().lines();
    let head = format!("== {title}");
    lines
        .by_ref()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no section {title:?} in:\n{}", shop()));
    lines.take_while(|l| !l.trim().is_empty()).collect()
}

/// The row of a section that names `product`.
fn row<'a>(lines: &[&'a str], product: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.trim_start().starts_with(product))
        .unwrap_or_else(|| panic!("no row for {product:?} in {lines:#?}"))
}

#[test]
fn shop_prints_every_section() {
    let out = shop();
    assert!(out.starts_with("cartwise demo shop: "), "{out}");
    for title in [
        "A phone on its own",
        "A laptop and a mouse",
        "A phone with its case",
        "Headphones, a tablet and a brand-new laptop with no curated links",
        "Variants: a 45mm Trail Watch",
        "Quantities: two photo printers and one pack of paper",
        "Bundles for a cart with Phone 15, Book Air 13 and a mouse",
        "One page, three placements, for a cart with Phone 15",
        "Conditions: Phone 15 on 2026-12-10",
        "Conditions: Book Air 13 for a b2b customer",
    ] {
        assert!(!section(title).is_empty(), "section {title:?} is empty");
    }
}

#[test]
fn shop_shows_the_45mm_band_and_upgrade_for_the_45mm_watch() {
    let lines = section("Variants: a 45mm Trail Watch");
    let band = row(&lines, "Trail Loop Band 45mm");
    assert!(band.contains("cross_sell"), "{band}");
    assert!(
        band.contains(r#"accessory for "Trail Watch 45mm""#),
        "{band}"
    );
    let upgrade = row(&lines, "Trail Watch Pro 45mm");
    assert!(upgrade.contains("upsell"), "{upgrade}");
    assert!(
        lines.iter().all(|l| !l.contains("41mm")),
        "a 41mm variant for a 45mm watch: {lines:#?}"
    );
}

#[test]
fn shop_suggests_five_packs_of_paper_for_two_printers() {
    let lines = section("Quantities: two photo printers");
    let paper = row(&lines, "Photo Paper, 20 sheets");
    let cells: Vec<&str> = paper.split_whitespace().collect();
    // name (4 words), kind, quantity, price, reason
    assert_eq!(cells[4..7], ["cross_sell", "5", "14.90"], "{paper}");
    assert!(paper.contains(r#"consumable for "Pocket Photo Printer""#));
}

#[test]
fn shop_prints_the_bundle_savings() {
    let lines = section("Bundles for a cart");
    let kit = row(&lines, "Phone 15 Starter Kit");
    // 10% off 799.00 + 39.00 + 29.00 = 867.00.
    assert!(
        kit.contains("add Clear Case for Phone 15 + Glass Screen Protector for Phone 15"),
        "{kit}"
    );
    assert!(
        kit.contains("780.30 for the set instead of 867.00 (you save 86.70)"),
        "{kit}"
    );
    let work = row(&lines, "Work-from-anywhere Kit");
    assert!(
        work.contains(
            "add Felt Sleeve 13 inch: 1149.00 for the set instead of 1177.00 (you save 28.00)"
        ),
        "{work}"
    );
}

#[test]
fn shop_fills_three_placements_without_repeats() {
    let lines = section("One page, three placements");
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let mut seen = Vec::new();
    for (line, (name, limit)) in
        lines
            .iter()
            .zip([("product_page", 4), ("cart", 4), ("checkout", 2)])
    {
        let rest = line
            .trim_start()
            .strip_prefix(name)
            .unwrap_or_else(|| panic!("{line:?} is not the {name} placement"));
        let products: Vec<&str> = rest.split(" | ").map(str::trim).collect();
        assert!(
            !products.is_empty() && products.len() <= limit,
            "{name}: {products:?}"
        );
        for p in products {
            assert!(!seen.contains(&p), "{p} repeated");
            seen.push(p);
        }
    }
}

#[test]
fn shop_shows_the_conditional_links() {
    let december = section("Conditions: Phone 15 on 2026-12-10");
    row(&december, "Gift Box with Ribbon");
    let b2b = section("Conditions: Book Air 13 for a b2b customer");
    row(&b2b, "View 27 QHD Monitor");
    // The sleeve was bought before and is durable.
    assert!(
        b2b.iter().all(|l| !l.contains("Felt Sleeve 13 inch")),
        "{b2b:#?}"
    );
    // Without the date, no gift box for the phone alone.
    let plain = section("A phone with its case");
    assert!(plain.iter().all(|l| !l.contains("Gift Box")));
}

#[test]
fn recommend_json_has_a_reason_for_every_suggestion() {
    let out = cargo_run(&[
        "recommend",
        "--",
        "--catalog",
        "examples/data/electronics.json",
        "--cart",
        "PH-15,CASE-15",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(
        v["cart"],
        serde_json::json!([{"sku": "PH-15", "quantity": 1}, {"sku": "CASE-15", "quantity": 1}])
    );
    let suggestions = v["suggestions"].as_array().expect("a suggestions array");
    assert!(!suggestions.is_empty() && suggestions.len() <= 5);
    for s in suggestions {
        let sku = s["sku"].as_str().expect("sku");
        assert!(sku != "PH-15" && sku != "CASE-15", "{sku} is in the cart");
        assert!(
            matches!(s["kind"].as_str(), Some("cross_sell" | "upsell")),
            "{s}"
        );
        assert!(s["score"].as_f64().is_some_and(f64::is_finite), "{s}");
        assert!(!s["reason"].as_str().expect("reason").is_empty(), "{s}");
        if s["kind"] == "upsell" {
            assert_eq!(s["replaces"], "PH-15", "{s}");
        }
    }
    // The care plan's link is pinned, so it comes first; the rest follow
    // in descending score order.
    assert_eq!(suggestions[0]["sku"], "WAR-PHONE");
    let scores: Vec<f64> = suggestions[1..]
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn recommend_reports_an_unknown_sku() {
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data/electronics.json")
        .is_file());
    let out = cargo_run(&[
        "recommend",
        "--",
        "--catalog",
        "examples/data/electronics.json",
        "--cart",
        "PH-15,NOPE-1",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(r#"unknown SKU "NOPE-1""#), "{err}");
    assert!(out.stdout.is_empty());
}

/// EVALUATION.md is written by `scripts/evaluation.sh` from
/// `scripts/evaluation_head.md` (its prose, with `SUMMARY_ROWS` where the
/// summary table's rows go) and the evaluate runs. Prose edited in
/// EVALUATION.md alone would be lost the next time it is regenerated, so
/// the two must agree everywhere but the generated rows.
#[test]
fn evaluation_md_prose_is_its_generator_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("file in the repository");
    let head = read("scripts/evaluation_head.md");
    let doc = read("EVALUATION.md");
    let (before, after) = head
        .split_once("SUMMARY_ROWS\n")
        .expect("the head has a SUMMARY_ROWS line");
    assert!(
        doc.starts_with(before),
        "EVALUATION.md's text before the summary rows differs from scripts/evaluation_head.md; \
         edit the head and regenerate (bash scripts/evaluation.sh)"
    );
    let rest = &doc[before.len()..];
    let rows = rest
        .lines()
        .take_while(|l| l.starts_with("| "))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    assert!(rows > 0, "EVALUATION.md has no summary rows");
    assert!(
        rest[rows..].starts_with(after),
        "EVALUATION.md's text after the summary rows differs from scripts/evaluation_head.md; \
         edit the head and regenerate (bash scripts/evaluation.sh)"
    );
}
