//! `collect`: a copy of a real server, in the folder format of `server_copy`, made from its
//! live disks (on Windows) or from its system drive mounted here (`--from`).
//!
//! `plan.rs` decides, purely, what the copy holds: the images the configuration names, their
//! import closure by Windows's loader rules, which of those files are the server's own
//! (copied) and which the OS's own (recorded), and what is left out. `drive.rs` reads a
//! mounted drive (never writing to it) and writes the folder; `registry.rs` reads the
//! server's Windows and runtimes from its offline registry hives.

pub mod drive;
mod hive;
#[cfg(windows)]
pub mod live;
pub mod plan;
pub mod registry;
#[cfg(test)]
mod tests;

pub use plan::{NamedImage, Plan, Server, Source, SourceFile, named_images, plan};

use std::path::PathBuf;

use anyhow::bail;

use crate::arch::Os;
use crate::report::collect::Collected;
use crate::scenario::Configuration;
use crate::server_copy::{FORMAT, LeftOut, Manifest};
use crate::windows_loader::{Profile, Redistributable, WindowsVersion};
use crate::winpath::WinPath;

/// What the command line gives beside the drives: where to write, and what stands in for (or
/// overrides) the registry.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub windows: Option<WindowsVersion>,
    pub os: Option<Os>,
    pub installed: Option<Vec<Redistributable>>,
}

/// The server's configuration files, where IIS keeps them below the Windows folder, the
/// IIS 7+ one first (a server upgraded from IIS 6.0 may keep its old MetaBase.xml).
const CONFIGURATIONS: [&str; 2] =
    [r"System32\inetsrv\config\applicationHost.config", r"System32\inetsrv\MetaBase.xml"];

/// Collects a copy of the server whose drives are mounted here. Everything is read and decided
/// before the first byte is written; bad input writes nothing.
pub fn from_drives(drives: &drive::Drives, options: &Options) -> anyhow::Result<Collected> {
    drive::check_out(&options.out, drives)?;
    let windir = drives.windir()?;
    let below = |relative: &str| WinPath::parse(&format!(r"{windir}\{relative}"));
    let software = drives.file(&below(r"System32\config\SOFTWARE")?);
    let system = drives.file(&below(r"System32\config\SYSTEM")?);
    let facts = if software.is_some() || system.is_some() {
        let mut hives = registry::OfflineHives::open(software.as_deref(), system.as_deref())?;
        registry::facts(&mut hives, os_by_folders(drives, &windir)?)
    } else {
        registry::Facts::default()
    };
    collect(drives, &windir, facts, options)
}

/// Collects a copy of the machine this runs on: its Windows folder is `%windir%`, its drives
/// every letter that exists, its facts the live registry's. The copy is written on the
/// machine itself, which is the one write a live collect makes.
#[cfg(windows)]
pub fn live(options: &Options) -> anyhow::Result<Collected> {
    let windir = std::env::var("windir").map_err(|_| {
        anyhow::anyhow!("%windir% is not set, so this is not a Windows session to collect from; give --from ROOT")
    })?;
    let windir = WinPath::parse(&windir)?;
    let mut roots = live::drives();
    roots.retain(|(letter, _)| *letter != windir.drive());
    let system = std::path::PathBuf::from(format!("{}:\\", windir.drive()));
    let drives = drive::Drives::with_system(windir.drive(), &system, &roots)?;
    drive::check_empty(&options.out)?;
    let facts = registry::facts(&mut live::LiveRegistry, os_by_folders(&drives, &windir)?);
    collect(&drives, &windir, facts, options)
}

/// A SysWOW64 folder makes a 64-bit Windows, where the registry does not say.
fn os_by_folders(drives: &drive::Drives, windir: &WinPath) -> anyhow::Result<Os> {
    let syswow64 = WinPath::parse(&format!(r"{windir}\SysWOW64"))?;
    Ok(if drives.folder(&syswow64).is_some() { Os::X64 } else { Os::X86 })
}

