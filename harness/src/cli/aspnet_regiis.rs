//! `isapi-harness aspnet-regiis`: what `aspnet_regiis.exe -i [-enable]` of ASP.NET 2.0.50727
//! does to the metabase when run from the `Framework` (x86) or `Framework64` (amd64) folder,
//! with aspnet_regiis-like progress lines. The changes themselves, and where the real tool
//! refuses to run, are modelled in `metabase::aspnet_regiis_install`; this file reads, prints
//! and writes.
//!
//! A refusal is reported as the real tool reports it (its words on stdout, exit code 1) with
//! the harness's explanation on stderr, and the file is not written.

use std::process::ExitCode;

use super::AspnetRegiisArgs;
use crate::iis::iis6::messages::tools;
use crate::metabase::{Metabase, MetabaseErrorKind, aspnet_regiis_install};

pub fn run(args: AspnetRegiisArgs) -> anyhow::Result<ExitCode> {
    super::appcmd::refuse_apphost(&args.metabase, "aspnet_regiis")?;
    let mut metabase = Metabase::read(&args.metabase)?;
    // Refused input (a bad --windir) is found before anything is printed or written.
    let changes = match aspnet_regiis_install(
        &mut metabase,
        args.framework,
        &args.windir,
        args.enable,
        args.os,
    ) {
        Ok(changes) => changes,
        Err(error) if error.kind() == MetabaseErrorKind::ToolRefused => {
            println!("{}", tools::ASPNET_REGIIS_START);
            println!("{}", tools::aspnet_regiis_wrong_iis_bitness(args.framework));
            eprintln!("{}", crate::report::refused("aspnet-regiis", &error));
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error.into()),
    };
    metabase.write_atomically(&args.metabase)?;
    println!("{}", tools::ASPNET_REGIIS_START);
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        println!("{}", tools::ASPNET_REGIIS_NOTHING_CHANGED);
    }
    println!("{}", tools::ASPNET_REGIIS_FINISHED);
    Ok(ExitCode::SUCCESS)
}
