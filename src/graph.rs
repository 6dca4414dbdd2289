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
use crate::date::Day;
use crate::error::{Error, Result, SkuContext};
use crate::id::{CategoryId, ProductId};
use crate::relation::{RelationId, Symmetry};

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
    /// Per-edge metadata, parallel to `targets`; empty when every edge has
    /// the default (learned graphs), so those cost 8 bytes an edge.
    #[cfg_attr(feature = "serde", serde(default))]
    meta: Vec<EdgeMeta>,
    /// `(edge index, condition index)` for the few conditional edges,
    /// sorted by edge index.
    #[cfg_attr(feature = "serde", serde(default))]
    conditional: Vec<(u32, u32)>,
    /// The distinct conditions.
    #[cfg_attr(feature = "serde", serde(default))]
    conditions: Vec<Condition>,
}

/// What an edge is, besides its weight: 3 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EdgeMeta {
    /// The relation type.
    pub relation: RelationId,
    /// Units of the target that go with one unit of the source (4 chairs
    /// per table); 0 when unspecified (suggest one, no top-up).
    pub quantity: u8,
    /// Whether the merchant pinned this link: whenever its source is in
    /// the cart, the target ranks above unpinned suggestions.
    pub pinned: bool,
}

/// When a link or rule applies: a date range and customer segments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Condition {
    /// First day it applies (inclusive).
    #[cfg_attr(feature = "serde", serde(default))]
    pub start: Option<Day>,
    /// Last day it applies (inclusive).
    #[cfg_attr(feature = "serde", serde(default))]
    pub end: Option<Day>,
    /// Segments it applies to; empty = every customer.
    #[cfg_attr(feature = "serde", serde(default))]
    pub segments: Vec<String>,
}

impl Condition {
    /// Whether the condition holds for a request on `day` (none = the
    /// request carries no date, so dated links do not fire) for a customer
    /// in `segments`.
    pub fn holds(&self, day: Option<Day>, segments: &[String]) -> bool {
        if self.start.is_some() || self.end.is_some() {
            let Some(d) = day else { return false };
            if self.start.is_some_and(|s| d < s) || self.end.is_some_and(|e| d > e) {
                return false;
            }
        }
        self.segments.is_empty() || self.segments.iter().any(|s| segments.contains(s))
    }

    /// Whether it always holds.
    pub fn is_always(&self) -> bool {
        self.start.is_none() && self.end.is_none() && self.segments.is_empty()
    }

