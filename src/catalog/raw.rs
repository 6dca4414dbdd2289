//! The catalog's internal arrays in serde form, for snapshots.
//!
//! Saving a catalog this way writes its flat arrays as they are: the string
//! arenas as one text blob plus `u32` end offsets each, and one array per
//! product field. Loading reads them back and checks every invariant the
//! serving path relies on (the [`RawCatalog::into_catalog`] list) instead of
//! replaying 1M products through [`CatalogBuilder`](super::CatalogBuilder):
//! no per-product `String`s, no hash map of SKUs, no sort by SKU. The
//! derived indexes (category lists, family ladders, the category name
//! index, the highest popularity) are not stored; they are recomputed, so
//! they cannot disagree with the arrays they come from.
//!
//! The field order below is the wire format: changing it, or any field's
//! type, is a snapshot format change (see `snapshot::FORMAT_VERSION`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use super::{hot_rows, Arena, InMemoryCatalog, IndexInputs, Indexes, Lists, Static, NO_FAMILY};
use crate::error::{Error, Result};
use crate::id::{AttributeId, CategoryId, FeatureId};
use crate::product::Money;
use crate::relation::{RelationType, Symmetry, MAX_RELATIONS};

/// One arena: its text and its `u32` end offsets.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawArena<'a> {
    text: Cow<'a, str>,
    ends: Cow<'a, [u32]>,
}

/// A catalog's arrays, borrowed when saving and owned after loading.
///
/// Invariants are those of [`super::Static`]; [`Self::into_catalog`] checks
/// them all.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawCatalog<'a> {
    skus: RawArena<'a>,
    names: RawArena<'a>,
    price: Cow<'a, [Money]>,
    stock: Cow<'a, [Option<u32>]>,
    cost: Cow<'a, [Option<Money>]>,
    popularity: Cow<'a, [u32]>,
    category: Cow<'a, [CategoryId]>,
    family: Cow<'a, [u32]>,
    tier: Cow<'a, [u32]>,
    feature_offsets: Cow<'a, [u32]>,
    feature_items: Cow<'a, [FeatureId]>,
    category_names: RawArena<'a>,
    family_names: RawArena<'a>,
    feature_names: RawArena<'a>,
    variant_group: Cow<'a, [u32]>,
    variant_names: RawArena<'a>,
    attribute_offsets: Cow<'a, [u32]>,
    attribute_items: Cow<'a, [(AttributeId, AttributeId)]>,
    attribute_names: RawArena<'a>,
    matching_attributes: Cow<'a, [AttributeId]>,
    repurchasable: Cow<'a, [bool]>,
    relations: Cow<'a, [RelationType]>,
}

fn borrow_arena(a: &Arena) -> RawArena<'_> {
    RawArena {
        text: Cow::Borrowed(&a.text),
        ends: Cow::Borrowed(&a.ends),
    }
}

fn bad<T>(reason: impl Into<String>) -> Result<T> {
    Err(Error::Snapshot {
        reason: format!("catalog: {}", reason.into()),
    })
}

/// Checks an arena's offsets against its text and rebuilds it.
fn check_arena(what: &str, raw: RawArena<'_>) -> Result<Arena> {
    let text = raw.text.into_owned();
    let ends = raw.ends.into_owned();
    let mut start = 0u32;
    for &end in &ends {
        if end < start {
            return bad(format!("{what}: string offsets decrease"));
        }
        if !text.is_char_boundary(end as usize) {
            return bad(format!(
                "{what}: string offset {end} is not a character boundary"
            ));
        }
        start = end;
    }
    if start as usize != text.len() {
        return bad(format!(
            "{what}: offsets end at {start} but the text has {} bytes",
            text.len()
        ));
    }
    Ok(Arena { text, ends })
}

/// Checks that an arena holds no name twice (names are interned).
fn check_unique(what: &str, arena: &Arena) -> Result<()> {
    let mut seen = HashSet::with_capacity(arena.len());
    for i in 0..arena.len() {
        let name = arena.get(i);
        if !seen.insert(name) {
            return bad(format!("{what} {name:?} appears twice"));
        }
    }
    Ok(())
}

