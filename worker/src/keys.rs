//! Signing keys: sr25519, from a secret URI in the environment or from a keystore file.
//!
//! - `APPCHAIN_SURI` (any secret URI: a mnemonic, a `0x` seed, `//Alice`, with optional
//!   `//hard/soft` derivations and `///password`) takes precedence.
//! - Otherwise the keystore file (by default `<base-path>/key`) holds a secret URI, usually
//!   the 24-word phrase `key generate` wrote. It is created with mode 0600 and never
//!   overwritten.
//!
//! Secrets are never printed or logged; errors say where the secret came from, not what it is.

use std::{fs, io::Write, path::Path, str::FromStr};

use subxt::utils::AccountId32;
use subxt_signer::{bip39::Mnemonic, sr25519::Keypair, SecretUri};

use crate::error::WorkerError;

/// The environment variable holding a secret URI.
pub const SURI_ENV: &str = "APPCHAIN_SURI";

/// Where a key comes from. Its `Debug` never shows the secret.
#[derive(Clone)]
pub enum KeySource {
	/// The `APPCHAIN_SURI` environment variable.
	Env(String),
	/// A keystore file.
	File(std::path::PathBuf),
}

impl std::fmt::Debug for KeySource {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			KeySource::Env(_) => write!(f, "Env(${SURI_ENV}, redacted)"),
			KeySource::File(path) => write!(f, "File({})", path.display()),
		}
	}
}

impl KeySource {
	/// `APPCHAIN_SURI` if set, else the keystore file.
	pub fn pick(keystore: &Path) -> Self {
		match std::env::var(SURI_ENV) {
			Ok(suri) if !suri.is_empty() => KeySource::Env(suri),
			_ => KeySource::File(keystore.to_path_buf()),
		}
	}

	/// Loads the key pair.
	pub fn load(&self) -> Result<Keypair, WorkerError> {
		match self {
			KeySource::Env(suri) => keypair_from_suri(suri).map_err(|reason| {
				WorkerError::Key(format!("malformed secret URI in ${SURI_ENV}: {reason}"))
			}),
			KeySource::File(path) => {
				let secret = fs::read_to_string(path).map_err(|e| {
					WorkerError::Key(format!(
						"no key: cannot read keystore {} ({e}); run `appchain-worker key generate` \
						 or set ${SURI_ENV}",
						path.display()
					))
				})?;
				keypair_from_suri(secret.trim()).map_err(|reason| {
					WorkerError::Key(format!(
						"malformed secret URI in keystore {}: {reason}",
						path.display()
					))
				})
			},
		}
	}
}

/// Parses a secret URI without echoing it in the error.
pub fn keypair_from_suri(suri: &str) -> Result<Keypair, String> {
	let uri = SecretUri::from_str(suri).map_err(|e| error_without_secret(&e.to_string()))?;
	Keypair::from_uri(&uri).map_err(|e| error_without_secret(&e.to_string()))
}

/// Error texts of the parser may quote their input; keep only a generic reason then.
fn error_without_secret(reason: &str) -> String {
	if reason.contains('/') || reason.split_whitespace().count() > 6 {
		"not a valid phrase, seed or derivation path".into()
	} else {
		reason.to_string()
	}
}

