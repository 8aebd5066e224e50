//! What a copy of a server holds, decided from its configuration and a view of its disks: pure,
//! so that the rules are tested in milliseconds on disks held in memory.
//!
//! The images are the ones the configuration names, as the configuration models enumerate
//! them (IIS 6.0: the global and every site's filters, every ScriptMaps program; IIS 7+: the
//! global modules, the server's and every site's filters, every ISAPI handler's
//! `scriptProcessor`). Each one's dependencies are its static import closure by
//! `windows_loader::closure`, searched as the server's loader searches (the image's folder,
//! the system folder of its bitness, the Windows folder, PATH).
//!
//! Each file found is either the server's own, copied, or the OS's own, recorded by name,
//! version and machine and played by the simulated machine. **The rule for "the OS's own"**: a
//! file below the Windows folder (System32, SysWOW64, inetsrv, the .NET Framework folders, the
//! folder itself) whose version resource names Microsoft as its company, and which is no C
//! runtime a redistributable brings (`Profile::redistributed`). The folder alone would take
//! a vendor's DLL dropped into System32 for Windows's; the company alone would take a
//! redistributable C runtime, which a bare server lacks, for part of Windows.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::apphost::Apphost;
use crate::apphost::env::{Environment, wow64_twin};
use crate::arch::{Bits, Os};
use crate::metabase::Metabase;
use crate::pe::VersionInfo;
use crate::scenario::Scenario;
use crate::server_copy::{LeftOut, SystemFile};
use crate::windows_loader::{self, DependencyOutcome, DiskFile, Profile, Search, TargetDisk};
use crate::winpath::WinPath;

/// One file of the source, read once.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its headers and linkage, at its real path on the source.
    pub disk: DiskFile,
    /// Its version resource, where it has one.
    pub version: Option<VersionInfo>,
}

/// The disks of the server being collected, by Windows path.
pub trait Source {
    /// The file at `path` (without regard to case), if there is one.
    fn file(&self, path: &WinPath) -> Option<Arc<SourceFile>>;
    /// The names of the files (not folders) in the folder at `folder`.
    fn file_names(&self, folder: &WinPath) -> Vec<String>;
}

/// What is known of the server apart from its disks.
#[derive(Debug, Clone)]
pub struct Server {
    pub os: Os,
    pub profile: Profile,
    /// Its Windows folder as the source has it (`C:\WINDOWS`, `C:\WINNT`).
    pub windir: WinPath,
    /// The folders of the system PATH after Windows's own.
    pub extra_path: Vec<WinPath>,
}

/// What the copy holds and says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The server's own files, copied: by Windows path, in order.
    pub copies: Vec<WinPath>,
    pub system_files: Vec<SystemFile>,
    pub left_out: Vec<LeftOut>,
}

/// One image the configuration names: the paths it may be at (a module's path expands to one
/// file per bitness), and the name it is given in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedImage {
    /// As written in the configuration.
    pub written: String,
    pub candidates: Vec<WinPath>,
}

/// Why a file is not carried.
pub const NOT_FOUND: &str = "not found on the server";
pub const SECRET: &str =
    "a configuration or key file, which may hold secrets and no load needs: not copied";
pub const CGI: &str =
    "a CGI program, which IIS runs as a process of its own: not loaded by the harness, not copied";
pub const NOT_A_PATH: &str = "not an absolute Windows path once expanded: nothing to copy";

/// The images the scenario's configuration names, in the order the models list them, and
/// what is named but cannot be carried.
pub fn named_images(scenario: &Scenario) -> anyhow::Result<(Vec<NamedImage>, Vec<LeftOut>)> {
    let (mut named, left_out) = crate::iis::by_generation(scenario, NameImages)?;
    let mut seen = std::collections::HashSet::new();
    named.retain(|image: &NamedImage| seen.insert(image.candidates.clone()));
    Ok((named, left_out))
}

/// Each generation's own enumeration of the images its configuration names.
struct NameImages;

impl<'s> crate::iis::PerGeneration<'s> for NameImages {
    type Output = anyhow::Result<(Vec<NamedImage>, Vec<LeftOut>)>;

    fn iis6(self, _: &'s Scenario, metabase: &'s Metabase) -> Self::Output {
        let (mut named, mut left_out) = (Vec::new(), Vec::new());
        metabase_images(metabase, &mut named, &mut left_out)?;
        Ok((named, left_out))
    }

    fn iis7(self, scenario: &'s Scenario, apphost: &'s Apphost) -> Self::Output {
        let (mut named, mut left_out) = (Vec::new(), Vec::new());
        apphost_images(apphost, scenario.os, &mut named, &mut left_out)?;
        Ok((named, left_out))
    }
}