    /// Checks the date range.
    ///
    /// # Errors
    /// [`Error::InvalidDateRange`] when `end < start`.
    pub fn validate(&self) -> Result<()> {
        if let (Some(s), Some(e)) = (self.start, self.end) {
            if e < s {
                return Err(Error::InvalidDateRange {
                    start: s.to_string(),
                    end: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// A curated link with everything a merchant can say about it; see
/// [`GraphBuilder::link`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Link {
    /// Source SKU.
    pub from: String,
    /// Target SKU.
    pub to: String,
    /// Weight, finite and `>= 0`.
    pub weight: f64,
    /// Relation type name (default `"complement"`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub relation: Option<String>,
    /// Units of the target per unit of the source (1 to 255).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub quantity: Option<u32>,
    /// The merchant's order among the source's links (1 first); a link
    /// never outweighs one at an earlier position of the same source.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub position: Option<u32>,
    /// Keep this link at the top whenever its source is in the cart.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_false"))]
    pub pinned: bool,
    /// First day the link applies.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub start: Option<Day>,
    /// Last day the link applies.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub end: Option<Day>,
    /// Customer segments it applies to (empty: all).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub segments: Vec<String>,
}

#[cfg(feature = "serde")]
fn is_false(b: &bool) -> bool {
    !*b
}

impl Link {
    /// A plain link.
    pub fn new(from: impl Into<String>, to: impl Into<String>, weight: f64) -> Self {
        Link {
            from: from.into(),
            to: to.into(),
            weight,
            relation: None,
            quantity: None,
            position: None,
            pinned: false,
            start: None,
            end: None,
            segments: Vec::new(),
        }
    }
    /// Sets the relation type.
    pub fn relation(mut self, name: impl Into<String>) -> Self {
        self.relation = Some(name.into());
        self
    }
    /// Sets the quantity per unit of the source.
    pub fn quantity(mut self, q: u32) -> Self {
        self.quantity = Some(q);
        self
    }
    /// Sets the merchant's position.
    pub fn position(mut self, p: u32) -> Self {
        self.position = Some(p);
        self
    }
    /// Pins the link.
    pub fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }
    /// Limits the link to a date range.
    pub fn between(mut self, start: Day, end: Day) -> Self {
        self.start = Some(start);
        self.end = Some(end);
        self
    }
    /// Limits the link to a customer segment.
    pub fn segment(mut self, s: impl Into<String>) -> Self {
        self.segments.push(s.into());
        self
    }
    fn condition(&self) -> Condition {
        Condition {
            start: self.start,
            end: self.end,
            segments: self.segments.clone(),
        }
    }
}

/// One edge on its way into the CSR layout.
#[derive(Clone, Debug)]
pub(crate) struct RawEdge {
    pub(crate) from: ProductId,
    pub(crate) to: ProductId,
    pub(crate) weight: f32,
    pub(crate) meta: EdgeMeta,
    pub(crate) position: Option<u32>,
    pub(crate) condition: Option<Condition>,
    pub(crate) mirror: bool,
}

impl RawEdge {
    pub(crate) fn plain(from: ProductId, to: ProductId, weight: f32) -> Self {
        RawEdge {
            from,
            to,
            weight,
            meta: EdgeMeta::default(),
            position: None,
            condition: None,
            mirror: false,
        }
    }
}

impl ComplementGraph {
    /// An empty graph over `products` products.
    pub fn empty(products: usize) -> Self {
        ComplementGraph {
            offsets: vec![0; products + 1],
            ..Default::default()
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
        let edges = edges.into_iter();
        let mut list: Vec<(ProductId, ProductId, f32)> = Vec::with_capacity(edges.size_hint().0);
        for (from, to, w) in edges {
            // Strings are formatted only on the error path: this loop runs
            // once per edge of graphs with tens of millions of edges.
            for (id, context) in [(from, SkuContext::EdgeFrom), (to, SkuContext::EdgeTo)] {
                if id.index() >= products {
                    return Err(Error::UnknownSku {
                        sku: format!("#{id}"),
                        context,
                    });
                }
            }
            if from == to {
                return Err(Error::SelfEdge {
                    node: format!("#{from}"),
                });
            }
            if !(w.is_finite() && w >= 0.0) {
                check_weight(&format!("#{from}"), &format!("#{to}"), f64::from(w))?;
            }
            list.push((from, to, w));
        }
        Self::from_plain(products, list)
    }

    /// Lays out validated plain edges (no metadata, no conditions) by a
    /// counting sort on the source, then a sort of each row by target;
    /// repeated edges keep their largest weight. Equal to
    /// [`from_checked`](Self::from_checked) on the same edges, in O(E + Σ
    /// row log row) time and 12 bytes per edge of working memory.
    pub(crate) fn from_plain(
        products: usize,
        list: Vec<(ProductId, ProductId, f32)>,
    ) -> Result<Self> {
        if list.len() >= u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "edges in a complement graph",
                cap: u64::from(u32::MAX) - 1,
                got: list.len() as u64,
            });
        }
        let mut starts = vec![0u32; products + 1];
        for e in &list {
            starts[e.0.index() + 1] += 1;
        }
        for i in 0..products {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut row: Vec<(ProductId, f32)> = vec![(ProductId(0), 0.0); list.len()];
        for (from, to, w) in list {
            let slot = &mut fill[from.index()];
            row[*slot as usize] = (to, w);
            *slot += 1;
        }
        let mut offsets = Vec::with_capacity(products + 1);
        let mut targets = Vec::with_capacity(row.len());
        let mut weights = Vec::with_capacity(row.len());
        offsets.push(0u32);
        for i in 0..products {
            let r = &mut row[starts[i] as usize..starts[i + 1] as usize];
            r.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            let mut last: Option<ProductId> = None;
            for &(t, w) in r.iter() {
                if last != Some(t) {
                    targets.push(t);
                    weights.push(w);
                    last = Some(t);
                }
            }
            offsets.push(targets.len() as u32);
        }
        Ok(ComplementGraph {
            offsets,
            targets,
            weights,
            ..Default::default()
        })
    }

    /// Lays out already-validated edges: applies positions (a link never
    /// outweighs an earlier-positioned link of its source), drops mirror
    /// edges where an explicit reverse edge exists, keeps the largest
    /// weight of repeated edges.
    pub(crate) fn from_checked(products: usize, edges: Vec<RawEdge>) -> Result<Self> {
        if edges.iter().all(|e| {
            e.meta == EdgeMeta::default()
                && e.position.is_none()
                && !e.mirror
                && e.condition.as_ref().is_none_or(Condition::is_always)
        }) {
            return Self::from_plain(
                products,
                edges
                    .into_iter()
                    .map(|e| (e.from, e.to, e.weight))
                    .collect(),
            );
        }
        Self::layout(products, edges)
    }

    /// The general layout, for edges with metadata, positions, mirrors or
    /// conditions (and the reference the fast path is tested against).
    fn layout(products: usize, mut edges: Vec<RawEdge>) -> Result<Self> {
        if edges.len() >= u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "edges in a complement graph",
                cap: u64::from(u32::MAX) - 1,
                got: edges.len() as u64,
            });
        }
        // Positions: per source, in position order, cap each weight at the
        // previous one's.
        if edges.iter().any(|e| e.position.is_some()) {
            let mut positioned: Vec<usize> = (0..edges.len())
                .filter(|&i| edges[i].position.is_some())
                .collect();
            positioned.sort_by_key(|&i| (edges[i].from, edges[i].position, edges[i].to));
            let mut prev: Option<(ProductId, f32)> = None;
            for i in positioned {
                let e = &mut edges[i];
                if let Some((from, w)) = prev {
                    if from == e.from && e.weight > w {
                        e.weight = w;
                    }
                }
                prev = Some((e.from, e.weight));
            }
        }
        // Sort by (from, to, explicit before mirror, weight descending) so
        // the first of a run of duplicates is the one to keep.
        edges.sort_unstable_by(|a, b| {
            (a.from, a.to, a.mirror)
                .cmp(&(b.from, b.to, b.mirror))
                .then(b.weight.total_cmp(&a.weight))
        });
        edges.dedup_by(|later, first| later.from == first.from && later.to == first.to);
        let mut offsets = vec![0u32; products + 1];
        for e in &edges {
            offsets[e.from.index() + 1] += 1;
        }
        for i in 0..products {
            offsets[i + 1] += offsets[i];
        }
        let meta = if edges.iter().all(|e| e.meta == EdgeMeta::default()) {
            Vec::new()
        } else {
            edges.iter().map(|e| e.meta).collect()
        };
        let mut conditions: Vec<Condition> = Vec::new();
        let mut conditional = Vec::new();
        for (i, e) in edges.iter().enumerate() {
            if let Some(c) = e.condition.as_ref().filter(|c| !c.is_always()) {
                let ci = match conditions.iter().position(|x| x == c) {
                    Some(ci) => ci,
                    None => {
                        conditions.push(c.clone());
                        conditions.len() - 1
                    }
                };
                conditional.push((i as u32, ci as u32));
            }
        }
        Ok(ComplementGraph {
            offsets,
            targets: edges.iter().map(|e| e.to).collect(),
            weights: edges.iter().map(|e| e.weight).collect(),
            meta,
            conditional,
            conditions,
        })
    }

