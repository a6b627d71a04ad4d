//! Benchmarks the hash engine on this machine:
//! `cargo run --release --manifest-path worker/Cargo.toml -p appchain-hash-engine --example bench`.

use std::time::Duration;

use appchain_hash_engine::{available_threads, bench};

fn main() {
	let mut threads = vec![1];
	if available_threads() > 1 {
		threads.push(available_threads());
	}
	let report = bench::run(Duration::from_secs(3), &threads, |message| eprintln!("{message}"));
	println!("{report}");
}