fn literal(written: &str, named: &mut Vec<NamedImage>, left_out: &mut Vec<LeftOut>) {
    match WinPath::parse(written) {
        Ok(path) => named.push(NamedImage { written: written.to_owned(), candidates: vec![path] }),
        Err(_) => left_out.push(LeftOut { path: written.to_owned(), why: NOT_A_PATH.to_owned() }),
    }
}

fn metabase_images(
    metabase: &Metabase,
    named: &mut Vec<NamedImage>,
    left_out: &mut Vec<LeftOut>,
) -> anyhow::Result<()> {
    let sites = metabase.sites().map_err(|error| anyhow::anyhow!("{error}"))?;
    let filters = metabase
        .global_filters()
        .into_iter()
        .chain(sites.into_iter().flat_map(|site| site.filters));
    for path in filters.filter_map(|filter| filter.path) {
        literal(&path, named, left_out);
    }
    for mapping in metabase.every_script_mapping() {
        if mapping.is_cgi() {
            if !left_out.iter().any(|out| out.path.eq_ignore_ascii_case(&mapping.executable)) {
                left_out.push(LeftOut { path: mapping.executable, why: CGI.to_owned() });
            }
            continue;
        }
        literal(&mapping.executable, named, left_out);
    }
    Ok(())
}

fn apphost_images(
    apphost: &Apphost,
    os: Os,
    named: &mut Vec<NamedImage>,
    left_out: &mut Vec<LeftOut>,
) -> anyhow::Result<()> {
    let sites = apphost.sites().map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut written: Vec<String> =
        apphost.global_modules().into_iter().map(|module| module.path).collect();
    written.extend(apphost.isapi_filters(None).into_iter().map(|filter| filter.path));
    let mut locations = vec![String::new()];
    for site in &sites {
        written.extend(apphost.isapi_filters(Some(&site.name)).into_iter().map(|f| f.path));
        locations.push(site.name.clone());
        for app in &site.applications {
            let app_path = app.path.trim_matches('/');
            if !app_path.is_empty() {
                locations.push(format!("{}/{app_path}", site.name));
            }
        }
    }
    for location in &locations {
        for handler in apphost.handlers(location) {
            if handler.modules.eq_ignore_ascii_case("IsapiModule")
                && let Some(program) = handler.script_processor
            {
                written.push(program.trim().trim_matches('"').to_owned());
            }
        }
    }
    for text in written {
        // A path the worker expands: a 32-bit worker on x64 sees its own ProgramFiles and,
        // through WOW64, SysWOW64 for System32, so each bitness may reach another file.
        let bitnesses: &[Bits] = match os {
            Os::X64 => &[Bits::B64, Bits::B32],
            Os::X86 => &[Bits::B32],
        };
        let mut candidates = Vec::new();
        for &bits in bitnesses {
            let Ok(path) = WinPath::parse(&Environment { os, bits }.expand(&text)) else {
                continue;
            };
            let wow64 = (os == Os::X64 && bits == Bits::B32).then(|| wow64_twin(&path)).flatten();
            for candidate in [Some(path), wow64].into_iter().flatten() {
                if !candidates.contains(&candidate) {
                    candidates.push(candidate);
                }
            }
        }
        if candidates.is_empty() {
            left_out.push(LeftOut { path: text, why: NOT_A_PATH.to_owned() });
        } else {
            named.push(NamedImage { written: text, candidates });
        }
    }
    Ok(())
}

