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

/// The next level of `level`: adjacent pairs hashed, an odd last node moved up unchanged.
fn next_level(level: &[Hash256]) -> Vec<Hash256> {
	level
		.chunks(2)
		.map(|pair| match pair {
			[left, right] => node(left, right),
			[single] => *single,
			_ => [0u8; 32],
		})
		.collect()
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
	let mut proofs = vec![Vec::new(); indices.len()];
	match leaves {
		[] => return ([0u8; 32], proofs),
		[only] => return (*only, proofs),
		_ => {},
	}
	let mut positions: Vec<usize> = indices.to_vec();
	let mut collect = |level: &[Hash256], positions: &mut [usize]| {
		for (proof, position) in proofs.iter_mut().zip(positions.iter_mut()) {
			if let Some(sibling) = level.get(*position ^ 1) {
				proof.push(*sibling);
			}
			*position /= 2;
		}
	};
	collect(leaves, &mut positions);
	let mut level = next_level(leaves);
	while level.len() > 1 {
		collect(&level, &mut positions);
		reduce_in_place(&mut level);
	}
	let root = level.first().copied().unwrap_or([0u8; 32]);
	(root, proofs)
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
		}
	}
}
