//! `isapi-harness collect`: writes a copy of a server (see `collect`), from its drives mounted
//! here (`--from`) or, on Windows, from the machine it runs on.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CollectArgs;
use crate::collect::{Options, drive::Drives};

pub fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let options = Options {
        out: args.out,
        windows: args.windows,
        os: args.os,
        installed: (!args.installed.is_empty()).then_some(args.installed),
    };
    let collected = match &args.from {
        Some(root) => crate::collect::from_drives(&Drives::new(root, &args.drives)?, &options)?,
        None => live(&args.drives, &options)?,
    };
    for line in crate::report::collect::lines(&collected) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(windows)]
fn live(
    drives: &[(char, PathBuf)],
    options: &Options,
) -> anyhow::Result<crate::report::collect::Collected> {
    if let Some((letter, _)) = drives.first() {
        anyhow::bail!(
            "--drive {letter}=... goes with --from: a live collect reads this machine's own drives"
        );
    }
    crate::collect::live(options)
}

#[cfg(not(windows))]
fn live(_: &[(char, PathBuf)], _: &Options) -> anyhow::Result<crate::report::collect::Collected> {
    anyhow::bail!(
        "collect reads the machine it runs on only on Windows; here, give the server's system drive mounted as a folder with --from ROOT"
    )
}