impl InMemoryCatalog {
    /// The arrays in serde form, borrowed (no copy).
    pub(crate) fn to_raw(&self) -> RawCatalog<'_> {
        let s = &*self.fixed;
        RawCatalog {
            skus: borrow_arena(&s.skus),
            names: borrow_arena(&s.names),
            // The serving rows are not the wire format: the per-field arrays
            // are, so a layout change of the rows needs no format change.
            price: Cow::Owned(self.hot.iter().map(|h| Money(h.price)).collect()),
            stock: Cow::Owned(self.hot.iter().map(|h| h.stock()).collect()),
            cost: Cow::Borrowed(&s.cost),
            popularity: Cow::Borrowed(&s.popularity),
            category: Cow::Owned(self.hot.iter().map(|h| h.category).collect()),
            family: Cow::Borrowed(&s.family),
            tier: Cow::Borrowed(&s.tier),
            feature_offsets: Cow::Borrowed(&s.features.offsets),
            feature_items: Cow::Borrowed(&s.features.items),
            category_names: borrow_arena(&s.category_names),
            family_names: borrow_arena(&s.family_names),
            feature_names: borrow_arena(&s.feature_names),
            variant_group: Cow::Owned(self.hot.iter().map(|h| h.variant_group).collect()),
            variant_names: borrow_arena(&s.variant_names),
            attribute_offsets: Cow::Borrowed(&s.attributes.offsets),
            attribute_items: Cow::Borrowed(&s.attributes.items),
            attribute_names: borrow_arena(&s.attribute_names),
            matching_attributes: Cow::Borrowed(&s.matching_attributes),
            repurchasable: Cow::Borrowed(&s.repurchasable),
            relations: Cow::Borrowed(&s.relations),
        }
    }
}

impl RawCatalog<'_> {
    /// Checks every invariant and builds the catalog.
    ///
    /// Checked: every per-product array has one entry per SKU; string
    /// offsets are non-decreasing, on character boundaries and end at the
    /// text's length; SKUs are non-empty and strictly increasing in byte
    /// order (ids in SKU order, no duplicate); category, family and feature
    /// names are unique; every category, family and feature id is in range;
    /// a product without a family has tier 0; no two members of a family
    /// share a tier; feature lists are in range, sorted and without
    /// repeats. Runs in O(products + features + text).
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the first broken invariant, or
    /// [`Error::CapExceeded`] past [`MAX_PRODUCTS`](crate::MAX_PRODUCTS).
    pub(crate) fn into_catalog(self) -> Result<InMemoryCatalog> {
        let skus = check_arena("SKUs", self.skus)?;
        let names = check_arena("names", self.names)?;
        let category_names = check_arena("category names", self.category_names)?;
        let family_names = check_arena("family names", self.family_names)?;
        let feature_names = check_arena("feature names", self.feature_names)?;
        let variant_names = check_arena("variant names", self.variant_names)?;
        let attribute_names = check_arena("attribute names", self.attribute_names)?;
        let n = skus.len();
        if n > crate::MAX_PRODUCTS {
            return Err(Error::CapExceeded {
                what: "products in a catalog",
                cap: crate::MAX_PRODUCTS as u64,
                got: n as u64,
            });
        }
        let lengths = [
            ("names", names.len()),
            ("prices", self.price.len()),
            ("stock", self.stock.len()),
            ("costs", self.cost.len()),
            ("popularity", self.popularity.len()),
            ("categories", self.category.len()),
            ("families", self.family.len()),
            ("tiers", self.tier.len()),
            (
                "feature offsets",
                self.feature_offsets.len().wrapping_sub(1),
            ),
            ("variant groups", self.variant_group.len()),
            (
                "attribute offsets",
                self.attribute_offsets.len().wrapping_sub(1),
            ),
        ];
        for (what, len) in lengths {
            if len != n {
                return bad(format!("{n} SKUs but {len} {what}"));
            }
        }
        for i in 1..n {
            if skus.get(i - 1).as_bytes() >= skus.get(i).as_bytes() {
                return bad(format!(
                    "SKUs not in strictly increasing byte order at product {i} ({:?})",
                    skus.get(i)
                ));
            }
        }
        if n > 0 && skus.get(0).is_empty() {
            return bad("empty SKU");
        }
        check_unique("category", &category_names)?;
        check_unique("family", &family_names)?;
        check_unique("feature", &feature_names)?;
        check_unique("variant group", &variant_names)?;
        check_unique("attribute name", &attribute_names)?;

        let categories = category_names.len();
        if let Some((i, c)) = self
            .category
            .iter()
            .enumerate()
            .find(|(_, c)| c.index() >= categories)
        {
            return bad(format!("product {i} has category {c} of {categories}"));
        }
        let families = family_names.len();
        for (i, (&f, &t)) in self.family.iter().zip(self.tier.iter()).enumerate() {
            if f != NO_FAMILY && f as usize >= families {
                return bad(format!("product {i} has family {f} of {families}"));
            }
            if f == NO_FAMILY && t != 0 {
                return bad(format!("product {i} has tier {t} but no family"));
            }
        }

        let offsets = self.feature_offsets.into_owned();
        let items = self.feature_items.into_owned();
        if offsets.first() != Some(&0) || offsets.last().map(|&e| e as usize) != Some(items.len()) {
            return bad("feature offsets do not span the feature lists");
        }
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return bad("feature offsets decrease");
        }
        let feature_count = feature_names.len();
        let features = Lists { offsets, items };
        for i in 0..n {
            let list = features.get(i);
            if list.iter().any(|f| f.index() >= feature_count) {
                return bad(format!("product {i} has a feature id out of range"));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return bad(format!("product {i} has unsorted or repeated features"));
            }
        }

        let variants = variant_names.len();
        if let Some((i, g)) = self
            .variant_group
            .iter()
            .enumerate()
            .find(|(_, &g)| g != NO_FAMILY && g as usize >= variants)
        {
            return bad(format!("product {i} has variant group {g} of {variants}"));
        }
        let attribute_count = attribute_names.len();
        let offsets = self.attribute_offsets.into_owned();
        let items = self.attribute_items.into_owned();
        if offsets.first() != Some(&0) || offsets.last().map(|&e| e as usize) != Some(items.len()) {
            return bad("attribute offsets do not span the attribute lists");
        }
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return bad("attribute offsets decrease");
        }
        let attributes = Lists { offsets, items };
        for i in 0..n {
            let list = attributes.get(i);
            if list
                .iter()
                .any(|(k, v)| k.index() >= attribute_count || v.index() >= attribute_count)
            {
                return bad(format!("product {i} has an attribute id out of range"));
            }
            // Lookups binary-search by key.
            if list.windows(2).any(|w| w[0] > w[1]) {
                return bad(format!("product {i} has unsorted attributes"));
            }
        }
        let matching_attributes = self.matching_attributes.into_owned();
        if matching_attributes
            .iter()
            .any(|k| k.index() >= attribute_count)
            || matching_attributes.windows(2).any(|w| w[0] >= w[1])
        {
            return bad("matching attributes out of range, unsorted or repeated");
        }
        let repurchasable = self.repurchasable.into_owned();
        if repurchasable.len() != categories {
            return bad(format!(
                "{categories} categories but {} repurchasable flags",
                repurchasable.len()
            ));
        }
        let relations = self.relations.into_owned();
        check_relations(&relations)?;

        let popularity = self.popularity.into_owned();
        let category = self.category.into_owned();
        let family = self.family.into_owned();
        let tier = self.tier.into_owned();

        let variant_group = self.variant_group.into_owned();
        let inputs = IndexInputs {
            skus: &skus,
            family_names: &family_names,
            categories,
            variants,
            popularity: &popularity,
            category: &category,
            family: &family,
            tier: &tier,
            variant_group: &variant_group,
        };
        let indexes = Indexes::derive(&inputs)?;
        let category_index = (0..categories)
            .map(|c| (Box::from(category_names.get(c)), CategoryId::from_index(c)))
            .collect();
        let max_popularity = popularity.iter().copied().max().unwrap_or(0);
        let cost = self.cost.into_owned();
        let hot = hot_rows(&inputs, &self.price, &self.stock, &cost, max_popularity);

        Ok(InMemoryCatalog {
            fixed: Arc::new(Static {
                skus,
                names,
                cost,
                popularity,
                max_popularity,
                family,
                tier,
                features,
                category_names,
                category_index,
                category_products: indexes.category_products,
                family_names,
                family_members: indexes.family_members,
                feature_names,
                variant_names,
                variant_members: indexes.variant_members,
                attributes,
                attribute_names,
                matching_attributes,
                repurchasable,
                relations,
            }),
            hot: Arc::new(hot),
        })
    }
}

