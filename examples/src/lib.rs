//! The examples live in this package's `[[example]]` targets: `cargo run --example NAME`.
