//! "More like this": a fallback source for products with no evidence.

use super::{Candidates, Context, Kind, Strategy, Via};
use crate::catalog::Catalog;
use crate::explain::sorted_difference_counts;

/// Suggests products of the same category that share features with a cart
/// product, as a fallback: it runs only while the candidates pooled so far
/// (by the strategies before it) number fewer than the request's limit, so
/// put it last.
///
/// The weight is `scale × shared / (shared + differing)` over feature sets
/// (Jaccard similarity); products sharing no feature are not suggested.
/// It scans at most `scan` products of the category, most popular first,
/// so the cost is bounded on large catalogs: O(cart lines × scan × features).
#[derive(Clone, Debug, PartialEq)]
pub struct Similar {
    /// Products of the category examined per cart line (default 64).
    pub scan: usize,
    /// Products suggested per cart line (default 3).
    pub per_line: usize,
    /// Multiplies the similarity into a weight (default 0.3: below most
    /// curated and learned evidence, since similar is not complementary).
    pub scale: f32,
}

impl Default for Similar {
    fn default() -> Self {
        Similar {
            scan: 64,
            per_line: 3,
            scale: 0.3,
        }
    }
}

impl<C: Catalog + ?Sized> Strategy<C> for Similar {
    fn name(&self) -> &str {
        "similar"
    }

    fn kind(&self) -> Kind {
        Kind::CrossSell
    }

    fn candidates(&self, ctx: &Context<'_, C>, sink: &mut Candidates) {
        if sink.len() >= ctx.request.limit {
            return;
        }
        let catalog = ctx.catalog;
        for line in ctx.cart {
            let source = line.product;
            let mine = catalog.features(source);
            if mine.is_empty() {
                continue;
            }
            // Keep the best `per_line` by (similarity desc, popularity order).
            let mut best: smallvec::SmallVec<[(f32, usize, crate::ProductId); 8]> =
                smallvec::SmallVec::new();
            for (rank, &p) in catalog
                .category_products(catalog.category(source))
                .iter()
                .take(self.scan)
                .enumerate()
            {
                if p == source || ctx.in_cart(p) {
                    continue;
                }
                let theirs = catalog.features(p);
                let (only_mine, only_theirs) = sorted_difference_counts(mine, theirs);
                let shared = mine.len() - only_mine;
                if shared == 0 {
                    continue;
                }
                let sim = shared as f32 / (shared + only_mine + only_theirs) as f32;
                best.push((sim, rank, p));
            }
            best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(sim, _, p) in best.iter().take(self.per_line) {
                sink.add_cross_sell(p, source, self.scale * sim, Via::Similar);
            }
        }
    }
}
