//! Live updates: serve while the catalog changes.
//!
//! A shop's web server answers carts all day while prices, stock and whole
//! catalogs change. [`LiveEngine`] is the handle it shares between threads:
//!
//! * Readers call [`recommend`](LiveEngine::recommend),
//!   [`recommend_with`](LiveEngine::recommend_with) or
//!   [`recommend_skus`](LiveEngine::recommend_skus). Each call takes the
//!   current engine (an `Arc` clone under a read lock held for nothing
//!   else) and answers from it alone, so every answer comes from exactly
//!   one version and says which in
//!   [`Recommendations::version`](crate::Recommendations::version).
//! * Writers build the next engine *outside* any lock, then swap the
//!   pointer under the write lock. A reader waits at most for that swap;
//!   it never waits for a rebuild, a snapshot load or a validation.
//! * An old version stays alive while a call that took it is still
//!   running, and is freed (by whichever thread drops the last `Arc`:
//!   the writer after the swap, or the last reader) when nobody uses it.
//!   The writer drops the old engine after releasing the lock, so freeing
//!   a large catalog never happens while readers are held.
//!
//! Cheap updates that need no rebuild: [`set_stock`](LiveEngine::set_stock),
//! [`set_stocks`](LiveEngine::set_stocks), [`set_price`](LiveEngine::set_price)
//! and [`set_prices`](LiveEngine::set_prices). They copy only the catalog's
//! per-product serving rows ([`InMemoryCatalog::with_stock`]), share the rest of the
//! catalog, the graph and the strategies ([`Engine::with_catalog`]), and
//! stamp the result with the next version. An out-of-stock product is gone
//! from the very next call's suggestions. Whole new catalogs or graphs go in
//! with [`swap`](LiveEngine::swap) or
//! [`reload_file`](LiveEngine::reload_file) (feature `snapshot`). New
//! orders go in with [`learn_orders`](LiveEngine::learn_orders): they are
//! added to a [`MinerState`], the mined rules are rebuilt from its counts
//! (not from the whole history), and the engine's [`Associations`]
//! strategy is replaced by one over them.
//!
//! Every update is validated completely before the swap: a batch naming
//! one unknown SKU, or a snapshot file that fails any check, changes
//! nothing and returns the error.
//!
//! Writers are serialised by a separate mutex, so two concurrent
//! `set_stock` calls cannot lose each other's change; readers never touch
//! that mutex.
//!
//! ```
//! use cartwise::{CatalogBuilder, CategoryRules, ComplementGraph, Engine, LiveEngine, Money,
//!                Product, Request};
//! let mut b = CatalogBuilder::new();
//! b.add(Product::new("PH", "Phone", Money(50_000), "phones"))?;
//! b.add(Product::new("CASE", "Case", Money(2_000), "cases").with_stock(5))?;
//! let catalog = b.build()?;
//! let mut g = ComplementGraph::builder(&catalog);
//! g.add("PH", "CASE", 0.9)?;
//! let graph = g.build()?;
//! let live = LiveEngine::new(Engine::standard(catalog, graph, CategoryRules::default())?);
//!
//! let recs = live.recommend_skus(&[("PH", 1)], &Request::new())?;
//! assert_eq!((recs.version, recs.len()), (0, 1));
//!
//! let v = live.set_stock("CASE", Some(0))?; // sold out: version 1
//! let recs = live.recommend_skus(&[("PH", 1)], &Request::new())?;
//! assert_eq!((v, recs.version, recs.len()), (1, 1, 0));
//! # Ok::<(), cartwise::Error>(())
//! ```
//!
//! # What it does not guarantee
//!
//! * Product ids in a [`Cart`] belong to the catalog that issued them.
//!   Stock and price updates keep ids, but a swapped-in catalog with other
//!   products renumbers them: serve carts kept across a swap by SKU
//!   ([`recommend_skus`](LiveEngine::recommend_skus)), or rebuild them
//!   from [`current`](LiveEngine::current).
//! * Two calls by one thread may see different versions (a swap can happen
//!   between them). To render an answer with names, use the engine that
//!   made it: take [`current`](LiveEngine::current) once and call it.
//! * Versions increase with every update made through this handle; an
//!   engine given to [`swap`](LiveEngine::swap) keeps the version it was
//!   built with, so keep those increasing yourself.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::cart::{Cart, InlineCart};
use crate::catalog::{Catalog, InMemoryCatalog};
use crate::error::{Error, Result, SkuContext};
use crate::id::ProductId;
use crate::incremental::MinerState;
use crate::itemset::ItemsetRules;
use crate::mine::{MineReport, Miner};
use crate::orders::OrdersView;
use crate::product::Money;
use crate::recommend::{Engine, Recommendations, Recommender, Request, Scratch, Suggestion};
use crate::strategy::Associations;

