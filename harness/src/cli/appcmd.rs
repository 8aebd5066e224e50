//! `isapi-harness appcmd --config FILE ARGS...`: what `%windir%\system32\inetsrv\appcmd.exe`
//! does to applicationHost.config for the commands the bitness fixes use, written as on Windows
//! (`set apppool "NAME" /enable32BitAppOnWin64:true`). The edits are modelled in
//! `apphost::edit`; this file reads, prints and writes (atomically, nothing written on error).

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::AppcmdArgs;
use crate::apphost::Apphost;
use crate::apphost::edit::{Command, parse_command};

pub fn run(args: AppcmdArgs) -> anyhow::Result<ExitCode> {
    let command = parse_command(&args.args)
        .map_err(|what| anyhow::anyhow!("appcmd {}: {what}", args.args.join(" ")))?;
    let mut apphost = read(&args.config)?;
    let applied = apphost.apply(&command)?;
    if command != Command::ListPools {
        apphost.write_atomically(&args.config)?;
    }
    for line in crate::iis::iis7::messages::appcmd::output(&applied) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> anyhow::Result<Apphost> {
    let bytes = crate::input::read_regular(path).map_err(|refusal| {
        anyhow::anyhow!("{}: cannot read the file: {refusal}", path.display())
    })?;
    if !std::str::from_utf8(&bytes).is_ok_and(crate::apphost::looks_like_apphost) {
        bail!(
            "{}: this is not an applicationHost.config (no <system.applicationHost> with <sites> or <applicationPools>); for an IIS 6.0 MetaBase.xml use `isapi-harness adsutil` or `aspnet-regiis`",
            path.display()
        );
    }
    Ok(Apphost::read(path)?)
}

/// For the IIS 6.0 tools: an applicationHost.config is bad input for them, pointing to appcmd.
pub(super) fn refuse_apphost(path: &Path, tool: &str) -> anyhow::Result<()> {
    let Ok(bytes) = crate::input::read_regular(path) else { return Ok(()) };
    if std::str::from_utf8(&bytes).is_ok_and(crate::apphost::looks_like_apphost) {
        bail!(
            "{}: this is an IIS 7+ applicationHost.config, which {tool} does not edit (it edits IIS 6.0's MetaBase.xml); use `isapi-harness appcmd --config {} ...`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}