/// Writes a new 24-word phrase to `path` (mode 0600, refusing to overwrite) and returns the
/// key pair.
pub fn generate(path: &Path) -> Result<Keypair, WorkerError> {
	let mut entropy = [0u8; 32];
	getrandom::getrandom(&mut entropy)
		.map_err(|e| WorkerError::Key(format!("no randomness for a new key: {e}")))?;
	let phrase = Mnemonic::from_entropy(&entropy)
		.map_err(|e| WorkerError::Key(format!("cannot make a phrase: {e}")))?;
	let keypair = Keypair::from_phrase(&phrase, None)
		.map_err(|e| WorkerError::Key(format!("cannot derive the key: {e}")))?;
	if let Some(dir) = path.parent() {
		fs::create_dir_all(dir)
			.map_err(|e| WorkerError::Key(format!("cannot create {}: {e}", dir.display())))?;
	}
	let mut options = fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut file = options.open(path).map_err(|e| {
		WorkerError::Key(format!(
			"cannot create keystore {}: {e} (an existing key is never overwritten)",
			path.display()
		))
	})?;
	file.write_all(format!("{phrase}\n").as_bytes())
		.and_then(|()| file.sync_all())
		.map_err(|e| WorkerError::Key(format!("cannot write keystore {}: {e}", path.display())))?;
	Ok(keypair)
}

/// The SS58 address of `account` in the chain's format (prefix 4242).
pub fn ss58(account: &AccountId32) -> String {
	ss58_with_prefix(account.as_ref(), appchain_primitives::token::SS58_PREFIX)
}

/// SS58: base58 of `prefix ‖ public key ‖ blake2b-512("SS58PRE" ‖ prefix ‖ key)[..2]`, with
/// the two-byte prefix encoding for prefixes 64..16383.
pub fn ss58_with_prefix(public: &[u8; 32], prefix: u16) -> String {
	let mut data = Vec::with_capacity(36);
	if prefix < 64 {
		data.push(prefix as u8);
	} else {
		let first = ((prefix & 0b0000_0000_1111_1100) as u8 >> 2) | 0b0100_0000;
		let second = ((prefix >> 8) as u8) | ((prefix & 0b0000_0000_0000_0011) as u8) << 6;
		data.push(first);
		data.push(second);
	}
	data.extend_from_slice(public);
	let mut preimage = b"SS58PRE".to_vec();
	preimage.extend_from_slice(&data);
	let checksum = sp_crypto_hashing::blake2_512(&preimage);
	data.extend_from_slice(&checksum[..2]);
	bs58::encode(data).into_string()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn alice_in_the_generic_and_our_format() {
		let alice = keypair_from_suri("//Alice").unwrap();
		let id: AccountId32 = alice.public_key().into();
		// The well-known generic-substrate (42) address of //Alice.
		assert_eq!(
			ss58_with_prefix(id.as_ref(), 42),
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		);
		assert_eq!(id.to_string(), ss58_with_prefix(id.as_ref(), 42));
		// Our format, as @polkadot/util-crypto's `encodeAddress(alice, 4242)` prints it.
		assert_eq!(ss58(&id), "mHpNjVNAj3mWbGmzwFqAt3Et9CLcYrpuYZbJ7um8uJY2uJ7E4");
	}

	#[test]
	fn malformed_uri_is_an_error_that_hides_the_secret() {
		// The dev phrase with its last word misspelt.
		let secret = "bottom drive obey lake curtain smoke basket hold race lonely fit wolk";
		let err = keypair_from_suri(secret).err().unwrap_or_default();
		assert!(!err.is_empty());
		assert!(!err.contains("curtain"), "{err}");
		assert!(keypair_from_suri("not a phrase at all").is_err());
	}

	#[test]
	fn debug_never_shows_the_secret() {
		let shown = format!("{:?}", KeySource::Env("//Alice".into()));
		assert!(!shown.contains("Alice"), "{shown}");
	}

	#[test]
	fn generated_key_file_is_private_and_never_overwritten() {
		let dir = std::env::temp_dir().join(format!("appchain-key-{}", std::process::id()));
		let path = dir.join("key");
		let _ = fs::remove_dir_all(&dir);
		let pair = generate(&path).unwrap();
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
			assert_eq!(mode, 0o600);
		}
		let loaded = KeySource::File(path.clone()).load().unwrap();
		assert_eq!(loaded.public_key().0, pair.public_key().0);
		assert!(generate(&path).is_err());
		fs::remove_dir_all(&dir).unwrap();
	}
}