/// Decides the copy: every image `named`, its import closure, and what is left out.
pub fn plan(named: &[NamedImage], server: &Server, source: &dyn Source) -> Plan {
    let disk = SourceDisk { source, server };
    let search = Search {
        os: server.os,
        profile: server.profile.clone(),
        extra_path: server.extra_path.clone(),
    };
    let mut files: BTreeMap<String, Arc<SourceFile>> = BTreeMap::new();
    let mut left_out = Vec::new();
    for image in named {
        let found: Vec<Arc<SourceFile>> =
            image.candidates.iter().filter_map(|path| source.file(path)).collect();
        if found.is_empty() {
            left_out.push(LeftOut { path: image.written.clone(), why: NOT_FOUND.to_owned() });
        }
        for file in found {
            files.entry(file.disk.path.key()).or_insert_with(|| Arc::clone(&file));
            let Some(bits) = file.disk.info.machine.and_then(|machine| machine.bits()) else {
                continue;
            };
            if is_os_file(&file, server) {
                // The simulated machine plays the OS's own images, and their imports with them.
                continue;
            }
            let closure = windows_loader::closure(&disk, &search, &file.disk.path, bits);
            for dependency in closure.dependencies {
                let here = dependency.found.as_deref().and_then(|path| WinPath::parse(path).ok());
                // A side-by-side assembly's "found" is a WinSxS folder, no file: the profile
                // says whether the server has it.
                if let Some(found) = here.and_then(|path| source.file(&disk.on_source(&path))) {
                    files.entry(found.disk.path.key()).or_insert(found);
                } else if matches!(
                    dependency.outcome,
                    DependencyOutcome::Missing | DependencyOutcome::NotInstalled
                ) && !left_out.iter().any(|out: &LeftOut| out.path == dependency.name)
                {
                    let why = format!("{NOT_FOUND} (imported by {})", dependency.imported_by);
                    left_out.push(LeftOut { path: dependency.name, why });
                }
            }
        }
    }
    let mut plan = Plan { left_out, ..Plan::default() };
    let mut folders = Vec::new();
    for file in files.values() {
        if is_os_file(file, server) {
            plan.system_files.push(SystemFile {
                path: file.disk.path.to_string(),
                version: file.version.as_ref().and_then(|version| version.file_version.clone()),
                // The name the JSON gives a machine type everywhere.
                machine: file.disk.info.machine.map(|machine| machine.json_name()),
            });
        } else {
            plan.copies.push(file.disk.path.clone());
            if let Some(folder) = file.disk.path.parent()
                && !folders.contains(&folder)
            {
                folders.push(folder);
            }
        }
    }
    // What sits beside the server's own images and is not copied: said, when it may matter.
    for folder in folders {
        for name in source.file_names(&folder) {
            if is_secret(&name) {
                plan.left_out.push(LeftOut {
                    path: folder.child(&name).to_string(),
                    why: SECRET.to_owned(),
                });
            }
        }
    }
    plan
}

/// A name that holds configuration or keys: `web.config` and every other `*.config`, private
/// keys and certificates with their keys.
pub fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".config", ".key", ".pfx", ".p12", ".pvk", ".snk", ".pem"]
        .iter()
        .any(|extension| lower.ends_with(extension))
}

/// The rule of the module's comment: below the Windows folder, Microsoft's, and no
/// redistributable C runtime.
fn is_os_file(file: &SourceFile, server: &Server) -> bool {
    let path = &file.disk.path;
    let windir = server.windir.components();
    let below_windir = path.drive() == server.windir.drive()
        && path.components().len() > windir.len()
        && path.components().iter().zip(windir).all(|(a, b)| a.eq_ignore_ascii_case(b));
    let microsoft = file
        .version
        .as_ref()
        .and_then(|version| version.company.as_deref())
        .is_some_and(|company| company.to_ascii_lowercase().starts_with("microsoft"));
    let name = path.components().last().map_or("", String::as_str);
    below_windir && microsoft && !server.profile.redistributed(name)
}

/// `path` with each component spelled as the folder on this computer spells it.
pub fn spelled(path: &WinPath, here: &std::path::Path) -> WinPath {
    let count = path.components().len();
    let names: Vec<String> = here
        .components()
        .rev()
        .take(count)
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    WinPath::parse(&format!("{}:\\{}", path.drive(), names.join("\\")))
        .unwrap_or_else(|_| path.clone())
}

/// The source as the loader's rules see it. The rules search `C:\Windows` (the simulated
/// machine's, whose x86 System32 is its SysWOW64); the source has its own Windows folder
/// (`C:\WINNT`, or on another drive), and an x86 server has no SysWOW64.
struct SourceDisk<'a> {
    source: &'a dyn Source,
    server: &'a Server,
}

impl SourceDisk<'_> {
    /// The source's path for a path the rules ask about.
    fn on_source(&self, path: &WinPath) -> WinPath {
        let components = path.components();
        let Some((first, rest)) = components.split_first() else { return path.clone() };
        if path.drive() != 'C' || !first.eq_ignore_ascii_case("Windows") || rest.is_empty() {
            return path.clone();
        }
        let mut rest = rest.to_vec();
        if self.server.os == Os::X86 && rest[0].eq_ignore_ascii_case("SysWOW64") {
            rest[0] = "System32".to_owned();
        }
        WinPath::parse(&format!(r"{}\{}", self.server.windir, rest.join("\\")))
            .unwrap_or_else(|_| path.clone())
    }
}

impl TargetDisk for SourceDisk<'_> {
    fn file(&self, path: &WinPath) -> Option<Arc<DiskFile>> {
        let found = self.source.file(&self.on_source(path))?;
        // The rules compare the path they asked for; the file keeps its own.
        Some(Arc::new(DiskFile { path: path.clone(), ..found.disk.clone() }))
    }
}