    /// The edge index range of `from`'s out-edges (empty outside the graph).
    #[inline]
    pub fn edge_range(&self, from: ProductId) -> std::ops::Range<usize> {
        let i = from.index();
        if i + 1 >= self.offsets.len() {
            return 0..0;
        }
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// Hints that `from`'s edge range will be read soon (see
    /// [`crate::prefetch`]).
    #[inline]
    pub(crate) fn prefetch_range(&self, from: ProductId) {
        if let Some(offset) = self.offsets.get(from.index()) {
            crate::prefetch::prefetch(offset);
        }
    }

    /// Hints that the target and weight of edge `e` will be read soon.
    #[inline]
    pub(crate) fn prefetch_edge(&self, e: usize) {
        if let (Some(target), Some(weight)) = (self.targets.get(e), self.weights.get(e)) {
            crate::prefetch::prefetch(target);
            crate::prefetch::prefetch(weight);
        }
    }

    /// The target of edge `e`.
    #[inline]
    pub fn target(&self, e: usize) -> ProductId {
        self.targets[e]
    }

    /// The weight of edge `e`.
    #[inline]
    pub fn edge_weight(&self, e: usize) -> f32 {
        self.weights[e]
    }

    /// The metadata of edge `e` (the default for graphs without any).
    #[inline]
    pub fn meta(&self, e: usize) -> EdgeMeta {
        self.meta.get(e).copied().unwrap_or_default()
    }

    /// Whether no edge carries metadata or a condition (learned and mined
    /// graphs, most curated ones): then an edge is just a target and a
    /// weight, and cross-sell takes a shorter loop.
    #[inline]
    pub(crate) fn is_plain(&self) -> bool {
        self.meta.is_empty() && self.conditional.is_empty()
    }

    /// The targets and weights of the edges in `range`, for the plain loop.
    #[inline]
    pub(crate) fn edge_slices(&self, range: std::ops::Range<usize>) -> (&[ProductId], &[f32]) {
        (&self.targets[range.clone()], &self.weights[range])
    }

    /// Whether any edge carries a condition.
    #[inline]
    pub fn has_conditions(&self) -> bool {
        !self.conditional.is_empty()
    }

    /// The condition of edge `e`, if it has one. O(log conditional edges).
    pub fn condition(&self, e: usize) -> Option<&Condition> {
        let i = self
            .conditional
            .binary_search_by_key(&(e as u32), |c| c.0)
            .ok()?;
        self.conditions.get(self.conditional[i].1 as usize)
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
        if !self.meta.is_empty() && self.meta.len() != self.targets.len() {
            return bad("edge metadata differs in length");
        }
        if self.conditional.windows(2).any(|p| p[0].0 >= p[1].0)
            || self.conditional.iter().any(|c| {
                c.0 as usize >= self.targets.len() || c.1 as usize >= self.conditions.len()
            })
        {
            return bad("conditional edges out of range or unsorted");
        }
        Ok(())
    }

    /// Checks that every edge's relation type exists in `catalog`.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the unknown relation id.
    pub fn validate_relations<C: Catalog + ?Sized>(&self, catalog: &C) -> Result<()> {
        match self
            .meta
            .iter()
            .find(|m| catalog.relation(m.relation).is_none())
        {
            Some(m) => Err(Error::Snapshot {
                reason: format!("complement graph: unknown relation id {}", m.relation.0),
            }),
            None => Ok(()),
        }
    }
}

/// Collects and validates edges by SKU; see [`ComplementGraph::builder`].
#[derive(Debug)]
pub struct GraphBuilder<'c, C: ?Sized> {
    catalog: &'c C,
    edges: Vec<RawEdge>,
}

