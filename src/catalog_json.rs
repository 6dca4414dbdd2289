//! The JSON catalog format: products, complement edges and category rules
//! in one file a merchant can write by hand.
//!
//! ```json
//! {
//!   "products": [
//!     {"sku": "PH-15", "name": "Phone 15", "price": 79900, "category": "phones",
//!      "family": "Phone 15", "tier": 1, "features": ["5g", "oled"],
//!      "stock": 25, "cost": 52000, "popularity": 840},
//!     {"sku": "CASE-15", "name": "Clear Case for Phone 15", "price": 2900, "category": "phone-cases"}
//!   ],
//!   "complements": [ {"from": "PH-15", "to": "CASE-15", "weight": 0.9} ],
//!   "category_complements": [ {"from": "phones", "to": "phone-cases", "weight": 0.5} ],
//!   "rules": { "exclude_skus": [], "max_per_category": 2, "boosts": [["CASE-15", 1.2]], "pins": [] }
//! }
//! ```
//!
//! Prices and costs are integers in minor units. `family`, `tier`,
//! `features`, `stock` (omit = not tracked), `cost` and `popularity` are
//! optional; `complements`, `category_complements` and `rules` may be left
//! out. Unknown keys are errors, so a typo (`"prise"`) does not pass
//! silently.
//!
//! Every error says where: a syntax or type error carries serde's line and
//! column ([`Error::Json`]); an invalid element (a duplicate SKU, an edge to
//! an unknown SKU, a negative weight) is an [`Error::Located`] naming the
//! element (`complements[3]`), the line and column where it starts, and the
//! typed error inside.

use std::path::Path;

use crate::bundle::{BundleSpec, Bundles};
use crate::catalog::{Catalog, CatalogBuilder, InMemoryCatalog};
use crate::error::{Error, Result};
use crate::graph::{CategoryLink, CategoryRules, ComplementGraph, Link};
use crate::product::Product;
use crate::recommend::{Engine, Rules};
use crate::relation::RelationType;

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// The products.
    pub products: Vec<Product>,
    /// Product -> product links.
    #[serde(default)]
    pub complements: Vec<Link>,
    /// Category -> category rules.
    #[serde(default)]
    pub category_complements: Vec<CategoryLink>,
    /// Merchant rules.
    #[serde(default)]
    pub rules: Rules,
    /// User-defined relation types (or changes to built-in ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<RelationType>,
    /// Attributes suggestions match with the cart's variant (e.g. `size`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_attributes: Vec<String>,
    /// Categories whose products may be bought again (consumables).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repurchasable_categories: Vec<String>,
    /// Bundles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<BundleSpec>,
}

/// A loaded and validated catalog file.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedCatalog {
    /// The catalog.
    pub catalog: InMemoryCatalog,
    /// The curated complement graph.
    pub graph: ComplementGraph,
    /// The category rules.
    pub category_rules: CategoryRules,
    /// The merchant rules.
    pub rules: Rules,
    /// The bundles.
    pub bundles: Bundles,
}

impl LoadedCatalog {
    /// The standard engine ([`Engine::standard`]) with the file's rules.
    ///
    /// # Errors
    /// As [`crate::EngineBuilder::build`].
    pub fn into_engine(self) -> Result<Engine> {
        use std::sync::Arc;
        Engine::builder(self.catalog)
            .strategy(crate::CrossSell::new(
                Arc::new(self.graph),
                Arc::new(self.category_rules),
            ))
            .strategy(crate::Upsell::default())
            .rules(self.rules)
            .bundles(self.bundles)
            .build()
    }
}

