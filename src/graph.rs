//! The complement graph: weighted, directed product -> product edges, and
//! category -> category rules.
//!
//! Edges say "a customer who buys the source is likely to want the target".
//! They come from a merchant's curation, from a miner over order history
//! (the `mine` module), or both. The graph is stored in compressed sparse row
//! (CSR) form: one offsets array indexed by source id, and per source a run
//! of targets sorted by id with a parallel run of `f32` weights. That is 8
//! bytes per edge plus 4 per product, read as two contiguous slices per cart
//! line on the hot path.
//!
//! [`CategoryRules`] extend the graph to products nobody linked yet: a rule
//! `phones -> phone-cases (0.6)` makes the most popular phone cases
//! candidates for any phone, including one added to the catalog this
//! morning.

use crate::catalog::Catalog;
use crate::error::{Error, Result, SkuContext};
use crate::id::{CategoryId, ProductId};

/// Validates a weight: finite and non-negative.
pub(crate) fn check_weight(from: &str, to: &str, weight: f64) -> Result<f32> {
    if !weight.is_finite() || weight < 0.0 || weight > f64::from(f32::MAX) {
        return Err(Error::InvalidWeight {
            from: from.to_owned(),
            to: to.to_owned(),
            weight,
        });
    }
    Ok(weight as f32)
}

/// A read-only weighted digraph over a catalog's product ids, in CSR form.
///
/// Invariants: `offsets.len() == products + 1`, non-decreasing, last equal to
/// `targets.len() == weights.len()`; each source's targets are sorted by id,
/// distinct, never the source itself; weights are finite and `>= 0`.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ComplementGraph {
    offsets: Vec<u32>,
    targets: Vec<ProductId>,
    weights: Vec<f32>,
}

impl ComplementGraph {
    /// An empty graph over `products` products.
    pub fn empty(products: usize) -> Self {
        ComplementGraph {
            offsets: vec![0; products + 1],
            targets: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// A builder that resolves SKUs against `catalog`.
    pub fn builder<C: Catalog + ?Sized>(catalog: &C) -> GraphBuilder<'_, C> {
        GraphBuilder {
            catalog,
            edges: Vec::new(),
        }
    }

    /// Builds a graph from `(from, to, weight)` id triples over a catalog of
    /// `products` products. Duplicate edges keep their largest weight.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] for an id out of range, [`Error::SelfEdge`],
    /// [`Error::InvalidWeight`].
    pub fn from_edges<I>(products: usize, edges: I) -> Result<Self>
    where
        I: IntoIterator<Item = (ProductId, ProductId, f32)>,
    {
        let mut list = Vec::new();
        for (from, to, w) in edges {
            for id in [from, to] {
                if id.index() >= products {
                    return Err(Error::UnknownSku {
                        sku: format!("#{id}"),
                        context: if id == from {
                            SkuContext::EdgeFrom
                        } else {
                            SkuContext::EdgeTo
                        },
                    });
                }
            }
            if from == to {
                return Err(Error::SelfEdge {
                    node: format!("#{from}"),
                });
            }
            check_weight(&format!("#{from}"), &format!("#{to}"), f64::from(w))?;
            list.push((from, to, w));
        }
        Self::from_checked(products, list)
    }

    /// Lays out already-validated edges.
    pub(crate) fn from_checked(
        products: usize,
        mut edges: Vec<(ProductId, ProductId, f32)>,
    ) -> Result<Self> {
        if edges.len() >= u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "edges in a complement graph",
                cap: u64::from(u32::MAX) - 1,
                got: edges.len() as u64,
            });
        }
        // Sort by (from, to, weight descending) so the first of a run of
        // duplicates carries the largest weight.
        edges.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.total_cmp(&a.2)));
        edges.dedup_by_key(|e| (e.0, e.1));
        let mut offsets = vec![0u32; products + 1];
        for e in &edges {
            offsets[e.0.index() + 1] += 1;
        }
        for i in 0..products {
            offsets[i + 1] += offsets[i];
        }
        Ok(ComplementGraph {
            offsets,
            targets: edges.iter().map(|e| e.1).collect(),
            weights: edges.iter().map(|e| e.2).collect(),
        })
    }

    /// Number of products the graph spans.
    pub fn products(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The out-edges of `from`: targets sorted by id and their weights.
    /// Empty for an id outside the graph. Runs in O(1).
    #[inline]
    pub fn neighbors(&self, from: ProductId) -> (&[ProductId], &[f32]) {
        let i = from.index();
        if i + 1 >= self.offsets.len() {
            return (&[], &[]);
        }
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.targets[s..e], &self.weights[s..e])
    }

    /// The weight of `from -> to`, if the edge exists. O(log degree).
    pub fn weight(&self, from: ProductId, to: ProductId) -> Option<f32> {
        let (t, w) = self.neighbors(from);
        t.binary_search(&to).ok().map(|i| w[i])
    }

    /// Every edge as `(from, to, weight)`, by source then target.
    pub fn edges(&self) -> impl Iterator<Item = (ProductId, ProductId, f32)> + '_ {
        (0..self.products()).flat_map(move |i| {
            let from = ProductId::from_index(i);
            let (t, w) = self.neighbors(from);
            t.iter().zip(w).map(move |(&to, &w)| (from, to, w))
        })
    }

    /// Heap bytes held: 8 per edge plus 4 per product.
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.targets.capacity() * 4 + self.weights.capacity() * 4
    }

    /// Checks the CSR invariants; used after deserialising.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the broken invariant.
    pub fn validate(&self, products: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::Snapshot {
                reason: format!("complement graph: {reason}"),
            })
        };
        if self.offsets.len() != products + 1 {
            return bad("offsets do not match the catalog size");
        }
        if self.targets.len() != self.weights.len() || self.offsets.first() != Some(&0) {
            return bad("edge arrays differ in length");
        }
        if self.offsets.last().map(|&x| x as usize) != Some(self.targets.len()) {
            return bad("last offset is not the edge count");
        }
        // Monotone offsets ending at the edge count keep every slice below
        // in bounds; check them all before slicing any.
        if self.offsets.windows(2).any(|p| p[0] > p[1]) {
            return bad("offsets decrease");
        }
        for i in 0..products {
            let (t, w) = self.neighbors(ProductId::from_index(i));
            if t.iter().any(|x| x.index() >= products || x.index() == i) {
                return bad("target out of range or self-edge");
            }
            if t.windows(2).any(|p| p[0] >= p[1]) {
                return bad("targets not sorted or repeated");
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return bad("weight not finite or negative");
            }
        }
        Ok(())
    }
}

