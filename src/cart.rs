//! Carts: what the customer holds now.
//!
//! The engine reads a cart through the [`Cart`] trait, as a slice of
//! [`CartLine`]s over catalog ids. [`InlineCart`] keeps up to
//! [`INLINE_LINES`] lines without touching the heap, which covers nearly
//! every real cart; larger carts spill to the heap transparently.
//!
//! A cart may name the same product twice (two "add to cart" clicks): the
//! engine treats such lines as one line with the summed quantity
//! (saturating at `u32::MAX`). [`InlineCart::add`] merges at insertion.

use ahash::AHashMap;
use smallvec::SmallVec;

use crate::catalog::Catalog;
use crate::error::{Error, Result, SkuContext};
use crate::id::ProductId;

/// Lines an [`InlineCart`] stores inline before it allocates.
pub const INLINE_LINES: usize = 16;

/// One line of a cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CartLine {
    /// The product.
    pub product: ProductId,
    /// Units, at least 1.
    pub quantity: u32,
}

/// Read access to a cart.
///
/// Object-safe. Implement it over your own cart type to avoid a copy.
///
/// # Contract
/// Every line's product is an id of the catalog the engine serves and its
/// quantity is at least 1; the engine checks both and returns
/// [`Error::UnknownSku`] or [`Error::ZeroQuantity`] otherwise.
pub trait Cart {
    /// The lines, in the order the customer added them.
    fn lines(&self) -> &[CartLine];
}

/// A cart that holds up to [`INLINE_LINES`] lines inline.
///
/// ```
/// # use cartwise::{CatalogBuilder, InlineCart, Money, Product, Cart};
/// # let mut b = CatalogBuilder::new();
/// # b.add(Product::new("PH-15", "Phone 15", Money(79_900), "phones"))?;
/// # let catalog = b.build()?;
/// let mut cart = InlineCart::new();
/// cart.add(&catalog, "PH-15", 1)?;
/// cart.add(&catalog, "PH-15", 1)?; // merged into one line of 2
/// assert_eq!(cart.lines().len(), 1);
/// assert_eq!(cart.lines()[0].quantity, 2);
/// # Ok::<(), cartwise::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct InlineCart {
    lines: SmallVec<[CartLine; INLINE_LINES]>,
    /// Line index by product, built once the cart spills past
    /// [`INLINE_LINES`], so merging stays O(1) for huge carts; empty (and
    /// unallocated) for typical ones, which scan their few lines.
    index: AHashMap<ProductId, u32>,
}

/// Carts are equal when their lines are (the index is a cache).
impl PartialEq for InlineCart {
    fn eq(&self, other: &Self) -> bool {
        self.lines == other.lines
    }
}

impl Eq for InlineCart {}

impl InlineCart {
    /// An empty cart.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a cart from `(sku, quantity)` pairs.
    ///
    /// # Errors
    /// As [`add`](Self::add); nothing is returned on error.
    pub fn from_skus<'s, C, I>(catalog: &C, lines: I) -> Result<Self>
    where
        C: Catalog + ?Sized,
        I: IntoIterator<Item = (&'s str, u32)>,
    {
        let mut cart = Self::new();
        for (sku, quantity) in lines {
            cart.add(catalog, sku, quantity)?;
        }
        Ok(cart)
    }

    /// Adds `quantity` units of a SKU, merging with an existing line.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] when the catalog lacks the SKU,
    /// [`Error::ZeroQuantity`] for quantity 0. The cart is unchanged then.
    pub fn add<C: Catalog + ?Sized>(
        &mut self,
        catalog: &C,
        sku: &str,
        quantity: u32,
    ) -> Result<&mut Self> {
        let product = catalog.id(sku).ok_or_else(|| Error::UnknownSku {
            sku: sku.to_owned(),
            context: SkuContext::Cart,
        })?;
        if quantity == 0 {
            return Err(Error::ZeroQuantity {
                sku: sku.to_owned(),
            });
        }
        self.push(product, quantity);
        Ok(self)
    }

    /// Adds a line by id, merging with an existing line of the same product.
    /// A quantity of 0 is ignored. Ids are checked when the engine reads the cart.
    pub fn push(&mut self, product: ProductId, quantity: u32) {
        if quantity == 0 {
            return;
        }
        let found = if self.index.is_empty() {
            self.lines.iter().position(|l| l.product == product)
        } else {
            self.index.get(&product).map(|&i| i as usize)
        };
        match found.and_then(|i| self.lines.get_mut(i)) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => {
                self.lines.push(CartLine { product, quantity });
                if !self.index.is_empty() {
                    self.index.insert(product, (self.lines.len() - 1) as u32);
                } else if self.lines.len() > INLINE_LINES {
                    self.index = (self.lines.iter().enumerate())
                        .map(|(i, l)| (l.product, i as u32))
                        .collect();
                }
            }
        }
    }

    /// Removes every line.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.index.clear();
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the cart is empty.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl Cart for InlineCart {
    fn lines(&self) -> &[CartLine] {
        &self.lines
    }
}

impl Cart for [CartLine] {
    fn lines(&self) -> &[CartLine] {
        self
    }
}

impl Cart for Vec<CartLine> {
    fn lines(&self) -> &[CartLine] {
        self
    }
}

impl<const N: usize> Cart for [CartLine; N] {
    fn lines(&self) -> &[CartLine] {
        self
    }
}