impl<C: Catalog + ?Sized> GraphBuilder<'_, C> {
    /// Adds the edge `from -> to` with a weight. A repeated edge keeps its
    /// largest weight.
    ///
    /// # Errors
    /// [`Error::UnknownSku`], [`Error::SelfEdge`], [`Error::InvalidWeight`]
    /// (NaN, infinite or negative). On error nothing is added.
    pub fn add(&mut self, from: &str, to: &str, weight: f64) -> Result<&mut Self> {
        let (f, t, w) = self.resolve(from, to, weight)?;
        self.edges.push(RawEdge::plain(f, t, w));
        Ok(self)
    }

    fn resolve(&self, from: &str, to: &str, weight: f64) -> Result<(ProductId, ProductId, f32)> {
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
        Ok((f, t, check_weight(from, to, weight)?))
    }

    /// Adds a link with a relation type, quantity, position, pin and
    /// conditions. A relation whose type is mirrored also adds the reverse
    /// edge with the weight times the mirror factor, unless an explicit
    /// reverse edge exists.
    ///
    /// # Errors
    /// As [`add`](Self::add); [`Error::InvalidConfig`] for an unknown
    /// relation type or a quantity outside 1..=255;
    /// [`Error::InvalidDateRange`] when `end < start`. Nothing is added on error.
    pub fn link(&mut self, link: &Link) -> Result<&mut Self> {
        let (f, t, w) = self.resolve(&link.from, &link.to, link.weight)?;
        let relation = match &link.relation {
            None => RelationId::COMPLEMENT,
            Some(name) => self.catalog.relation_id(name).ok_or_else(|| Error::InvalidConfig {
                field: "relation",
                value: format!("{name:?}"),
                hint: "a built-in type (complement, accessory, consumable, service, compatible, replacement) or one registered with CatalogBuilder::relation",
            })?,
        };
        let quantity = match link.quantity {
            None => 0,
            Some(q @ 1..=255) => q as u8,
            Some(q) => {
                return Err(Error::InvalidConfig {
                    field: "quantity",
                    value: q.to_string(),
                    hint: "units per source unit, 1 to 255",
                })
            }
        };
        let condition = link.condition();
        condition.validate()?;
        let meta = EdgeMeta {
            relation,
            quantity,
            pinned: link.pinned,
        };
        let mirror = match self.catalog.relation(relation).map(|r| r.symmetry) {
            Some(Symmetry::Mirrored(factor)) => Some(w * factor),
            _ => None,
        };
        self.edges.push(RawEdge {
            from: f,
            to: t,
            weight: w,
            meta,
            position: link.position,
            condition: Some(condition.clone()),
            mirror: false,
        });
        if let Some(mw) = mirror {
            self.edges.push(RawEdge {
                from: t,
                to: f,
                weight: mw,
                meta: EdgeMeta {
                    relation,
                    quantity: 0,
                    pinned: false,
                },
                position: None,
                condition: Some(condition),
                mirror: true,
            });
        }
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
    /// Per-rule condition, parallel to `targets`; empty when none has one.
    #[cfg_attr(feature = "serde", serde(default))]
    conditions: Vec<Option<Box<Condition>>>,
}

