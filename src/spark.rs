//! Association rules mined by Spark MLlib's `FPGrowth`.
//!
//! A shop with a Spark cluster can mine its order log there and hand the
//! result to cartwise. Spark's `FPGrowthModel.associationRules` is a
//! DataFrame with one row per rule; `model.associationRules.write.json(dir)`
//! stores it as JSON lines, one object per rule:
//!
//! ```text
//! {"antecedent":["beef"],"consequent":["citrus fruit"],"confidence":0.1858,"lift":1.9666,"support":0.0105}
//! ```
//!
//! * `antecedent`: the items a basket must hold for the rule to fire (one or
//!   more, in Spark's own order, not sorted);
//! * `consequent`: the item suggested (Spark always writes exactly one, this
//!   reader accepts several);
//! * `confidence`: `support(antecedent ∪ consequent) / support(antecedent)`,
//!   in `[0, 1]`;
//! * `lift`: `confidence / support(consequent)`; added in Spark 2.4, and null
//!   (which `write.json` omits) for a model saved by an older Spark;
//! * `support`: the share of orders holding antecedent and consequent
//!   together, in `[0, 1]`; added in Spark 3.1 (SPARK-19939).
//!
//! [`read_association_rules`] turns such a file into [`SparkRule`]s, in file
//! order. It only parses and checks the rules; it needs no catalog, so it
//! cannot tell whether a SKU exists. A rule with a one-item antecedent is a
//! complement edge (`antecedent -> consequent`, weighted by confidence); a
//! longer antecedent is an itemset rule that fires only when the cart holds
//! all of it. Resolving the SKUs and building those is the loader's job, and
//! that is where unknown SKUs are reported.
//!
//! Spark writes a directory of `part-*.json` files; read each one, or
//! concatenate them, since every line stands alone.
//!
//! # What is rejected
//!
//! Nothing here panics on bad input, and the first problem met ends the
//! read:
//!
//! * A line that is not a JSON object with the fields above, or whose
//!   `antecedent` or `consequent` is empty, holds an empty SKU or names a SKU
//!   twice, is [`Error::Json`] with the line's 1-based number in the file and
//!   the column serde_json points at. A number JSON cannot hold (`1e999`,
//!   `NaN`) is caught here too, so no non-finite value gets through.
//! * A well-formed rule with an impossible measure (a confidence or support
//!   outside `[0, 1]`, a negative lift) is [`Error::InvalidWeight`], naming the
//!   rule (`from` and `to` are the antecedent and consequent joined with
//!   `", "`) and the value.
//! * A rule with one SKU on both sides is [`Error::SelfEdge`].
//!
//! Blank lines are skipped and fields cartwise does not know are ignored, so
//! files from newer Spark versions with extra columns still load.
//!
//! # Example
//!
//! ```
//! use cartwise::spark::read_association_rules;
//!
//! let jsonl = r#"{"antecedent":["beef"],"consequent":["citrus fruit"],"confidence":0.19,"lift":1.97,"support":0.0105}
//! {"antecedent":["root vegetables","whole milk"],"consequent":["yogurt"],"confidence":0.41}
//! "#;
//! let rules = read_association_rules(jsonl.as_bytes())?;
//! assert_eq!(rules.len(), 2);
//! assert_eq!(rules[0].consequent, ["citrus fruit"]);
//! assert_eq!(rules[1].antecedent.len(), 2);
//! assert_eq!(rules[1].lift, None);
//! # Ok::<(), cartwise::Error>(())
//! ```

use std::io::BufRead;

use serde::de::{self, Deserialize, Deserializer};

use crate::{Error, Result};

/// One association rule as Spark MLlib's `FPGrowth` writes it.
///
/// Rules come from [`read_association_rules`], which guarantees the
/// invariants below.
#[derive(Clone, Debug, PartialEq)]
pub struct SparkRule {
    /// The items a basket must hold for the rule to fire. Non-empty, no empty
    /// or repeated SKU, in the order of the file (Spark's order, not sorted).
    pub antecedent: Vec<String>,
    /// The items the rule suggests. Non-empty, no empty or repeated SKU, none
    /// of them in `antecedent`. Spark writes exactly one.
    pub consequent: Vec<String>,
    /// How often the consequent is bought when the antecedent is: finite and
    /// in `[0, 1]`.
    pub confidence: f64,
    /// Confidence over the consequent's own support: finite and `>= 0` when
    /// present. `None` when the file has `null` or no `lift` field.
    pub lift: Option<f64>,
    /// The share of orders holding antecedent and consequent together:
    /// finite and in `[0, 1]` when present. `None` when the file has `null`
    /// or no `support` field.
    pub support: Option<f64>,
}