/// A shared, swappable engine; see the [module docs](self).
///
/// `LiveEngine` is `Send + Sync`: put it in an `Arc` (or a `static`) and
/// call it from every request thread.
#[derive(Debug)]
pub struct LiveEngine {
    current: RwLock<Arc<Engine>>,
    writer: Mutex<()>,
}

impl LiveEngine {
    /// A handle serving `engine`.
    pub fn new(engine: Engine) -> Self {
        LiveEngine {
            current: RwLock::new(Arc::new(engine)),
            writer: Mutex::new(()),
        }
    }

    /// The engine serving now. Holding the `Arc` keeps that version alive
    /// (and consistent) for as long as you need it, whatever is swapped in
    /// meanwhile. O(1): a read lock and a reference-count increment.
    pub fn current(&self) -> Arc<Engine> {
        // No code panics while holding this lock, so poisoning cannot carry
        // a half-made state; recover the pointer rather than panic.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The version stamp of the engine serving now.
    pub fn version(&self) -> u64 {
        self.current().version()
    }

    /// Suggestions for `cart` from the engine serving now; the answer's
    /// `version` says which one.
    ///
    /// # Errors
    /// As [`Recommender::recommend`].
    pub fn recommend(&self, cart: &dyn Cart, request: &Request) -> Result<Recommendations> {
        self.current().recommend(cart, request)
    }

    /// Suggestions for `(sku, quantity)` lines, resolved against the same
    /// engine version that answers. The safe call for carts kept by SKU
    /// across catalog swaps. Repeated SKUs are merged.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] (context cart line) for a SKU the serving
    /// catalog lacks, [`Error::ZeroQuantity`], or as
    /// [`Recommender::recommend`].
    pub fn recommend_skus(
        &self,
        lines: &[(&str, u32)],
        request: &Request,
    ) -> Result<Recommendations> {
        let engine = self.current();
        let cart = InlineCart::from_skus(engine.catalog(), lines.iter().copied())?;
        engine.recommend(&cart, request)
    }

    /// Suggestions using caller-owned buffers, as
    /// [`Engine::recommend_with`]; returns the engine that answered with
    /// them, so the caller can render them
    /// ([`Engine::view`]) against the right catalog version.
    ///
    /// # Errors
    /// As [`Recommender::recommend`].
    pub fn recommend_with<'s>(
        &self,
        scratch: &'s mut Scratch,
        cart: &dyn Cart,
        request: &Request,
    ) -> Result<(Arc<Engine>, &'s [Suggestion])> {
        let engine = self.current();
        let out = engine.recommend_with(scratch, cart, request)?;
        Ok((engine, out))
    }

    /// Replaces the serving engine with `engine`, returning the one it
    /// replaces. Calls already running finish on the old engine; the next
    /// call uses the new one. The caller builds (and so validates)
    /// `engine` before this call, so nothing can fail here.
    pub fn swap(&self, engine: Engine) -> Arc<Engine> {
        let _w = self.lock_writer();
        self.replace(Arc::new(engine))
    }

    /// Loads a snapshot file, builds its engine and swaps it in. If
    /// anything fails (I/O, format, checksum, validation), the serving
    /// engine is untouched. Returns the new version.
    ///
    /// # Errors
    /// As [`EngineState::load_file`](crate::EngineState::load_file) and
    /// [`EngineState::to_engine`](crate::EngineState::to_engine).
    #[cfg(feature = "snapshot")]
    pub fn reload_file(&self, path: impl AsRef<std::path::Path>) -> Result<u64> {
        let engine = crate::EngineState::load_file(path)?.to_engine()?;
        let version = engine.version();
        self.swap(engine);
        Ok(version)
    }

