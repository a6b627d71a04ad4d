//! `key generate | inspect`: the signing key.

use clap::Subcommand;

use crate::{
	cmd::Global,
	error::WorkerError,
	keys::{self, KeySource},
};

/// `key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
	/// Create a new key (a 24-word phrase) in the keystore file, readable only by you.
	Generate,
	/// Show the address and public key of the key in use (never the secret).
	Inspect,
}

/// Runs a `key` subcommand.
pub fn run(global: &Global, command: KeyCommand) -> Result<(), WorkerError> {
	match command {
		KeyCommand::Generate => {
			let path = global.keystore();
			if matches!(global.key_source(), KeySource::Env(_)) {
				eprintln!(
					"warning: ${} is set, so the other commands use it, not the new key",
					keys::SURI_ENV
				);
			}
			let pair = keys::generate(&path)?;
			let account = subxt::utils::AccountId32::from(pair.public_key());
			println!("new key written to {} (mode 0600); back it up", path.display());
			println!("address     {}", keys::ss58(&account));
			println!("public key  0x{}", hex::encode(account.0));
		},
		KeyCommand::Inspect => {
			let source = global.key_source();
			let account = subxt::utils::AccountId32::from(source.load()?.public_key());
			let from = match &source {
				KeySource::Env(_) => format!("${}", keys::SURI_ENV),
				KeySource::File(path) => path.display().to_string(),
			};
			println!("key from    {from}");
			println!("address     {}", keys::ss58(&account));
			println!("public key  0x{}", hex::encode(account.0));
		},
	}
	Ok(())
}
