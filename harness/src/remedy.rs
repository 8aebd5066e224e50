//! The one remedy table: the fixes the seed replay verifies and `diagnose` proposes.
//!
//! A remedy is a list of [`Change`]s in the order an administrator makes them. Each change
//! knows its command line and, where it edits the configuration, applies itself to a metabase
//! through the same functions the `adsutil` and `aspnet-regiis` subcommands use. The command
//! lines are derived from the changes, so what a remedy says and what it does cannot drift.

use crate::arch::{Arch, Bits, Os};
use crate::metabase::{Metabase, MetabaseError, aspnet_regiis_install};

/// The metabase property that chooses the isolation mode.
const ISOLATION_MODE: &str = "W3SVC/IIs5IsolationModeEnabled";
/// Written as KB 895976 and Appendix D write it, at AppPools.
const ENABLE_32BIT: &str = "W3SVC/AppPools/Enable32bitAppOnWin64";

/// One step of a remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `cscript adsutil.vbs SET PATH VALUE`.
    Set { path: &'static str, value: &'static str },
    /// `aspnet_regiis.exe -i -enable`, run from `framework`'s folder under `windir` on a
    /// Windows of bitness `os` (which decides whether the tool agrees to run).
    AspnetRegiis { framework: Arch, windir: String, os: Os },
    /// A service command, which changes no configuration.
    Service(ServiceCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCommand {
    /// HTTP.sys's filter service must restart when the isolation mode changes, so that it
    /// moves between inetinfo.exe and lsass.exe.
    StopHttpFilter,
    StartW3svc,
    IisReset,
}

impl Change {
    /// The command line an administrator types for this change.
    pub fn command_line(&self) -> String {
        match self {
            Change::Set { path, value } => format!("cscript adsutil.vbs SET {path} {value}"),
            Change::AspnetRegiis { framework, windir, .. } => format!(
                r"{windir}\Microsoft.NET\{}\v2.0.50727\aspnet_regiis.exe -i -enable",
                framework.framework_folder()
            ),
            Change::Service(ServiceCommand::StopHttpFilter) => "NET STOP HttpFilter /y".to_owned(),
            Change::Service(ServiceCommand::StartW3svc) => "NET START W3SVC".to_owned(),
            Change::Service(ServiceCommand::IisReset) => "IISRESET".to_owned(),
        }
    }

    /// Makes the change on `metabase`; returns what aspnet_regiis reports it changed (nothing
    /// for the other changes). On error the metabase is left as it was.
    pub fn apply(&self, metabase: &mut Metabase) -> Result<Vec<String>, MetabaseError> {
        match self {
            Change::Set { path, value } => metabase.set(path, value).map(|()| Vec::new()),
            Change::AspnetRegiis { framework, windir, os } => {
                aspnet_regiis_install(metabase, *framework, windir, true, *os)
            }
            Change::Service(_) => Ok(Vec::new()),
        }
    }

    /// The seed's own first change: turning on 32-bit worker processes.
    pub fn enable_32bit_workers() -> Change {
        Change::Set { path: ENABLE_32BIT, value: "1" }
    }
}

/// A fix, its changes in order, and why it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remedy {
    pub changes: Vec<Change>,
    pub explanation: String,
}

impl Remedy {
    pub fn commands(&self) -> Vec<String> {
        self.changes.iter().map(Change::command_line).collect()
    }

    /// A copy of `metabase` with every change made.
    pub fn applied_to(&self, metabase: &Metabase) -> Result<Metabase, MetabaseError> {
        let mut fixed = metabase.clone();
        for change in &self.changes {
            change.apply(&mut fixed)?;
        }
        Ok(fixed)
    }

    pub fn registers_aspnet(&self) -> bool {
        self.changes.iter().any(|change| matches!(change, Change::AspnetRegiis { .. }))
    }
}

/// Fix A of the seed: worker process isolation mode with 32-bit worker processes, so 32-bit
/// filters load in a 32-bit w3wp.exe (in IIS 5.0 isolation mode they load in inetinfo.exe,
/// which is always 64-bit). `enable_32bit` says whether 32-bit workers are already asked for.
pub fn worker_process_isolation(enable_32bit: bool) -> Remedy {
    let mut changes = vec![Change::Set { path: ISOLATION_MODE, value: "0" }];
    if !enable_32bit {
        changes.push(Change::enable_32bit_workers());
    }
    changes.push(Change::Service(ServiceCommand::StopHttpFilter));
    changes.push(Change::Service(ServiceCommand::StartW3svc));
    Remedy {
        changes,
        explanation: "switch to worker process isolation mode with 32-bit worker processes: the 32-bit filters then load in a 32-bit w3wp.exe (in IIS 5.0 isolation mode they load in inetinfo.exe, which is always 64-bit)".to_owned(),
    }
}

