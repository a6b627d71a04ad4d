//! Builds the WASM runtime blob. With the `metadata-hash` feature the metadata hash
//! is computed at build time for the `CheckMetadataHash` transaction extension.

#[cfg(all(feature = "std", feature = "metadata-hash"))]
fn main() {
    substrate_wasm_builder::WasmBuilder::init_with_defaults()
        // The token's symbol and decimals (`appchain_primitives::token`), which the hash
        // commits to: a wallet shows amounts with them.
        .enable_metadata_hash("CPU", 12)
        .build();
}

#[cfg(all(feature = "std", not(feature = "metadata-hash")))]
fn main() {
    substrate_wasm_builder::WasmBuilder::build_using_defaults();
}

#[cfg(not(feature = "std"))]
fn main() {}
