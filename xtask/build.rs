//! Records the triple the xtask is built for: the `cc` crate needs a host triple, and outside a
//! build script nobody else provides one.

fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=XTASK_HOST_TRIPLE={target}");
}
