//! The Merkle tree of [`appchain_primitives::pow`] over a subjob's chunk digests, computed
//! without copying the leaves.
//!
//! A subjob has up to 2^20 chunks, so its digests take 32 MiB. `pow::merkle_root` and
//! `pow::merkle_proof` (the runtime's reference) copy every level; here the first level is
//! built into one buffer of half the leaves and every later level is reduced in place, so a
//! root, or a root with any number of proofs, costs at most 16 MiB more than the leaves. The
//! tests check both against the reference.

use appchain_primitives::pow::Hash256;
use sha2::{Digest, Sha256};

/// `SHA-256(left ‖ right)`.
fn node(left: &Hash256, right: &Hash256) -> Hash256 {
	let mut block = [0u8; 64];
	block[..32].copy_from_slice(left);
	block[32..].copy_from_slice(right);
	Sha256::digest(block).into()
}

/// Reduces `level` to its next level in place.
fn reduce_in_place(level: &mut Vec<Hash256>) {
	let pairs = level.len() / 2;
	for i in 0..pairs {
		level[i] = node(&level[2 * i], &level[2 * i + 1]);
	}
	if level.len() % 2 == 1 {
		level[pairs] = level[level.len() - 1];
		level.truncate(pairs + 1);
	} else {
		level.truncate(pairs);
	}
}

/// The Merkle root of `leaves` (all zeros for none), equal to `pow::merkle_root`.
pub fn root(leaves: &[Hash256]) -> Hash256 {
	root_and_proofs(leaves, &[]).0
}

/// The Merkle root of `leaves` and the proof of each leaf in `indices` (siblings from the
/// bottom up, levels without one skipped), equal to `pow::merkle_proof`. An index past the
/// leaves gets the siblings it would have, which no verifier accepts.
pub fn root_and_proofs(leaves: &[Hash256], indices: &[usize]) -> (Hash256, Vec<Vec<Hash256>>) {
	let mut next = leaves.iter().copied();
	let streamed = root_and_proofs_streamed(leaves.len(), indices, || {
		Ok::<_, core::convert::Infallible>(next.next().unwrap_or([0u8; 32]))
	});
	match streamed {
		Ok(tree) => (tree.root, tree.proofs),
		Err(never) => match never {},
	}
}

/// What [`root_and_proofs_streamed`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven {
	/// The Merkle root.
	pub root: Hash256,
	/// The leaf at each of the requested indices (zeros past the end).
	pub leaves: Vec<Hash256>,
	/// The proof of each requested leaf.
	pub proofs: Vec<Vec<Hash256>>,
}

/// [`root_and_proofs`] over `count` leaves read one by one from `next_leaf` (for example from
/// a file), so the leaves never need to be in memory at once: the cost is one buffer of half
/// of them. Also returns the requested leaves themselves.
pub fn root_and_proofs_streamed<E>(
	count: usize,
	indices: &[usize],
	mut next_leaf: impl FnMut() -> Result<Hash256, E>,
) -> Result<Proven, E> {
	let mut proofs = vec![Vec::new(); indices.len()];
	let mut chosen = vec![[0u8; 32]; indices.len()];
	// Level 0, streamed: note the chosen leaves and their siblings, pair the rest up.
	let mut level = Vec::with_capacity(count.div_ceil(2));
	let mut pending: Option<Hash256> = None;
	for position in 0..count {
		let leaf = next_leaf()?;
		for (k, &index) in indices.iter().enumerate() {
			if index == position {
				chosen[k] = leaf;
			}
			if index ^ 1 == position {
				proofs[k].push(leaf);
			}
		}
		match pending.take() {
			Some(left) => level.push(node(&left, &leaf)),
			None => pending = Some(leaf),
		}
	}
	if count == 1 {
		return Ok(Proven { root: pending.unwrap_or([0u8; 32]), leaves: chosen, proofs });
	}
	level.extend(pending);
	let mut positions: Vec<usize> = indices.iter().map(|i| i / 2).collect();
	while level.len() > 1 {
		for (proof, position) in proofs.iter_mut().zip(positions.iter_mut()) {
			if let Some(sibling) = level.get(*position ^ 1) {
				proof.push(*sibling);
			}
			*position /= 2;
		}
		reduce_in_place(&mut level);
	}
	let root = level.first().copied().unwrap_or([0u8; 32]);
	Ok(Proven { root, leaves: chosen, proofs })
}

#[cfg(test)]
mod tests {
	use super::*;
	use appchain_primitives::pow::{merkle_proof, merkle_root, Sha2};

	#[test]
	fn equal_to_the_reference_for_every_size_and_leaf() {
		for n in 0..=70usize {
			let leaves: Vec<Hash256> =
				(0..n).map(|i| Sha256::digest((i as u64).to_le_bytes()).into()).collect();
			let indices: Vec<usize> = (0..n).collect();
			let (root, proofs) = root_and_proofs(&leaves, &indices);
			assert_eq!(root, merkle_root::<Sha2>(&leaves), "root of {n}");
			assert_eq!(super::root(&leaves), root);
			for (i, proof) in proofs.iter().enumerate() {
				assert_eq!(proof, &merkle_proof::<Sha2>(&leaves, i), "proof of leaf {i} of {n}");
			}
			let mut read = leaves.iter().copied();
			let streamed =
				root_and_proofs_streamed(n, &indices, || read.next().ok_or("read past the leaves"))
					.unwrap();
			assert_eq!((streamed.root, &streamed.proofs), (root, &proofs), "streamed, {n} leaves");
			assert_eq!(streamed.leaves, leaves);
		}
	}
}