/// Collects and validates edges by SKU; see [`ComplementGraph::builder`].
#[derive(Debug)]
pub struct GraphBuilder<'c, C: ?Sized> {
    catalog: &'c C,
    edges: Vec<(ProductId, ProductId, f32)>,
}

impl<C: Catalog + ?Sized> GraphBuilder<'_, C> {
    /// Adds the edge `from -> to` with a weight. A repeated edge keeps its
    /// largest weight.
    ///
    /// # Errors
    /// [`Error::UnknownSku`], [`Error::SelfEdge`], [`Error::InvalidWeight`]
    /// (NaN, infinite or negative). On error nothing is added.
    pub fn add(&mut self, from: &str, to: &str, weight: f64) -> Result<&mut Self> {
        let f = self.catalog.id(from).ok_or_else(|| Error::UnknownSku {
            sku: from.to_owned(),
            context: SkuContext::EdgeFrom,
        })?;
        let t = self.catalog.id(to).ok_or_else(|| Error::UnknownSku {
            sku: to.to_owned(),
            context: SkuContext::EdgeTo,
        })?;
        if f == t {
            return Err(Error::SelfEdge {
                node: from.to_owned(),
            });
        }
        let w = check_weight(from, to, weight)?;
        self.edges.push((f, t, w));
        Ok(self)
    }

    /// Number of edges added so far (duplicates included).
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether no edge was added.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Lays the edges out in CSR form.
    ///
    /// # Errors
    /// [`Error::CapExceeded`] past `u32::MAX - 1` edges.
    pub fn build(self) -> Result<ComplementGraph> {
        ComplementGraph::from_checked(self.catalog.len(), self.edges)
    }
}

/// Category -> category complement rules, in CSR form over category ids.
///
/// Invariants as for [`ComplementGraph`], over categories.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CategoryRules {
    offsets: Vec<u32>,
    targets: Vec<CategoryId>,
    weights: Vec<f32>,
}