/// Parses and validates a catalog from JSON text.
///
/// # Errors
/// [`Error::Json`] for syntax and shape errors, [`Error::Located`] for an
/// invalid element; nothing is returned on error.
pub fn from_json_str(text: &str) -> Result<LoadedCatalog> {
    let file: CatalogFile = serde_json::from_str(text).map_err(|e| Error::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let locate = |key: &str, index: usize, source: Error| {
        let (line, column) = locate_element(text, key, index).unwrap_or((0, 0));
        Error::Located {
            location: format!("{key}[{index}]"),
            line,
            column,
            source: Box::new(source),
        }
    };
    let mut b = CatalogBuilder::new();
    for (i, r) in file.relations.into_iter().enumerate() {
        b.relation(r).map_err(|e| locate("relations", i, e))?;
    }
    for a in file.match_attributes {
        b.match_attribute(a);
    }
    for c in file.repurchasable_categories {
        b.repurchasable_category(c);
    }
    let skus: Vec<String> = file.products.iter().map(|p| p.sku.clone()).collect();
    for (i, p) in file.products.into_iter().enumerate() {
        b.add(p).map_err(|e| locate("products", i, e))?;
    }
    // A shared tier shows only once the whole catalog is known: point at
    // the later of the two products in the file.
    let catalog = b.build().map_err(|e| {
        let at = match &e {
            Error::DuplicateTier { first, second, .. } => {
                skus.iter().rposition(|s| s == first || s == second)
            }
            _ => None,
        };
        match at {
            Some(i) => locate("products", i, e),
            None => e,
        }
    })?;
    let mut g = ComplementGraph::builder(&catalog);
    for (i, link) in file.complements.iter().enumerate() {
        g.link(link).map_err(|err| locate("complements", i, err))?;
    }
    let graph = g.build()?;
    let mut rules = Vec::with_capacity(file.category_complements.len());
    for (i, l) in file.category_complements.iter().enumerate() {
        rules.push(
            CategoryRules::resolve_link(&catalog, l)
                .map_err(|err| locate("category_complements", i, err))?,
        );
    }
    let category_rules = CategoryRules::from_resolved(catalog.category_count(), rules);
    let mut bundles = Vec::with_capacity(file.bundles.len());
    for (i, spec) in file.bundles.iter().enumerate() {
        bundles.push(
            Bundles::from_specs(&catalog, std::slice::from_ref(spec))
                .map_err(|err| locate("bundles", i, err))?,
        );
    }
    let bundles = Bundles::merge(bundles);
    // Check the merchant rules now, so a bad one is reported with its place
    // rather than later by `into_engine`.
    crate::recommend::check_rules(&catalog, &file.rules).map_err(|err| {
        let (line, column) = locate_element(text, "rules", usize::MAX).unwrap_or((0, 0));
        Error::Located {
            location: "rules".to_owned(),
            line,
            column,
            source: Box::new(err),
        }
    })?;
    Ok(LoadedCatalog {
        catalog,
        graph,
        category_rules,
        rules: file.rules,
        bundles,
    })
}

/// Reads and parses a catalog file.
///
/// # Errors
/// [`Error::Io`] naming the path, or as [`from_json_str`].
pub fn from_json_file(path: impl AsRef<Path>) -> Result<LoadedCatalog> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    from_json_str(&text)
}

/// Writes a catalog, graph and rules back to the JSON format (without
/// bundles; see [`LoadedCatalog::to_json`]).
pub fn to_json_string(
    catalog: &InMemoryCatalog,
    graph: &ComplementGraph,
    category_rules: &CategoryRules,
    rules: &Rules,
) -> String {
    serde_json::to_string_pretty(&to_file(
        catalog,
        graph,
        category_rules,
        rules,
        &Bundles::default(),
    ))
    .unwrap_or_default()
}

impl LoadedCatalog {
    /// The whole state back in the JSON format; loading it gives an equal
    /// [`LoadedCatalog`]. Link positions are already folded into weights
    /// and mirror edges are written out explicitly.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&to_file(
            &self.catalog,
            &self.graph,
            &self.category_rules,
            &self.rules,
            &self.bundles,
        ))
        .unwrap_or_default()
    }
}

