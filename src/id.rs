//! Dense integer handles for products, categories and families.
//!
//! Inside a catalog every product, category and family gets a small `u32`
//! handle. The hot path works on these handles and flat arrays indexed by
//! them; strings are compared only at the catalog boundary (loading a
//! catalog, resolving a cart's SKUs, rendering a reason).
//!
//! Product ids are assigned in SKU byte order when a catalog is built, so
//! that a tie broken "by product id" is a tie broken by SKU, whatever order
//! the products were added in.

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(pub u32);

        impl $name {
            /// The handle as an index into the catalog's flat arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self.0 as usize
            }

            /// Makes a handle from an index.
            ///
            /// # Panics
            /// Panics if `index` does not fit in a `u32`; catalogs are capped
            /// well below that ([`crate::MAX_PRODUCTS`]).
            #[inline]
            pub fn from_index(index: usize) -> Self {
                $name(u32::try_from(index).expect("id index fits in u32"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

define_id!(
    /// A product inside one catalog. Only meaningful with the catalog that
    /// issued it.
    ProductId
);
define_id!(
    /// A category inside one catalog.
    CategoryId
);
define_id!(
    /// A product family (a product line with tiers) inside one catalog.
    FamilyId
);
define_id!(
    /// An interned feature name inside one catalog.
    FeatureId
);
define_id!(
    /// A variant group (the products that are sizes or colours of one
    /// parent) inside one catalog.
    VariantGroupId
);
define_id!(
    /// An interned variant attribute key (`size`) or value (`M`) inside one catalog.
    AttributeId
);
