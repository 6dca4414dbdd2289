//! Itemset rules: complements that fire only when the cart holds two
//! products together.
//!
//! A complement edge says "whoever buys A may want C". Some evidence needs
//! two products: pasta alone says little about parmesan, and tomatoes alone
//! say little, but pasta *and* tomatoes in one basket do. An itemset rule
//! `{A, B} -> C` with a weight says exactly that; it fires when both A and
//! B are in the cart. Rules come from the miner
//! ([`MinedGraph::to_itemset_rules`](crate::mine::MinedGraph::to_itemset_rules))
//! or from Spark's FPGrowth ([`crate::spark::to_graph`]), and are served by
//! the [`Associations`](crate::Associations) strategy.
//!
//! # Layout
//!
//! [`ItemsetRules`] is a CSR over sorted antecedent pairs: `keys` holds each
//! antecedent `[a, b]` once, `a < b`, sorted; `offsets[k]..offsets[k + 1]`
//! are its consequents in `targets` (sorted by id, never `a` or `b`) with
//! their `weights`. That is 8 bytes per antecedent pair plus 8 per rule
//! plus 4 per pair for the offsets. Finding the rules of a cart of m lines
//! costs a binary search for each line's first key and one for each
//! further line in that key run: O(m log K + m² log d) with d the rules of
//! one antecedent product, and no allocation.

use crate::error::{Error, Result};
use crate::graph::check_weight;
use crate::id::ProductId;

/// Two-item-antecedent rules `{a, b} -> c` over a catalog's product ids.
/// See the [module docs](self).
///
/// ```
/// use cartwise::{ItemsetRules, ProductId};
/// let (a, b, c, d) = (ProductId(0), ProductId(1), ProductId(2), ProductId(3));
/// let rules = ItemsetRules::from_rules(4, [([b, a], c, 0.5), ([a, b], d, 0.25)])?;
/// assert_eq!(rules.len(), 2);
/// assert_eq!(rules.consequents(a, b), (&[c, d][..], &[0.5, 0.25][..]));
/// assert_eq!(rules.consequents(b, a).0.len(), 2); // order does not matter
/// assert!(rules.consequents(a, c).0.is_empty());
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ItemsetRules {
    /// Number of products of the catalog the ids belong to.
    products: usize,
    /// Antecedent pairs, `[a, b]` with `a < b < products`, strictly
    /// ascending.
    keys: Vec<[ProductId; 2]>,
    /// `keys.len() + 1` entries, non-decreasing, from 0 to `targets.len()`;
    /// a run is never empty.
    offsets: Vec<u32>,
    /// Consequents, strictly ascending within a run, never one of the run's
    /// antecedents, `< products`.
    targets: Vec<ProductId>,
    /// Finite, `>= 0`, parallel to `targets`.
    weights: Vec<f32>,
}

impl Default for ItemsetRules {
    /// No rules (over no products; they fit any catalog).
    fn default() -> Self {
        ItemsetRules::empty(0)
    }
}

