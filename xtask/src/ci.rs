//! `cargo xtask ci`: what CI checks, in order, as a program rather than as YAML.

use xshell::{Shell, cmd};

pub fn run(sh: &Shell) -> anyhow::Result<()> {
    crate::build(sh)?;
    let cargo = crate::cargo();
    cmd!(sh, "{cargo} fmt --all --check").run()?;
    crate::test(sh, &[])?;
    crate::harness(sh, "repro", &[])?;
    Ok(())
}
