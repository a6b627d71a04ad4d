//! `appchain-worker`: the binary a worker runs to earn tokens on the compute-marketplace
//! appchain by hashing SHA-256 subjobs, and the client side that posts and follows jobs.
//!
//! - [`chain`]: the only module that talks to the node (subxt, types from our metadata);
//! - [`keys`]: sr25519 keys from `APPCHAIN_SURI` or a 0600 keystore file;
//! - [`journal`]: results and salts on disk before they are committed;
//! - [`run`]: the worker loop (heartbeats, claims, hashing, commit/reveal, spot checks);
//! - [`client`]: `register`, `status`, `job post`, `job watch`;
//! - the hashing engine is the `appchain-hash-engine` crate.

pub mod chain;
pub mod client;
pub mod error;
pub mod journal;
pub mod keys;
pub mod run;

pub use error::WorkerError;