fn to_file(
    catalog: &InMemoryCatalog,
    graph: &ComplementGraph,
    category_rules: &CategoryRules,
    rules: &Rules,
    bundles: &Bundles,
) -> CatalogFile {
    let settings = catalog.settings_builder();
    let builtin = crate::relation::builtin_relations();
    let relations: Vec<RelationType> = (0..=crate::relation::MAX_RELATIONS)
        .map_while(|i| catalog.relation(crate::RelationId(i as u8)).cloned())
        .enumerate()
        .filter(|(i, r)| builtin.get(*i) != Some(r))
        .map(|(_, r)| r)
        .collect();
    let complements = (0..graph.products())
        .flat_map(|i| {
            let from = crate::ProductId::from_index(i);
            graph.edge_range(from).map(move |e| (from, e))
        })
        .map(|(from, e)| {
            let meta = graph.meta(e);
            let cond = graph.condition(e).cloned().unwrap_or_default();
            let relation = (meta.relation != crate::RelationId::COMPLEMENT)
                .then(|| catalog.relation(meta.relation).map(|r| r.name.clone()))
                .flatten();
            Link {
                from: catalog.sku(from).to_owned(),
                to: catalog.sku(graph.target(e)).to_owned(),
                weight: f64::from(graph.edge_weight(e)),
                relation,
                quantity: (meta.quantity > 0).then_some(u32::from(meta.quantity)),
                position: None,
                pinned: meta.pinned,
                start: cond.start,
                end: cond.end,
                segments: cond.segments,
            }
        })
        .collect();
    let category_complements = (0..catalog.category_count())
        .flat_map(|c| {
            let from = crate::CategoryId::from_index(c);
            category_rules.rule_range(from).map(move |r| (from, r))
        })
        .map(|(from, r)| {
            let (to, w) = category_rules.rule(r);
            let cond = category_rules.condition(r).cloned().unwrap_or_default();
            CategoryLink {
                from: catalog.category_name(from).to_owned(),
                to: catalog.category_name(to).to_owned(),
                weight: f64::from(w),
                start: cond.start,
                end: cond.end,
                segments: cond.segments,
            }
        })
        .collect();
    CatalogFile {
        products: catalog.to_products(),
        complements,
        category_complements,
        rules: rules.clone(),
        relations,
        match_attributes: settings.matching_names().to_vec(),
        repurchasable_categories: settings.repurchasable_names().to_vec(),
        bundles: bundles
            .list()
            .iter()
            .map(|b| BundleSpec {
                name: b.name.clone(),
                skus: b
                    .members
                    .iter()
                    .map(|&m| catalog.sku(m).to_owned())
                    .collect(),
                price: Some(b.price),
                discount_percent: None,
            })
            .collect(),
    }
}

/// Finds the 1-based line and column where element `index` of the
/// top-level array `key` starts (with `index == usize::MAX`, where the key
/// itself is). The text is known to be valid JSON.
fn locate_element(text: &str, key: &str, index: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut in_target = false;
    let mut count = 0usize;
    let mut expect_element = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if in_target && depth == 2 && expect_element {
                    if count == index {
                        return Some(line_col(text, start - 1));
                    }
                    expect_element = false;
                }
                if depth == 1 && !in_target && text.get(start..i) == Some(key) {
                    if index == usize::MAX {
                        // The key itself was asked for.
                        return Some(line_col(text, start - 1));
                    }
                    // The next '[' opens our array.
                    let mut j = i + 1;
                    while j < bytes.len()
                        && bytes[j] != b'['
                        && bytes[j] != b'{'
                        && bytes[j] != b'"'
                    {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'[') {
                        in_target = true;
                        depth += 1;
                        expect_element = true;
                        i = j;
                    }
                }
            }
            b'{' | b'[' => {
                if in_target && depth == 2 && expect_element {
                    if count == index {
                        return Some(line_col(text, i));
                    }
                    expect_element = false;
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if in_target && depth < 2 {
                    return None;
                }
            }
            b',' if in_target && depth == 2 => {
                count += 1;
                expect_element = true;
            }
            _ if in_target && depth == 2 && expect_element && !b.is_ascii_whitespace() => {
                if count == index {
                    return Some(line_col(text, i));
                }
                expect_element = false;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_elements() {
        let text = "{\"a\": [1], \"products\": [\n  {\"sku\": \"x\"},\n  {\"sku\": \"[y\"}\n]}";
        assert_eq!(locate_element(text, "products", 0), Some((2, 3)));
        assert_eq!(locate_element(text, "products", 1), Some((3, 3)));
        assert_eq!(locate_element(text, "products", 2), None);
        assert_eq!(locate_element(text, "missing", 0), None);
    }
}
