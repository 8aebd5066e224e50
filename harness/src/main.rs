//! `isapi-harness`.
fn main() {}