    /// Learns from new orders: adds them to `state`
    /// ([`MinerState::add_orders`]), rebuilds the mined graph with `miner`
    /// ([`MinerState::to_mined_graph`]), maps it onto the serving catalog
    /// ([`MinedGraph::to_graph`](crate::MinedGraph::to_graph): rules naming
    /// SKUs the catalog lacks are skipped and counted in the report), and
    /// swaps in the serving engine with an [`Associations`] strategy over
    /// it in place of the one it had (or added last), stamped with the next
    /// version. Everything else (catalog, other strategies, scorer, rules)
    /// is shared with the engine it replaces.
    ///
    /// `itemsets` are the two-item rules to serve beside the new graph
    /// (from the last full [`Miner::mine`](crate::Miner::mine), mapped with
    /// [`MinedGraph::to_itemset_rules`](crate::MinedGraph::to_itemset_rules)):
    /// a miner state cannot mine them (see
    /// [`crate::incremental`](crate::incremental#itemset-rules-need-a-full-rebuild)).
    /// Returns the new version and the mapping report.
    ///
    /// Readers are never held: counting, mining and mapping happen before
    /// the pointer swap. Other writers wait for this call.
    ///
    /// ```
    /// use cartwise::{Catalog, CategoryRules, ComplementGraph, Engine, InMemoryCatalog, LiveEngine,
    ///                Miner, MinerState, Money, OrderLog, Product, Request};
    /// let catalog = InMemoryCatalog::from_products(
    ///     ["pasta", "parmesan", "wine"].map(|s| Product::new(s, s, Money(100), "food")))?;
    /// let graph = ComplementGraph::empty(catalog.len());
    /// let live = LiveEngine::new(Engine::standard(catalog, graph, CategoryRules::default())?);
    /// let miner = Miner::new();
    /// let mut state = MinerState::new(&miner)?;
    ///
    /// let today = OrderLog::from_rows([("1", "pasta"), ("1", "parmesan"), ("2", "wine")])?;
    /// let (version, report) = live.learn_orders(&mut state, &miner, today.view(), None)?;
    /// assert_eq!((version, report.edges), (1, 2));
    /// let recs = live.recommend_skus(&[("pasta", 1)], &Request::new())?;
    /// assert_eq!(live.current().catalog().sku(recs.iter().next().unwrap().product), "parmesan");
    /// # Ok::<(), cartwise::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`MinerState::add_orders`] (the state and the engine are then
    /// unchanged) and [`MinerState::to_mined_graph`] (checked before the
    /// orders are added, except a count cap met while building, after which
    /// the state holds the orders and the engine is unchanged);
    /// [`Error::Snapshot`] for `itemsets` of another catalog;
    /// [`Error::CapExceeded`] if the version would pass `u64::MAX`.
    pub fn learn_orders(
        &self,
        state: &mut MinerState,
        miner: &Miner,
        orders: OrdersView<'_>,
        itemsets: Option<Arc<ItemsetRules>>,
    ) -> Result<(u64, MineReport)> {
        let _w = self.lock_writer();
        let engine = self.current();
        let catalog = engine.catalog();
        let itemsets = itemsets.unwrap_or_else(|| Arc::new(ItemsetRules::empty(catalog.len())));
        itemsets.validate(catalog.len())?;
        state.check_miner(miner)?;
        let version = engine.version().checked_add(1).ok_or(Error::CapExceeded {
            what: "engine version",
            cap: u64::MAX,
            got: u64::MAX,
        })?;
        state.add_orders(orders)?;
        let mined = state.to_mined_graph(miner)?;
        let (graph, report) = mined.to_graph(catalog)?;
        let next = engine.with_strategy(Associations::new(Arc::new(graph), itemsets), version);
        drop(engine);
        self.replace(Arc::new(next));
        Ok((version, report))
    }

    /// Sets one product's stock (`None`: not tracked). Returns the new
    /// version. See [`set_stocks`](Self::set_stocks).
    ///
    /// # Errors
    /// As [`set_stocks`](Self::set_stocks).
    pub fn set_stock(&self, sku: &str, stock: Option<u32>) -> Result<u64> {
        self.set_stocks([(sku, stock)])
    }

    /// Sets the stock of several products in one new version, copying only
    /// the catalog's per-product serving rows (32 bytes a product). Every SKU is resolved before anything changes.
    /// Returns the new version (the old one plus one). A later entry for
    /// the same SKU wins.
    ///
    /// # Errors
    /// [`Error::UnknownSku`] (context update) for a SKU the catalog lacks,
    /// [`Error::CapExceeded`] if the version would pass `u64::MAX`; the
    /// serving engine is untouched then.
    pub fn set_stocks<I, S>(&self, changes: I) -> Result<u64>
    where
        I: IntoIterator<Item = (S, Option<u32>)>,
        S: AsRef<str>,
    {
        self.update(changes, |catalog, ids| catalog.with_stock(ids))
    }