/// Checks relation types as `CatalogBuilder::relation` would: at most
/// [`MAX_RELATIONS`], named, unique names, mirror factors in `(0, 1]`.
fn check_relations(relations: &[RelationType]) -> Result<()> {
    if relations.len() > MAX_RELATIONS {
        return bad(format!(
            "{} relation types, at most {MAX_RELATIONS}",
            relations.len()
        ));
    }
    let mut seen = HashSet::with_capacity(relations.len());
    for r in relations {
        if r.name.is_empty() || !seen.insert(r.name.as_str()) {
            return bad(format!("relation type name {:?} empty or repeated", r.name));
        }
        if let Symmetry::Mirrored(f) = r.symmetry {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return bad(format!(
                    "relation type {:?} has mirror factor {f}, outside (0, 1]",
                    r.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, Product};

    fn sample() -> InMemoryCatalog {
        InMemoryCatalog::from_products([
            Product::new("b", "B", Money(200), "x")
                .with_popularity(5)
                .variant_of("B")
                .with_attribute("size", "M"),
            Product::new("a", "A\u{0}é", Money(100), "x").with_popularity(5),
            Product::new("c", "C", Money(300), "y")
                .with_family("F", 2)
                .with_features(["z", "y", "z"])
                .with_stock(3),
            Product::new("d", "D", Money(u64::MAX), "y")
                .with_family("F", 1)
                .with_cost(Money(7)),
        ])
        .unwrap()
    }

    fn round_trip(c: &InMemoryCatalog) -> Result<InMemoryCatalog> {
        let bytes = bincode::serialize(&c.to_raw()).unwrap();
        let raw: RawCatalog<'static> = bincode::deserialize(&bytes).unwrap();
        raw.into_catalog()
    }

    #[test]
    fn raw_round_trip_is_exact() {
        let c = sample();
        assert_eq!(round_trip(&c).unwrap(), c);
        let empty = InMemoryCatalog::from_products([]).unwrap();
        assert_eq!(round_trip(&empty).unwrap(), empty);
    }

    fn owned(c: &InMemoryCatalog) -> RawCatalog<'static> {
        bincode::deserialize(&bincode::serialize(&c.to_raw()).unwrap()).unwrap()
    }

    fn reason(r: Result<InMemoryCatalog>) -> String {
        match r {
            Err(Error::Snapshot { reason }) => reason,
            other => panic!("expected Error::Snapshot, got {other:?}"),
        }
    }

    #[test]
    fn broken_invariants_are_errors() {
        let c = sample();

        let mut r = owned(&c);
        r.skus.ends.to_mut()[0] = 100;
        assert!(reason(r.into_catalog()).contains("SKUs"));

        let mut r = owned(&c);
        r.names.text = Cow::Owned("AéBCD".into());
        r.names.ends = Cow::Owned(vec![2, 3, 4, 6]); // 2 splits "é"
        assert!(reason(r.into_catalog()).contains("character boundary"));

        let mut r = owned(&c);
        r.skus.text = Cow::Owned("bacd".into());
        assert!(reason(r.into_catalog()).contains("increasing"));

        let mut r = owned(&c);
        r.price.to_mut().pop();
        assert!(reason(r.into_catalog()).contains("prices"));

        let mut r = owned(&c);
        r.category.to_mut()[0] = CategoryId(9);
        assert!(reason(r.into_catalog()).contains("category 9"));

        let mut r = owned(&c);
        r.family.to_mut()[0] = 3;
        assert!(reason(r.into_catalog()).contains("family 3"));

        let mut r = owned(&c);
        r.tier.to_mut()[0] = 1;
        assert!(reason(r.into_catalog()).contains("no family"));

        let mut r = owned(&c);
        r.feature_items.to_mut()[0] = FeatureId(7);
        assert!(reason(r.into_catalog()).contains("feature id"));

        let mut r = owned(&c);
        r.feature_items.to_mut().swap(0, 1);
        assert!(reason(r.into_catalog()).contains("unsorted"));

        let mut r = owned(&c);
        r.feature_offsets = Cow::Owned(vec![0, 0, 0, 5, 2]);
        assert!(reason(r.into_catalog()).contains("feature offsets"));

        let mut r = owned(&c);
        r.category_names.text = Cow::Owned("xx".into());
        assert!(reason(r.into_catalog()).contains("appears twice"));

        let mut r = owned(&c);
        r.variant_group.to_mut()[0] = 5;
        assert!(reason(r.into_catalog()).contains("variant group 5"));

        let mut r = owned(&c);
        r.repurchasable.to_mut().push(true);
        assert!(reason(r.into_catalog()).contains("repurchasable"));

        let mut r = owned(&c);
        r.relations.to_mut()[4].symmetry = Symmetry::Mirrored(f32::NAN);
        assert!(reason(r.into_catalog()).contains("mirror factor"));

        let mut r = owned(&c);
        let dup = r.relations[0].clone();
        r.relations.to_mut().push(dup);
        assert!(reason(r.into_catalog()).contains("repeated"));

        let mut r = owned(&c);
        r.attribute_items.to_mut()[0].1 = AttributeId(99);
        assert!(reason(r.into_catalog()).contains("attribute id"));

        let mut r = owned(&c);
        r.matching_attributes.to_mut().push(AttributeId(99));
        assert!(reason(r.into_catalog()).contains("matching"));

        let mut r = owned(&c);
        r.tier.to_mut()[2] = 1;
        assert!(matches!(
            r.into_catalog(),
            Err(Error::DuplicateTier { tier: 1, .. })
        ));
    }

    #[test]
    fn derived_indexes_are_recomputed() {
        let c = round_trip(&sample()).unwrap();
        let x = c.category_id("x").unwrap();
        let list: Vec<_> = c.category_products(x).iter().map(|&p| c.sku(p)).collect();
        assert_eq!(list, ["a", "b"]);
        assert_eq!(c.max_popularity(), 5);
    }
}