impl ItemsetRules {
    /// No rules, over a catalog of `products` products.
    pub fn empty(products: usize) -> Self {
        ItemsetRules {
            products,
            keys: Vec::new(),
            offsets: vec![0],
            targets: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Builds rules from `([a, b], c, weight)` triples over a catalog of
    /// `products` products. The antecedent's order does not matter; a
    /// repeated rule keeps its largest weight. Runs in O(r log r).
    ///
    /// # Errors
    /// [`Error::UnknownSku`] for an id out of range (named `#id`),
    /// [`Error::SelfEdge`] when the antecedent repeats an id or holds the
    /// consequent, [`Error::InvalidWeight`] for a weight that is not finite
    /// and `>= 0`, [`Error::CapExceeded`] past `u32::MAX - 1` rules.
    pub fn from_rules<I>(products: usize, rules: I) -> Result<Self>
    where
        I: IntoIterator<Item = ([ProductId; 2], ProductId, f32)>,
    {
        let mut list: Vec<([ProductId; 2], ProductId, f32)> = Vec::new();
        for ([a, b], c, w) in rules {
            for id in [a, b, c] {
                if id.index() >= products {
                    return Err(Error::UnknownSku {
                        sku: format!("#{id}"),
                        context: if id == c {
                            crate::SkuContext::EdgeTo
                        } else {
                            crate::SkuContext::EdgeFrom
                        },
                    });
                }
            }
            if a == b || c == a || c == b {
                let node = if a == b { a } else { c };
                return Err(Error::SelfEdge {
                    node: format!("#{node}"),
                });
            }
            let from = format!("#{a}, #{b}");
            check_weight(&from, &format!("#{c}"), f64::from(w))?;
            list.push(([a.min(b), a.max(b)], c, w));
        }
        if list.len() >= u32::MAX as usize {
            return Err(Error::CapExceeded {
                what: "itemset rules",
                cap: u64::from(u32::MAX) - 1,
                got: list.len() as u64,
            });
        }
        list.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(y.2.total_cmp(&x.2)));
        list.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let mut rules = ItemsetRules::empty(products);
        for (key, c, w) in list {
            if rules.keys.last() != Some(&key) {
                if !rules.keys.is_empty() {
                    rules.offsets.push(rules.targets.len() as u32);
                }
                rules.keys.push(key);
            }
            rules.targets.push(c);
            rules.weights.push(w);
        }
        if !rules.keys.is_empty() {
            rules.offsets.push(rules.targets.len() as u32);
        }
        Ok(rules)
    }

    /// The number of products of the catalog the rules were built for.
    pub fn products(&self) -> usize {
        self.products
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The number of distinct antecedent pairs.
    pub fn n_antecedents(&self) -> usize {
        self.keys.len()
    }

    /// The antecedent pairs, `[a, b]` with `a < b`, ascending.
    pub fn antecedents(&self) -> &[[ProductId; 2]] {
        &self.keys
    }

    /// The index range in [`antecedents`](Self::antecedents) of the pairs
    /// whose first (smaller) product is `a`. O(log K).
    #[inline]
    pub fn antecedent_range(&self, a: ProductId) -> std::ops::Range<usize> {
        let start = self.keys.partition_point(|k| k[0] < a);
        let end = start + self.keys[start..].partition_point(|k| k[0] == a);
        start..end
    }

    /// The consequents and weights of antecedent pair number `k` (an index
    /// into [`antecedents`](Self::antecedents)).
    ///
    /// # Panics
    /// Panics if `k >= n_antecedents()`.
    #[inline]
    pub fn rules_of(&self, k: usize) -> (&[ProductId], &[f32]) {
        let (s, e) = (self.offsets[k] as usize, self.offsets[k + 1] as usize);
        (&self.targets[s..e], &self.weights[s..e])
    }

    /// The consequents of `{a, b}` (in either order), sorted by id, with
    /// their weights; empty when there is no such rule. O(log K).
    pub fn consequents(&self, a: ProductId, b: ProductId) -> (&[ProductId], &[f32]) {
        let key = [a.min(b), a.max(b)];
        match self.keys.binary_search(&key) {
            Ok(k) => self.rules_of(k),
            Err(_) => (&[], &[]),
        }
    }

    /// Every rule as `([a, b], c, weight)`, by antecedent then consequent.
    pub fn rules(&self) -> impl Iterator<Item = ([ProductId; 2], ProductId, f32)> + '_ {
        (0..self.keys.len()).flat_map(move |k| {
            let (t, w) = self.rules_of(k);
            let key = self.keys[k];
            t.iter().zip(w).map(move |(&c, &w)| (key, c, w))
        })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.offsets.capacity() * 4
            + self.targets.capacity() * 4
            + self.weights.capacity() * 4
    }

    /// Checks the invariants against a catalog of `products` products; for
    /// rules that were deserialised.
    ///
    /// # Errors
    /// [`Error::Snapshot`] naming the broken invariant.
    pub fn validate(&self, products: usize) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::Snapshot {
                reason: format!("itemset rules: {reason}"),
            })
        };
        if self.keys.is_empty() && self.targets.is_empty() && self.offsets.len() <= 1 {
            return Ok(()); // no rules fit any catalog
        }
        if self.products != products {
            return bad("built for a catalog of another size");
        }
        if self.offsets.len() != self.keys.len() + 1 || self.offsets.first() != Some(&0) {
            return bad("offsets do not match the antecedents");
        }
        if self.targets.len() != self.weights.len()
            || self.offsets.last().map(|&x| x as usize) != Some(self.targets.len())
        {
            return bad("rule arrays differ in length");
        }
        if self.offsets.windows(2).any(|w| w[0] >= w[1]) {
            return bad("offsets do not increase");
        }
        if self.keys.windows(2).any(|w| w[0] >= w[1]) {
            return bad("antecedents not sorted or repeated");
        }
        for (k, &[a, b]) in self.keys.iter().enumerate() {
            if a >= b || b.index() >= products {
                return bad("antecedent out of range or not ordered");
            }
            let (t, w) = self.rules_of(k);
            if t.iter().any(|&c| c.index() >= products || c == a || c == b) {
                return bad("consequent out of range or in its antecedent");
            }
            if t.windows(2).any(|p| p[0] >= p[1]) {
                return bad("consequents not sorted or repeated");
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return bad("weight not finite or negative");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u32) -> ProductId {
        ProductId(i)
    }

    #[test]
    fn built_sorted_deduplicated_and_valid() {
        let r = ItemsetRules::from_rules(
            6,
            [
                ([p(3), p(1)], p(5), 0.2),
                ([p(0), p(2)], p(4), 0.7),
                ([p(1), p(3)], p(0), 0.1),
                ([p(1), p(3)], p(5), 0.9),
            ],
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.antecedents(), &[[p(0), p(2)], [p(1), p(3)]]);
        assert_eq!(
            r.consequents(p(3), p(1)),
            (&[p(0), p(5)][..], &[0.1, 0.9][..])
        );
        assert_eq!(r.antecedent_range(p(1)), 1..2);
        assert_eq!(r.antecedent_range(p(2)), 2..2);
        assert_eq!(r.antecedent_range(p(9)), 2..2);
        r.validate(6).unwrap();
        assert!(r.validate(7).is_err());
        assert_eq!(
            r.rules().collect::<Vec<_>>(),
            vec![
                ([p(0), p(2)], p(4), 0.7),
                ([p(1), p(3)], p(0), 0.1),
                ([p(1), p(3)], p(5), 0.9)
            ]
        );
        ItemsetRules::empty(3).validate(3).unwrap();
    }

    #[test]
    fn bad_rules_are_rejected() {
        let one = |a, b, c, w| ItemsetRules::from_rules(4, [([p(a), p(b)], p(c), w)]);
        assert!(matches!(one(0, 0, 1, 1.0), Err(Error::SelfEdge { node }) if node == "#0"));
        assert!(matches!(one(0, 1, 1, 1.0), Err(Error::SelfEdge { node }) if node == "#1"));
        assert!(matches!(one(0, 1, 9, 1.0), Err(Error::UnknownSku { sku, .. }) if sku == "#9"));
        assert!(matches!(
            one(0, 1, 2, f32::NAN),
            Err(Error::InvalidWeight { .. })
        ));
        assert!(matches!(
            one(0, 1, 2, -1.0),
            Err(Error::InvalidWeight { .. })
        ));
    }
}