    /// Sets one product's price. Returns the new version.
    ///
    /// # Errors
    /// As [`set_prices`](Self::set_prices).
    pub fn set_price(&self, sku: &str, price: Money) -> Result<u64> {
        self.set_prices([(sku, price)])
    }

    /// Sets the price of several products in one new version, copying only
    /// the catalog's per-product serving rows (32 bytes a product). Every SKU is resolved before anything changes.
    ///
    /// # Errors
    /// As [`set_stocks`](Self::set_stocks).
    pub fn set_prices<I, S>(&self, changes: I) -> Result<u64>
    where
        I: IntoIterator<Item = (S, Money)>,
        S: AsRef<str>,
    {
        self.update(changes, |catalog, ids| catalog.with_price(ids))
    }

    /// Resolves SKUs, builds the next catalog and engine, swaps.
    fn update<I, S, T, F>(&self, changes: I, apply: F) -> Result<u64>
    where
        I: IntoIterator<Item = (S, T)>,
        S: AsRef<str>,
        F: FnOnce(&InMemoryCatalog, Vec<(ProductId, T)>) -> Result<InMemoryCatalog>,
    {
        let _w = self.lock_writer();
        let engine = self.current();
        let catalog = engine.catalog();
        let mut ids = Vec::new();
        for (sku, value) in changes {
            let sku = sku.as_ref();
            let id = catalog.id(sku).ok_or_else(|| Error::UnknownSku {
                sku: sku.to_owned(),
                context: SkuContext::Update,
            })?;
            ids.push((id, value));
        }
        let version = engine.version().checked_add(1).ok_or(Error::CapExceeded {
            what: "engine version",
            cap: u64::MAX,
            got: u64::MAX,
        })?;
        let next = engine.with_catalog(apply(catalog, ids)?, version)?;
        drop(engine);
        self.replace(Arc::new(next));
        Ok(version)
    }

