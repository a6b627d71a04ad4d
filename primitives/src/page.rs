//! Bounded, resumable reads of storage maps for runtime APIs and RPC.
//!
//! A query that filters a storage map (the claimable hash jobs, one node's subjobs, one
//! client's agreements) must not read the whole map in one call: the node answering an RPC
//! would do unbounded work for anyone who asks. [`collect_page`] reads at most
//! [`MAX_PAGE_SCAN`] entries and returns at most `limit` (capped at [`MAX_PAGE_ITEMS`]) of
//! those the filter keeps, with the cursor to continue from.
//!
//! The cursor is the key of the last entry *read*, not the last one returned, so a page may
//! be short (or empty) and still have a next page; a client reads until `next` is `None`.
//! Entries come in the map's storage order (the order of the hashed keys), which does not
//! change between pages; an entry added or removed while a client pages may or may not be
//! seen, as with any storage iteration across blocks, so clients read all pages at one block.

use alloc::vec::Vec;
use codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Most entries a page returns, whatever `limit` asks.
pub const MAX_PAGE_ITEMS: u32 = 100;

/// Most storage entries one page reads.
pub const MAX_PAGE_SCAN: u32 = 1_000;

/// One page of a filtered read: the entries kept, and where to continue.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Page<Item, Cursor> {
	/// The entries the filter kept, in storage order.
	pub items: Vec<Item>,
	/// The key to pass as `after` for the next page; `None` when the map has been read to
	/// its end.
	pub next: Option<Cursor>,
}

impl<Item, Cursor> Default for Page<Item, Cursor> {
	fn default() -> Self {
		Self { items: Vec::new(), next: None }
	}
}

/// Reads `entries` (a storage map's `(key, value)` pairs, from just after the cursor) into a
/// page: keeps those `keep` accepts, stops after `limit` kept (at most [`MAX_PAGE_ITEMS`], at
/// least one) or [`MAX_PAGE_SCAN`] read, and sets `next` when entries remain unread.
pub fn collect_page<K, V, I, F>(entries: I, limit: u32, mut keep: F) -> Page<(K, V), K>
where
	K: Clone,
	I: IntoIterator<Item = (K, V)>,
	F: FnMut(&K, &V) -> bool,
{
	let limit = limit.clamp(1, MAX_PAGE_ITEMS) as usize;
	let mut entries = entries.into_iter().peekable();
	let mut page = Page::default();
	let mut scanned = 0u32;
	while let Some((key, value)) = entries.next() {
		scanned = scanned.saturating_add(1);
		let last = key.clone();
		if keep(&key, &value) {
			page.items.push((key, value));
		}
		if page.items.len() >= limit || scanned >= MAX_PAGE_SCAN {
			if entries.peek().is_some() {
				page.next = Some(last);
			}
			break;
		}
	}
	page
}

/// Reads every page of a paged read, `read(after)` returning the page after cursor `after`:
/// all the items in order, and how many pages it took. (For callers at one block state, such as
/// tests and the node; a client across blocks reads all pages at one block hash.)
pub fn read_all<Item, Cursor>(
	mut read: impl FnMut(Option<Cursor>) -> Page<Item, Cursor>,
) -> (Vec<Item>, usize) {
	let (mut items, mut after, mut pages) = (Vec::new(), None, 0usize);
	loop {
		let page = read(after);
		pages = pages.saturating_add(1);
		items.extend(page.items);
		match page.next {
			Some(next) => after = Some(next),
			None => return (items, pages),
		}
	}
}

#[cfg(test)]
mod tests {
	// Small known values; an overflow would fail the test, which is what we want.
	#![allow(clippy::arithmetic_side_effects)]
	use super::*;

	fn all_pages(n: u32, limit: u32, keep: fn(&u32) -> bool) -> (Vec<u32>, usize) {
		let map: Vec<(u32, ())> = (0..n).map(|k| (k, ())).collect();
		let mut after: Option<u32> = None;
		let mut out = Vec::new();
		let mut pages = 0;
		loop {
			let from = after.map_or(0, |a| a as usize + 1);
			let page = collect_page(map[from..].iter().copied(), limit, |k, _| keep(k));
			pages += 1;
			out.extend(page.items.iter().map(|(k, _)| *k));
			match page.next {
				Some(next) => after = Some(next),
				None => return (out, pages),
			}
		}
	}

	#[test]
	fn pages_return_every_kept_entry_once_in_order() {
		let (keys, pages) = all_pages(250, 100, |_| true);
		assert_eq!(keys, (0..250).collect::<Vec<_>>());
		assert_eq!(pages, 3);
		let (evens, _) = all_pages(250, 7, |k| k % 2 == 0);
		assert_eq!(evens, (0..250).filter(|k| k % 2 == 0).collect::<Vec<_>>());
	}

	#[test]
	fn a_full_last_page_has_no_next() {
		let (keys, pages) = all_pages(200, 100, |_| true);
		assert_eq!(keys.len(), 200);
		assert_eq!(pages, 2);
	}

	#[test]
	fn limits_are_capped_and_the_scan_is_bounded() {
		let map = (0..5_000u32).map(|k| (k, ()));
		let page = collect_page(map.clone(), u32::MAX, |_, _| true);
		assert_eq!(page.items.len(), MAX_PAGE_ITEMS as usize);
		assert_eq!(page.next, Some(MAX_PAGE_ITEMS - 1));
		// A filter that keeps nothing still stops after MAX_PAGE_SCAN reads, with a cursor.
		let page = collect_page(map.clone(), 10, |_, _| false);
		assert!(page.items.is_empty());
		assert_eq!(page.next, Some(MAX_PAGE_SCAN - 1));
		// A zero limit is read as one.
		assert_eq!(collect_page(map, 0, |_, _| true).items.len(), 1);
	}

	#[test]
	fn an_empty_map_is_one_empty_page() {
		let page = collect_page(core::iter::empty::<(u8, u8)>(), 10, |_, _| true);
		assert_eq!(page, Page::default());
	}
}