impl CategoryRules {
    /// No rules over `categories` categories.
    pub fn empty(categories: usize) -> Self {
        CategoryRules {
            offsets: vec![0; categories + 1],
            ..Default::default()
        }
    }

    /// Builds rules from [`CategoryLink`]s, which may carry conditions.
    ///
    /// # Errors
    /// As [`from_names`](Self::from_names); [`Error::InvalidDateRange`].
    pub fn from_links<C: Catalog + ?Sized>(catalog: &C, links: &[CategoryLink]) -> Result<Self> {
        let mut list = Vec::with_capacity(links.len());
        for l in links {
            list.push(Self::resolve_link(catalog, l)?);
        }
        Ok(Self::from_resolved(catalog.category_count(), list))
    }

    pub(crate) fn resolve_link<C: Catalog + ?Sized>(
        catalog: &C,
        l: &CategoryLink,
    ) -> Result<(CategoryId, CategoryId, f32, Option<Condition>)> {
        let (f, t, w) = Self::resolve(catalog, &l.from, &l.to, l.weight)?;
        let c = Condition {
            start: l.start,
            end: l.end,
            segments: l.segments.clone(),
        };
        c.validate()?;
        Ok((f, t, w, Some(c)))
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
            let (f, t, w) = Self::resolve(catalog, from, to, weight)?;
            list.push((f, t, w, None));
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
        mut list: Vec<(CategoryId, CategoryId, f32, Option<Condition>)>,
    ) -> Self {
        list.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.total_cmp(&a.2)));
        list.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let conditions = if list
            .iter()
            .all(|e| e.3.as_ref().is_none_or(Condition::is_always))
        {
            Vec::new()
        } else {
            list.iter()
                .map(|e| e.3.clone().filter(|c| !c.is_always()).map(Box::new))
                .collect()
        };
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
            conditions,
        }
    }

    /// The index range of `from`'s rules.
    #[inline]
    pub fn rule_range(&self, from: CategoryId) -> std::ops::Range<usize> {
        let i = from.index();
        if i + 1 >= self.offsets.len() {
            return 0..0;
        }
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// Target and weight of rule `r`.
    #[inline]
    pub fn rule(&self, r: usize) -> (CategoryId, f32) {
        (self.targets[r], self.weights[r])
    }

    /// The condition of rule `r`, if it has one.
    #[inline]
    pub fn condition(&self, r: usize) -> Option<&Condition> {
        self.conditions.get(r).and_then(|c| c.as_deref())
    }

    /// Checks the CSR invariants against a catalog with `categories` categories.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the broken invariant.
    pub fn validate(&self, categories: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::Snapshot {
                reason: format!("category rules: {reason}"),
            })
        };
        if self.offsets.is_empty() && self.targets.is_empty() {
            return Ok(()); // `CategoryRules::default()`: no rules at all
        }
        if self.offsets.len() != categories + 1 || self.offsets.first() != Some(&0) {
            return bad("offsets do not match the category count");
        }
        if self.targets.len() != self.weights.len()
            || self.offsets.last().map(|&x| x as usize) != Some(self.targets.len())
            || (!self.conditions.is_empty() && self.conditions.len() != self.targets.len())
        {
            return bad("rule arrays differ in length");
        }
        if self.offsets.windows(2).any(|w| w[0] > w[1]) {
            return bad("offsets decrease");
        }
        for c in 0..categories {
            for r in self.rule_range(CategoryId::from_index(c)) {
                let (t, w) = self.rule(r);
                if t.index() >= categories || t.index() == c || !w.is_finite() || w < 0.0 {
                    return bad("target out of range, self-rule or bad weight");
                }
            }
        }
        Ok(())
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

    /// Every rule as `(from, to, weight)`.
    pub fn rules(&self) -> impl Iterator<Item = (CategoryId, CategoryId, f32)> + '_ {
        (0..self.offsets.len().saturating_sub(1)).flat_map(move |i| {
            let from = CategoryId::from_index(i);
            let (t, w) = self.targets(from);
            t.iter().zip(w).map(move |(&to, &w)| (from, to, w))
        })
    }
}