impl CategoryRules {
    /// No rules over `categories` categories.
    pub fn empty(categories: usize) -> Self {
        CategoryRules {
            offsets: vec![0; categories + 1],
            ..Default::default()
        }
    }

    /// Builds rules from `(from, to, weight)` category names.
    ///
    /// # Errors
    /// [`Error::UnknownCategory`], [`Error::SelfEdge`],
    /// [`Error::InvalidWeight`]; the first bad rule stops the build.
    pub fn from_names<'s, C, I>(catalog: &C, rules: I) -> Result<Self>
    where
        C: Catalog + ?Sized,
        I: IntoIterator<Item = (&'s str, &'s str, f64)>,
    {
        let mut list = Vec::new();
        for (from, to, weight) in rules {
            list.push(Self::resolve(catalog, from, to, weight)?);
        }
        Ok(Self::from_resolved(catalog.category_count(), list))
    }

    /// Resolves and validates one rule.
    pub(crate) fn resolve<C: Catalog + ?Sized>(
        catalog: &C,
        from: &str,
        to: &str,
        weight: f64,
    ) -> Result<(CategoryId, CategoryId, f32)> {
        let lookup = |name: &str| {
            catalog
                .category_id(name)
                .ok_or_else(|| Error::UnknownCategory {
                    category: name.to_owned(),
                    context: "category rule",
                })
        };
        let (f, t) = (lookup(from)?, lookup(to)?);
        if f == t {
            return Err(Error::SelfEdge {
                node: from.to_owned(),
            });
        }
        Ok((f, t, check_weight(from, to, weight)?))
    }