/// The copy of the server whose Windows folder is `windir`, with what its registry said.
fn collect(
    drives: &drive::Drives,
    windir: &WinPath,
    facts: registry::Facts,
    options: &Options,
) -> anyhow::Result<Collected> {
    let windir = windir.clone();
    let below = |relative: &str| WinPath::parse(&format!(r"{windir}\{relative}"));
    let mut config_path = None;
    for relative in CONFIGURATIONS {
        let path = below(relative)?;
        if let Some(here) = drives.file(&path) {
            config_path = Some((plan::spelled(&path, &here), here));
            break;
        }
    }
    let Some((config_path, config_here)) = config_path else {
        bail!(
            "{windir}: neither {} nor {} is on the source; give the system drive of an IIS server as --from",
            CONFIGURATIONS[0],
            CONFIGURATIONS[1]
        );
    };
    let config = Configuration::read(&config_here)?;

    let os_by_folders = os_by_folders(drives, &windir)?;
    let os = options.os.or(facts.os).unwrap_or(os_by_folders);
    let windows = options.windows.or(facts.windows);
    let windows_unknown = match (windows, &facts.windows_named) {
        (Some(_), _) => None,
        (None, Some(named)) => bail!(
            "the server's registry says {named}, a Windows the harness has no profile of; give the nearest with --windows (2003, 2008, 2008r2, 2012r2, 2016, 2019, 2022)"
        ),
        (None, None) => Some("no SOFTWARE hive under System32\\config".to_owned()),
    };
    if let Some(windows) = windows {
        crate::windows_loader::profile::check_edition(windows, os)?;
    }
    let installed = options.installed.clone().unwrap_or(facts.installed);
    // The server as a scenario: its configuration picks the generation, and its Windows (the
    // configuration kind's default where none is known) the loader's rules.
    let mut scenario = crate::scenario::Scenario::new("collect", os, config);
    scenario.windows = windows;
    let server = Server {
        os,
        profile: Profile::new(scenario.windows(), installed.clone()),
        windir: windir.clone(),
        extra_path: facts
            .path
            .as_deref()
            .map(|path| system_path(path, &windir))
            .unwrap_or_default(),
    };

    let (named, config_left_out) = named_images(&scenario)?;
    let source = drive::MountedSource::new(drives);
    let mut decided = plan(&named, &server, &source);
    let mut left_out: Vec<LeftOut> = config_left_out;
    // Beside the configuration, IIS keeps others (administration.config, redirection.config)
    // that no load needs and that may hold secrets: said, not copied.
    if let Some(folder) = config_path.parent() {
        for name in source.file_names(&folder) {
            let path = folder.child(&name);
            if plan::is_secret(&name) && path != config_path {
                left_out.push(LeftOut { path: path.to_string(), why: plan::SECRET.to_owned() });
            }
        }
    }
    left_out.append(&mut decided.left_out);
    decided.left_out = left_out;

    let manifest = Manifest {
        format: FORMAT,
        config: drive::config_entry(&config_path),
        windows,
        os,
        installed: installed.clone(),
        system_files: decided.system_files.clone(),
        left_out: decided.left_out.clone(),
    };
    drive::write_copy(&options.out, drives, &config_path, &decided, &manifest)?;
    Ok(Collected {
        folder: options.out.clone(),
        config: config_path.to_string(),
        windows,
        windows_unknown,
        os,
        installed,
        copied: decided.copies.iter().map(ToString::to_string).collect(),
        system_files: decided.system_files,
        left_out: decided.left_out,
    })
}

/// The folders of a system PATH (`%SystemRoot%\system32;C:\Tools`) that are absolute once
/// the server's Windows folder is put in.
fn system_path(path: &str, windir: &WinPath) -> Vec<WinPath> {
    path.split(';')
        .filter_map(|entry| {
            let mut expanded = entry.trim().to_owned();
            for name in ["%SystemRoot%", "%windir%"] {
                if let Some(at) = expanded.to_ascii_lowercase().find(&name.to_ascii_lowercase()) {
                    expanded.replace_range(at..at + name.len(), windir.as_str());
                }
            }
            WinPath::parse(&expanded).ok()
        })
        .collect()
}