/// One line as serde sees it, before the checks serde cannot express.
#[derive(serde::Deserialize)]
struct RawRule {
    #[serde(deserialize_with = "antecedent")]
    antecedent: Vec<String>,
    #[serde(deserialize_with = "consequent")]
    consequent: Vec<String>,
    confidence: f64,
    #[serde(default)]
    lift: Option<f64>,
    #[serde(default)]
    support: Option<f64>,
}

fn antecedent<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    item_list(d, "antecedent")
}

fn consequent<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    item_list(d, "consequent")
}

/// Reads a list of SKUs and rejects it as a format error when it is empty,
/// holds an empty SKU or repeats one. Doing it inside serde, rather than after,
/// gives the error a column in the line.
fn item_list<'de, D: Deserializer<'de>>(d: D, side: &str) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    if items.is_empty() {
        return Err(de::Error::custom(format_args!(
            "empty {side}; a rule needs at least one item on each side"
        )));
    }
    for (i, item) in items.iter().enumerate() {
        if item.is_empty() {
            return Err(de::Error::custom(format_args!(
                "empty SKU at position {i} of the {side} {items:?}"
            )));
        }
        if items[..i].contains(item) {
            return Err(de::Error::custom(format_args!(
                "SKU {item:?} appears twice in the {side} {items:?}"
            )));
        }
    }
    Ok(items)
}

/// Reads Spark MLlib `FPGrowth` association rules from JSON lines.
///
/// Takes any [`BufRead`]: a file wrapped in a `BufReader`, or a byte slice
/// (`text.as_bytes()`). Returns the rules in file order, skipping blank lines.
/// See the [module docs](self) for the format and what is rejected.
///
/// Memory is the rules plus the longest line; one line is read at a time.
/// Runs in time linear in the input (plus, per rule, the square of its item
/// count for the repeat check; Spark's rules hold a handful of items).
///
/// # Errors
///
/// * [`Error::Json`] for a line that is not a rule object, with its 1-based
///   line number in the file, serde_json's column in that line, and what
///   serde_json said (without its own position, which would always say line
///   1);
/// * [`Error::InvalidWeight`] for a confidence or support outside `[0, 1]`, or a
///   negative lift (`from`/`to`: antecedent/consequent joined with `", "`);
/// * [`Error::SelfEdge`] for a SKU on both sides of a rule;
/// * [`Error::Io`] (with an empty path) when the reader fails.
pub fn read_association_rules<R: BufRead>(mut reader: R) -> Result<Vec<SparkRule>> {
    let mut rules = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("", e))?;
        if n == 0 {
            return Ok(rules);
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Without the line break, serde_json sees a one-line document and its
        // column is the column in the file's line, also for an early EOF.
        let mut text = &buf[..];
        while let [rest @ .., b'\n' | b'\r'] = text {
            text = rest;
        }
        // Bytes, not `str`: serde_json checks UTF-8 itself and reports where
        // it breaks, which `BufRead::lines` would not.
        let raw: RawRule = serde_json::from_slice(text).map_err(|e| json_error(line, &e))?;
        rules.push(check(raw)?);
    }
}

/// Turns a serde_json error for one line into [`Error::Json`] at `line`.
fn json_error(line: usize, e: &serde_json::Error) -> Error {
    // serde_json's Display appends " at line L column C"; that L is always 1
    // here (one document per line, line break cut off), so drop it and give
    // the file's line.
    let mut message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    if message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    Error::Json {
        line,
        column: e.column(),
        message,
    }
}