/// Fix B of the seed, and its twins: register ASP.NET's filter of `framework` with that
/// Framework's aspnet_regiis, so the `bits` process loads a filter of its own architecture,
/// then restart IIS. On x64 each tool runs only while IIS runs worker processes of its own
/// bitness (see `metabase::aspnet_regiis`), so when `Enable32bitAppOnWin64` (`enable_32bit`)
/// says otherwise it is set first, as a real server requires.
pub fn register_aspnet(
    framework: Arch,
    windir: &str,
    os: Os,
    enable_32bit: bool,
    bits: Bits,
) -> Remedy {
    let mut changes = Vec::new();
    let tool_wants_32bit = framework == Arch::X86;
    let gate = os == Os::X64 && enable_32bit != tool_wants_32bit;
    if gate {
        changes.push(Change::Set {
            path: ENABLE_32BIT,
            value: if tool_wants_32bit { "1" } else { "0" },
        });
    }
    changes.push(Change::AspnetRegiis { framework, windir: windir.to_owned(), os });
    changes.push(Change::Service(ServiceCommand::IisReset));
    let first = if gate {
        format!(
            "set Enable32bitAppOnWin64 to {}, which the {} aspnet_regiis requires before it runs, then ",
            u8::from(tool_wants_32bit),
            if tool_wants_32bit { "32-bit" } else { "64-bit" }
        )
    } else {
        String::new()
    };
    Remedy {
        changes,
        explanation: format!(
            "{first}register ASP.NET's {framework} filter and extension with aspnet_regiis from the {} folder, so the {bits} process loads ASP.NET of its own architecture",
            framework.framework_folder()
        ),
    }
}

/// Worker processes of the other bitness, in worker process isolation mode on x64.
pub fn worker_bitness(bits: Bits) -> Remedy {
    let (value, explanation) = match bits {
        Bits::B32 => (
            "1",
            "run 32-bit worker processes; every filter and extension must then be 32-bit, as IIS 6.0 cannot mix bitnesses",
        ),
        Bits::B64 => ("0", "run 64-bit worker processes, which load the 64-bit filters"),
    };
    Remedy {
        changes: vec![
            Change::Set { path: ENABLE_32BIT, value },
            Change::Service(ServiceCommand::IisReset),
        ],
        explanation: explanation.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_come_from_the_changes() {
        assert_eq!(
            worker_process_isolation(true).commands(),
            [
                "cscript adsutil.vbs SET W3SVC/IIs5IsolationModeEnabled 0",
                "NET STOP HttpFilter /y",
                "NET START W3SVC"
            ]
        );
        assert_eq!(
            worker_process_isolation(false).commands()[1],
            "cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 1"
        );
        assert_eq!(
            register_aspnet(Arch::Amd64, r"d:\WINDOWS", Os::X64, true, Bits::B64).commands(),
            [
                "cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 0",
                r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_regiis.exe -i -enable",
                "IISRESET"
            ]
        );
        assert_eq!(
            register_aspnet(Arch::Amd64, r"d:\WINDOWS", Os::X64, false, Bits::B64).commands()[0],
            r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_regiis.exe -i -enable",
            "no gate to open when IIS already runs 64-bit"
        );
        assert_eq!(
            worker_bitness(Bits::B64).commands()[0],
            "cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 0"
        );
    }

    #[test]
    fn a_remedy_does_what_its_commands_say() {
        let metabase =
            Metabase::parse(crate::metabase::SEED_METABASE, std::path::Path::new("seed.xml"))
                .unwrap();
        let fixed = worker_process_isolation(false).applied_to(&metabase).unwrap();
        assert!(!fixed.iis5_isolation_mode());
        assert!(fixed.enable_32bit_app_on_win64());
        assert!(metabase.iis5_isolation_mode(), "the original is left alone");

        // Fix B from the seed's failing state: the 64-bit tool would refuse while
        // Enable32bitAppOnWin64 is 1, so the remedy turns it off first and then runs.
        let mut failing = metabase.clone();
        Change::enable_32bit_workers().apply(&mut failing).unwrap();
        let refused = Change::AspnetRegiis {
            framework: Arch::Amd64,
            windir: r"d:\WINDOWS".to_owned(),
            os: Os::X64,
        }
        .apply(&mut failing.clone());
        assert_eq!(
            refused.err().map(|error| error.kind()),
            Some(crate::metabase::MetabaseErrorKind::ToolRefused)
        );
        let fixed = register_aspnet(Arch::Amd64, r"d:\WINDOWS", Os::X64, true, Bits::B64)
            .applied_to(&failing)
            .unwrap();
        assert!(!fixed.enable_32bit_app_on_win64());
    }
}
