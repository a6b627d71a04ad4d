//! Rebuilds the worker when the runtime metadata its chain types are generated from changes:
//! the `subxt` macro reads `metadata/appchain.scale` but does not tell cargo about it, so an
//! updated file alone would otherwise leave a binary with the old types.
fn main() {
	println!("cargo:rerun-if-changed=metadata/appchain.scale");
	println!("cargo:rerun-if-changed=build.rs");
}