    /// Swaps the pointer; the old engine is dropped after the lock is
    /// released (by the caller, or by its last reader).
    fn replace(&self, next: Arc<Engine>) -> Arc<Engine> {
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *guard, next)
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recommender for LiveEngine {
    fn recommend(&self, cart: &dyn Cart, request: &Request) -> Result<Recommendations> {
        LiveEngine::recommend(self, cart, request)
    }
}

impl From<Engine> for LiveEngine {
    fn from(engine: Engine) -> Self {
        LiveEngine::new(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CartLine, CategoryRules, ComplementGraph, Product};

    fn live() -> LiveEngine {
        let catalog = InMemoryCatalog::from_products([
            Product::new("PH", "Phone", Money(50_000), "phones"),
            Product::new("CASE", "Case", Money(2_000), "cases").with_stock(5),
            Product::new("CAB", "Cable", Money(900), "cables"),
        ])
        .unwrap();
        let mut g = ComplementGraph::builder(&catalog);
        g.add("PH", "CASE", 0.9)
            .unwrap()
            .add("PH", "CAB", 0.2)
            .unwrap();
        let graph = g.build().unwrap();
        LiveEngine::new(Engine::standard(catalog, graph, CategoryRules::default()).unwrap())
    }

    fn skus(live: &LiveEngine) -> (u64, Vec<String>) {
        let engine = live.current();
        let cart = [CartLine {
            product: engine.catalog().id("PH").unwrap(),
            quantity: 1,
        }];
        let recs = engine.recommend(&cart, &Request::new()).unwrap();
        let names = recs
            .iter()
            .map(|s| engine.catalog().sku(s.product).to_owned())
            .collect();
        (recs.version, names)
    }

    #[test]
    fn out_of_stock_disappears_on_the_next_call() {
        let live = live();
        assert_eq!(skus(&live), (0, vec!["CASE".into(), "CAB".into()]));
        assert_eq!(live.set_stock("CASE", Some(0)).unwrap(), 1);
        assert_eq!(skus(&live), (1, vec!["CAB".into()]));
        assert_eq!(live.set_stock("CASE", None).unwrap(), 2);
        assert_eq!(skus(&live), (2, vec!["CASE".into(), "CAB".into()]));
    }

    #[test]
    fn a_batch_with_one_unknown_sku_changes_nothing() {
        let live = live();
        let before = live.current();
        let err = live
            .set_stocks([("CASE", Some(0)), ("NOPE\u{7}", Some(1))])
            .unwrap_err();
        assert!(matches!(
            &err,
            Error::UnknownSku { sku, context: SkuContext::Update } if sku == "NOPE\u{7}"
        ));
        assert_eq!(err.to_string(), r#"unknown SKU "NOPE\u{7}" in update"#);
        assert!(Arc::ptr_eq(&before, &live.current()));
        assert_eq!(skus(&live).1.len(), 2);
    }

    #[test]
    fn price_updates_share_everything_else() {
        let live = live();
        let before = live.current();
        live.set_price("CAB", Money(1)).unwrap();
        let after = live.current();
        let cab = after.catalog().id("CAB").unwrap();
        assert_eq!(after.catalog().price(cab), Money(1));
        assert_eq!(before.catalog().price(cab), Money(900));
        assert!(Arc::ptr_eq(&before.strategies()[0], &after.strategies()[0]));
        assert_eq!(after.version(), 1);
    }

    #[test]
    fn old_versions_are_freed_when_their_last_reader_ends() {
        let live = live();
        let held = live.current();
        let weak = Arc::downgrade(&held);
        live.set_stock("CAB", Some(3)).unwrap();
        // Still alive: a "reader" holds it.
        assert!(weak.upgrade().is_some());
        drop(held);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn learned_orders_replace_the_mined_rules_and_equal_a_full_mine() {
        use crate::{Itemsets, OrderLog};
        let live = live();
        let miner = Miner::new();
        let mut state = MinerState::new(&miner).unwrap();
        let day1 = OrderLog::from_rows([("1", "PH"), ("1", "CAB"), ("2", "CASE")]).unwrap();
        let day2 = OrderLog::from_rows([("3", "PH"), ("3", "CASE"), ("3", "GONE")]).unwrap();
        let (v1, _) = live
            .learn_orders(&mut state, &miner, day1.view(), None)
            .unwrap();
        let (v2, report) = live
            .learn_orders(&mut state, &miner, day2.view(), None)
            .unwrap();
        assert_eq!((v1, v2), (1, 2));
        // "GONE" is not in the catalog: its rules are skipped and counted.
        assert_eq!((report.unknown_skus, report.skipped_rules), (1, 4));
        let engine = live.current();
        let names: Vec<&str> = engine.strategy_names().collect();
        assert_eq!(names, ["cross-sell", "upsell", "associations"]);
        // The served rules are a full mine's of both days.
        let both = OrderLog::from_rows([
            ("1", "PH"),
            ("1", "CAB"),
            ("2", "CASE"),
            ("3", "PH"),
            ("3", "CASE"),
            ("3", "GONE"),
        ])
        .unwrap();
        let (full, _) = miner
            .mine(both.view())
            .unwrap()
            .to_graph(engine.catalog())
            .unwrap();
        let mined = Associations::new(
            Arc::new(full),
            Arc::new(ItemsetRules::empty(engine.catalog().len())),
        );
        let served = live
            .current()
            .with_strategy(mined, 2)
            .recommend(
                &[CartLine {
                    product: engine.catalog().id("PH").unwrap(),
                    quantity: 1,
                }],
                &Request::new(),
            )
            .unwrap();
        let now = live.recommend_skus(&[("PH", 1)], &Request::new()).unwrap();
        let render =
            |r: &Recommendations| r.iter().map(|s| (s.product, s.score)).collect::<Vec<_>>();
        assert_eq!(render(&served), render(&now));
        assert_eq!(now.len(), 2);

        // A miner that mines itemsets, or itemset rules of another catalog:
        // refused before anything changes.
        let before = (live.current(), state.clone());
        let mut itemsets = Miner::new();
        itemsets.itemsets(Itemsets::Mine);
        assert!(matches!(
            live.learn_orders(&mut state, &itemsets, day2.view(), None),
            Err(Error::InvalidConfig {
                field: "itemsets",
                ..
            })
        ));
        let other = Arc::new(
            ItemsetRules::from_rules(9, [([ProductId(0), ProductId(1)], ProductId(2), 0.5)])
                .unwrap(),
        );
        assert!(matches!(
            live.learn_orders(&mut state, &miner, day2.view(), Some(other)),
            Err(Error::Snapshot { .. })
        ));
        assert!(Arc::ptr_eq(&before.0, &live.current()));
        assert_eq!(before.1, state);
    }

    #[test]
    fn recommend_skus_resolves_against_the_serving_version() {
        let live = live();
        let recs = live
            .recommend_skus(&[("PH", 1), ("PH", 2)], &Request::new())
            .unwrap();
        assert_eq!(recs.len(), 2);
        assert!(matches!(
            live.recommend_skus(&[("??", 1)], &Request::new()),
            Err(Error::UnknownSku {
                context: SkuContext::Cart,
                ..
            })
        ));
    }
}