    pub(crate) fn from_resolved(
        categories: usize,
        mut list: Vec<(CategoryId, CategoryId, f32)>,
    ) -> Self {
        list.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.total_cmp(&a.2)));
        list.dedup_by_key(|e| (e.0, e.1));
        let mut offsets = vec![0u32; categories + 1];
        for e in &list {
            offsets[e.0.index() + 1] += 1;
        }
        for i in 0..categories {
            offsets[i + 1] += offsets[i];
        }
        CategoryRules {
            offsets,
            targets: list.iter().map(|e| e.1).collect(),
            weights: list.iter().map(|e| e.2).collect(),
        }
    }

    /// The rules out of a category.
    #[inline]
    pub fn targets(&self, from: CategoryId) -> (&[CategoryId], &[f32]) {
        let i = from.index();
        if i + 1 >= self.offsets.len() {
            return (&[], &[]);
        }
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.targets[s..e], &self.weights[s..e])
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Checks the CSR invariants against a catalog of `categories`
    /// categories; used after deserialising. Rules built by
    /// [`from_names`](Self::from_names) always pass; so does
    /// [`CategoryRules::default`] (no rules at all).
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the broken invariant.
    pub fn validate(&self, categories: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::Snapshot {
                reason: format!("category rules: {reason}"),
            })
        };
        if self.offsets.is_empty() {
            if self.targets.is_empty() && self.weights.is_empty() {
                return Ok(());
            }
            return bad("rules without offsets");
        }
        if self.offsets.len() != categories + 1 {
            return bad("offsets do not match the category count");
        }
        if self.targets.len() != self.weights.len() || self.offsets.first() != Some(&0) {
            return bad("rule arrays differ in length");
        }
        if self.offsets.last().map(|&x| x as usize) != Some(self.targets.len()) {
            return bad("last offset is not the rule count");
        }
        if self.offsets.windows(2).any(|p| p[0] > p[1]) {
            return bad("offsets decrease");
        }
        for i in 0..categories {
            let (t, w) = self.targets(CategoryId::from_index(i));
            if t.iter().any(|x| x.index() >= categories || x.index() == i) {
                return bad("target out of range or self-rule");
            }
            if t.windows(2).any(|p| p[0] >= p[1]) {
                return bad("targets not sorted or repeated");
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return bad("weight not finite or negative");
            }
        }
        Ok(())
    }

    /// Every rule as `(from, to, weight)`.
    pub fn rules(&self) -> impl Iterator<Item = (CategoryId, CategoryId, f32)> + '_ {
        (0..self.offsets.len().saturating_sub(1)).flat_map(move |i| {
            let from = CategoryId::from_index(i);
            let (t, w) = self.targets(from);
            t.iter().zip(w).map(move |(&to, &w)| (from, to, w))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InMemoryCatalog, Money, Product};

    fn catalog() -> InMemoryCatalog {
        InMemoryCatalog::from_products(
            ["a", "b", "c"].map(|s| Product::new(s, s, Money(1), if s == "a" { "x" } else { "y" })),
        )
        .unwrap()
    }

    #[test]
    fn csr_sorted_and_deduplicated_by_max() {
        let c = catalog();
        let mut b = ComplementGraph::builder(&c);
        b.add("a", "c", 0.5)
            .unwrap()
            .add("a", "b", 0.1)
            .unwrap()
            .add("a", "c", 0.7)
            .unwrap();
        let g = b.build().unwrap();
        let (t, w) = g.neighbors(c.id("a").unwrap());
        assert_eq!(t, &[c.id("b").unwrap(), c.id("c").unwrap()]);
        assert_eq!(w, &[0.1, 0.7]);
        assert_eq!(g.edge_count(), 2);
        g.validate(3).unwrap();
        assert_eq!(g.neighbors(ProductId(99)).0.len(), 0);
    }

    #[test]
    fn bad_edges_rejected() {
        let c = catalog();
        let mut b = ComplementGraph::builder(&c);
        assert!(matches!(b.add("a", "a", 1.0), Err(Error::SelfEdge { node }) if node == "a"));
        assert!(
            matches!(b.add("a", "zz", 1.0), Err(Error::UnknownSku { sku, context: SkuContext::EdgeTo }) if sku == "zz")
        );
        assert!(matches!(
            b.add("a", "b", f64::NAN),
            Err(Error::InvalidWeight { .. })
        ));
        assert!(
            matches!(b.add("a", "b", -0.5), Err(Error::InvalidWeight { weight, .. }) if weight == -0.5)
        );
        assert!(matches!(
            b.add("a", "b", f64::INFINITY),
            Err(Error::InvalidWeight { .. })
        ));
        assert!(b.is_empty());
    }

    #[test]
    fn validate_rejects_out_of_order_offsets_without_panicking() {
        // A middle offset past the edge count, then a decrease: slicing by
        // the first pair before checking the rest would panic.
        let g = ComplementGraph {
            offsets: vec![0, 10, 2],
            targets: vec![ProductId(1), ProductId(0)],
            weights: vec![1.0, 1.0],
        };
        assert!(
            matches!(g.validate(2), Err(Error::Snapshot { reason }) if reason.contains("offsets decrease"))
        );
        let r = CategoryRules {
            offsets: vec![0, 10, 2],
            targets: vec![CategoryId(1), CategoryId(0)],
            weights: vec![1.0, 1.0],
        };
        assert!(
            matches!(r.validate(2), Err(Error::Snapshot { reason }) if reason.contains("offsets decrease"))
        );
    }

    #[test]
    fn category_rules_validate() {
        let c = catalog();
        let r = CategoryRules::from_names(&c, [("x", "y", 0.5)]).unwrap();
        r.validate(c.category_count()).unwrap();
        CategoryRules::default().validate(2).unwrap();
        assert!(r.validate(5).is_err());
        let bad = CategoryRules {
            offsets: vec![0, 1, 1],
            targets: vec![CategoryId(0)],
            weights: vec![0.5],
        };
        assert!(
            matches!(bad.validate(2), Err(Error::Snapshot { reason }) if reason.contains("self-rule"))
        );
        let nan = CategoryRules {
            offsets: vec![0, 1, 1],
            targets: vec![CategoryId(1)],
            weights: vec![f32::NAN],
        };
        assert!(nan.validate(2).is_err());
    }

    #[test]
    fn category_rules() {
        let c = catalog();
        let r = CategoryRules::from_names(&c, [("x", "y", 0.5)]).unwrap();
        let (t, w) = r.targets(c.category_id("x").unwrap());
        assert_eq!(t, &[c.category_id("y").unwrap()]);
        assert_eq!(w, &[0.5]);
        assert!(matches!(
            CategoryRules::from_names(&c, [("x", "q", 0.5)]),
            Err(Error::UnknownCategory { category, .. }) if category == "q"
        ));
        assert!(matches!(
            CategoryRules::from_names(&c, [("x", "x", 0.5)]),
            Err(Error::SelfEdge { .. })
        ));
    }
}
