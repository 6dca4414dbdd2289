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

use crate::catalog::{Catalog, CatalogBuilder, InMemoryCatalog};
use crate::error::{Error, Result};
use crate::graph::{CategoryRules, ComplementGraph};
use crate::product::Product;
use crate::recommend::{Engine, Rules};

/// A complement edge as written in the file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// Source SKU (or category, for category rules).
    pub from: String,
    /// Target SKU (or category).
    pub to: String,
    /// Weight, finite and `>= 0`.
    pub weight: f64,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// The products.
    pub products: Vec<Product>,
    /// Product -> product edges.
    #[serde(default)]
    pub complements: Vec<EdgeSpec>,
    /// Category -> category rules.
    #[serde(default)]
    pub category_complements: Vec<EdgeSpec>,
    /// Merchant rules.
    #[serde(default)]
    pub rules: Rules,
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
    for (i, p) in file.products.into_iter().enumerate() {
        b.add(p).map_err(|e| locate("products", i, e))?;
    }
    let catalog = b.build()?;
    let mut g = ComplementGraph::builder(&catalog);
    for (i, e) in file.complements.iter().enumerate() {
        g.add(&e.from, &e.to, e.weight)
            .map_err(|err| locate("complements", i, err))?;
    }
    let graph = g.build()?;
    let mut rules = Vec::with_capacity(file.category_complements.len());
    for (i, e) in file.category_complements.iter().enumerate() {
        rules.push(
            CategoryRules::resolve(&catalog, &e.from, &e.to, e.weight)
                .map_err(|err| locate("category_complements", i, err))?,
        );
    }
    let category_rules = CategoryRules::from_resolved(catalog.category_count(), rules);
    Ok(LoadedCatalog {
        catalog,
        graph,
        category_rules,
        rules: file.rules,
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

/// Writes a catalog, graph and rules back to the JSON format.
pub fn to_json_string(
    catalog: &InMemoryCatalog,
    graph: &ComplementGraph,
    category_rules: &CategoryRules,
    rules: &Rules,
) -> String {
    let file = CatalogFile {
        products: catalog.to_products(),
        complements: graph
            .edges()
            .map(|(f, t, w)| EdgeSpec {
                from: catalog.sku(f).to_owned(),
                to: catalog.sku(t).to_owned(),
                weight: f64::from(w),
            })
            .collect(),
        category_complements: category_rules
            .rules()
            .map(|(f, t, w)| EdgeSpec {
                from: catalog.category_name(f).to_owned(),
                to: catalog.category_name(t).to_owned(),
                weight: f64::from(w),
            })
            .collect(),
        rules: rules.clone(),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

/// Finds the 1-based line and column where element `index` of the
/// top-level array `key` starts. The text is known to be valid JSON.
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