/// A category rule as a merchant writes it, with optional conditions.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CategoryLink {
    /// Source category.
    pub from: String,
    /// Target category.
    pub to: String,
    /// Weight, finite and `>= 0`.
    pub weight: f64,
    /// First day the rule applies.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub start: Option<Day>,
    /// Last day the rule applies.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub end: Option<Day>,
    /// Segments it applies to (empty: all).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub segments: Vec<String>,
}

impl CategoryLink {
    /// A rule without conditions.
    pub fn new(from: impl Into<String>, to: impl Into<String>, weight: f64) -> Self {
        CategoryLink {
            from: from.into(),
            to: to.into(),
            weight,
            start: None,
            end: None,
            segments: Vec::new(),
        }
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

    proptest::proptest! {
        #[test]
        fn from_plain_equals_from_checked(
            edges in proptest::collection::vec((0u32..12, 0u32..12, 0u8..6), 0..80)
        ) {
            let edges: Vec<_> = edges
                .into_iter()
                .filter(|e| e.0 != e.1)
                .map(|(f, t, w)| (ProductId(f), ProductId(t), f32::from(w) / 4.0))
                .collect();
            let plain = ComplementGraph::from_plain(12, edges.clone()).unwrap();
            let raw = edges.iter().map(|&(f, t, w)| RawEdge::plain(f, t, w)).collect();
            let checked = ComplementGraph::layout(12, raw).unwrap();
            proptest::prop_assert_eq!(plain, checked);
        }
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
            ..ComplementGraph::default()
        };
        assert!(
            matches!(g.validate(2), Err(Error::Snapshot { reason }) if reason.contains("offsets decrease"))
        );
        let r = CategoryRules {
            offsets: vec![0, 10, 2],
            targets: vec![CategoryId(1), CategoryId(0)],
            weights: vec![1.0, 1.0],
            ..CategoryRules::default()
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
            ..CategoryRules::default()
        };
        assert!(
            matches!(bad.validate(2), Err(Error::Snapshot { reason }) if reason.contains("self-rule"))
        );
        let nan = CategoryRules {
            offsets: vec![0, 1, 1],
            targets: vec![CategoryId(1)],
            weights: vec![f32::NAN],
            ..CategoryRules::default()
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