/// The checks on values, once the line has the right shape.
fn check(raw: RawRule) -> Result<SparkRule> {
    let invalid = |weight: f64| Error::InvalidWeight {
        from: raw.antecedent.join(", "),
        to: raw.consequent.join(", "),
        weight,
    };
    let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
    if !unit(raw.confidence) {
        return Err(invalid(raw.confidence));
    }
    if let Some(lift) = raw.lift {
        if !(lift.is_finite() && lift >= 0.0) {
            return Err(invalid(lift));
        }
    }
    if let Some(support) = raw.support {
        if !unit(support) {
            return Err(invalid(support));
        }
    }
    if let Some(both) = raw.consequent.iter().find(|c| raw.antecedent.contains(c)) {
        return Err(Error::SelfEdge { node: both.clone() });
    }
    Ok(SparkRule {
        antecedent: raw.antecedent,
        consequent: raw.consequent,
        confidence: raw.confidence,
        lift: raw.lift,
        support: raw.support,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by `scripts/spark_fpgrowth.py` from a real Spark 4.3.0 run
    /// (see `tests/fixtures/spark/README.md`).
    const FIXTURE: &str = include_str!("../tests/fixtures/spark/association_rules.jsonl");

    fn read(text: &str) -> Result<Vec<SparkRule>> {
        read_association_rules(text.as_bytes())
    }

    /// Asserts `Error::Json` at `line`/`column` with a message containing `needle`.
    fn assert_json(text: &str, line: usize, column: usize, needle: &str) {
        match read(text) {
            Err(Error::Json {
                line: l,
                column: c,
                message,
            }) => {
                assert_eq!((l, c), (line, column), "position; message {message:?}");
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
                assert!(
                    !message.contains(" at line "),
                    "{message:?} keeps serde's position"
                );
            }
            other => panic!("expected Error::Json, got {other:?}"),
        }
    }

    fn assert_invalid_weight(text: &str, from: &str, to: &str, weight: f64) {
        match read(text) {
            Err(Error::InvalidWeight {
                from: f,
                to: t,
                weight: w,
            }) => {
                assert_eq!((f.as_str(), t.as_str()), (from, to));
                assert!(
                    w == weight || (w.is_nan() && weight.is_nan()),
                    "{w} != {weight}"
                );
            }
            other => panic!("expected Error::InvalidWeight, got {other:?}"),
        }
    }

    #[test]
    fn fixture_parses_with_spark_counts() {
        let rules = read(FIXTURE).unwrap();
        // Numbers from the fixture README: 672 rules, 494 + 174 + 4 by
        // antecedent length.
        assert_eq!(rules.len(), 672);
        assert_eq!(rules.len(), FIXTURE.lines().count());
        let by_len = |n: usize| rules.iter().filter(|r| r.antecedent.len() == n).count();
        assert_eq!((by_len(1), by_len(2), by_len(3)), (494, 174, 4));
        for r in &rules {
            assert_eq!(r.consequent.len(), 1, "{r:?}");
            assert!((0.0..=1.0).contains(&r.confidence), "{r:?}");
            assert!(r.lift.is_some_and(|l| l > 0.0), "{r:?}");
            // minSupport was 0.01, and every rule meets it.
            assert!(
                r.support.is_some_and(|s| (0.01..=1.0).contains(&s)),
                "{r:?}"
            );
        }
    }

    #[test]
    fn fixture_matches_a_naive_parse() {
        // Reference: serde_json's generic Value, field by field.
        let rules = read(FIXTURE).unwrap();
        for (rule, text) in rules.iter().zip(FIXTURE.lines()) {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            let items = |k: &str| -> Vec<String> {
                let list = v[k].as_array().unwrap();
                list.iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect()
            };
            assert_eq!(rule.antecedent, items("antecedent"));
            assert_eq!(rule.consequent, items("consequent"));
            assert_eq!(Some(rule.confidence), v["confidence"].as_f64());
            assert_eq!(rule.lift, v["lift"].as_f64());
            assert_eq!(rule.support, v["support"].as_f64());
        }
    }

    #[test]
    fn fixture_has_a_two_item_antecedent_rule() {
        let rules = read(FIXTURE).unwrap();
        let rule = rules
            .iter()
            .find(|r| r.antecedent == ["curd", "whole milk"] && r.consequent == ["yogurt"])
            .expect("two-item rule in fixture");
        // 64 of the 2000 orders hold curd and whole milk, 27 of them yogurt too.
        assert_eq!(rule.confidence, 27.0 / 64.0);
        assert_eq!(rule.support, Some(27.0 / 2000.0));
    }

    #[test]
    fn fixture_measures_match_naive_counts_over_its_orders() {
        // Reference: count baskets in the orders Spark mined. The Groceries
        // SKUs hold no comma or quote, so splitting at the first comma is
        // enough here.
        let text = include_str!("../tests/fixtures/spark/orders.csv");
        let mut orders: Vec<(&str, Vec<&str>)> = Vec::new();
        for row in text.lines().skip(1) {
            let (id, sku) = row.split_once(',').unwrap();
            match orders.last_mut() {
                Some((last, skus)) if *last == id => skus.push(sku),
                _ => orders.push((id, vec![sku])),
            }
        }
        assert_eq!(orders.len(), 2000);
        let count = |items: &[&String]| {
            let holds = |o: &Vec<&str>| items.iter().all(|i| o.contains(&i.as_str()));
            orders.iter().filter(|(_, o)| holds(o)).count() as f64
        };
        let n = orders.len() as f64;
        for r in read(FIXTURE).unwrap() {
            let lhs: Vec<&String> = r.antecedent.iter().collect();
            let both: Vec<&String> = r.antecedent.iter().chain(&r.consequent).collect();
            let rhs: Vec<&String> = r.consequent.iter().collect();
            let (c_lhs, c_both, c_rhs) = (count(&lhs), count(&both), count(&rhs));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12;
            assert!(close(r.support.unwrap(), c_both / n), "{r:?}");
            assert!(close(r.confidence, c_both / c_lhs), "{r:?}");
            assert!(
                close(r.lift.unwrap(), (c_both / c_lhs) / (c_rhs / n)),
                "{r:?}"
            );
        }
    }

    #[test]
    fn fixture_keeps_trailing_spaces_in_skus() {
        // Groceries has "cream cheese " with a trailing space; it is a
        // different SKU from "cream cheese" and must survive untouched.
        let rules = read(FIXTURE).unwrap();
        assert!(rules.iter().any(|r| r.antecedent == ["cream cheese "]));
    }

    #[test]
    fn lift_and_support_may_be_null_or_absent() {
        let rules = read(concat!(
            r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5,"lift":null,"support":null}"#,
            "\n",
            r#"{"antecedent":["a"],"consequent":["c"],"confidence":0.5}"#,
        ))
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert!(rules
            .iter()
            .all(|r| r.lift.is_none() && r.support.is_none()));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let rules =
            read(r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5,"leverage":0.1}"#)
                .unwrap();
        assert_eq!(rules[0].antecedent, ["a"]);
    }

    #[test]
    fn blank_lines_and_crlf_are_skipped() {
        let text = "\n  \r\n{\"antecedent\":[\"a\"],\"consequent\":[\"b\"],\"confidence\":1}\r\n\n";
        let rules = read(text).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].confidence, 1.0);
        assert!(read("").unwrap().is_empty());
    }

    #[test]
    fn malformed_line_reports_its_line_in_the_file() {
        // Two good lines and a blank, then a truncated object on line 4.
        let good = r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5}"#;
        let text = format!("{good}\n\n{good}\n{{\"antecedent\":[\"a\"],\n");
        assert_json(&text, 4, 20, "EOF while parsing");
    }

    #[test]
    fn trailing_garbage_is_json_error() {
        let text = r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5} x"#;
        assert_json(text, 1, 58, "trailing characters");
    }

    #[test]
    fn missing_confidence_is_json_error() {
        assert_json(
            r#"{"antecedent":["a"],"consequent":["b"]}"#,
            1,
            39,
            "missing field `confidence`",
        );
    }

    #[test]
    fn wrong_type_is_json_error() {
        assert_json(
            r#"{"antecedent":"a","consequent":["b"],"confidence":0.5}"#,
            1,
            17,
            "invalid type: string \"a\", expected a sequence",
        );
    }

    #[test]
    fn invalid_utf8_is_json_error() {
        let mut bytes = br#"{"antecedent":["a"#.to_vec();
        bytes.extend_from_slice(&[0xff, b'"']);
        bytes.extend_from_slice(br#"],"consequent":["b"],"confidence":0.5}"#);
        match read_association_rules(&bytes[..]) {
            Err(Error::Json {
                line: 1, message, ..
            }) => {
                assert!(
                    message.contains("invalid unicode code point"),
                    "{message:?}"
                );
            }
            other => panic!("expected Error::Json, got {other:?}"),
        }
    }

    #[test]
    fn empty_antecedent_is_json_error() {
        assert_json(
            r#"{"antecedent":[],"consequent":["b"],"confidence":0.5}"#,
            1,
            16,
            "empty antecedent",
        );
    }

    #[test]
    fn empty_consequent_is_json_error() {
        assert_json(
            r#"{"antecedent":["a"],"consequent":[],"confidence":0.5}"#,
            1,
            35,
            "empty consequent",
        );
    }

    #[test]
    fn empty_sku_is_json_error() {
        assert_json(
            r#"{"antecedent":["a",""],"consequent":["b"],"confidence":0.5}"#,
            1,
            22,
            r#"empty SKU at position 1 of the antecedent ["a", ""]"#,
        );
    }

    #[test]
    fn repeated_sku_is_json_error() {
        assert_json(
            r#"{"antecedent":["a"],"consequent":["b","b"],"confidence":0.5}"#,
            1,
            42,
            r#"SKU "b" appears twice in the consequent ["b", "b"]"#,
        );
    }

    #[test]
    fn overflowing_confidence_is_json_error() {
        // The only way to write a non-finite number in JSON.
        assert_json(
            r#"{"antecedent":["a"],"consequent":["b"],"confidence":1e999}"#,
            1,
            57,
            "number out of range",
        );
    }

    #[test]
    fn nan_confidence_is_json_error() {
        assert_json(
            r#"{"antecedent":["a"],"consequent":["b"],"confidence":NaN}"#,
            1,
            53,
            "expected value",
        );
    }

    #[test]
    fn negative_confidence_is_invalid_weight() {
        assert_invalid_weight(
            r#"{"antecedent":["a","b c"],"consequent":["d"],"confidence":-0.25}"#,
            "a, b c",
            "d",
            -0.25,
        );
    }

    #[test]
    fn confidence_above_one_is_invalid_weight() {
        assert_invalid_weight(
            "\n{\"antecedent\":[\"milk\"],\"consequent\":[\"bread\"],\"confidence\":1.5}",
            "milk",
            "bread",
            1.5,
        );
    }

    #[test]
    fn non_finite_confidence_is_invalid_weight() {
        // JSON text cannot carry one (see the two tests above), so feed the
        // value check directly.
        let raw = RawRule {
            antecedent: vec!["a".into()],
            consequent: vec!["b".into()],
            confidence: f64::INFINITY,
            lift: None,
            support: None,
        };
        match check(raw) {
            Err(Error::InvalidWeight { from, to, weight }) => {
                assert_eq!(
                    (from.as_str(), to.as_str(), weight),
                    ("a", "b", f64::INFINITY)
                );
            }
            other => panic!("expected Error::InvalidWeight, got {other:?}"),
        }
    }

    #[test]
    fn negative_lift_is_invalid_weight() {
        assert_invalid_weight(
            r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5,"lift":-1.0}"#,
            "a",
            "b",
            -1.0,
        );
    }

    #[test]
    fn support_above_one_is_invalid_weight() {
        assert_invalid_weight(
            r#"{"antecedent":["a"],"consequent":["b"],"confidence":0.5,"support":2.0}"#,
            "a",
            "b",
            2.0,
        );
    }

    #[test]
    fn sku_on_both_sides_is_self_edge() {
        match read(r#"{"antecedent":["a","b"],"consequent":["b"],"confidence":0.5}"#) {
            Err(Error::SelfEdge { node }) => assert_eq!(node, "b"),
            other => panic!("expected Error::SelfEdge, got {other:?}"),
        }
    }

    #[test]
    fn io_error_is_reported() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        match read_association_rules(std::io::BufReader::new(Failing)) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, "");
                assert_eq!(source.to_string(), "disk on fire");
            }
            other => panic!("expected Error::Io, got {other:?}"),
        }
    }
}
