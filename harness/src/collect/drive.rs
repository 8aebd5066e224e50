//! `collect --from ROOT`: a server's drives mounted on this computer (a VM disk, a backup), read
//! and never written, and the copy's folder written from what `plan` decided.
//!
//! ROOT is the system drive, C:; `--drive LETTER=DIR` adds the others the configuration names.
//! Windows paths are matched without regard to case, as Windows does, and no link is
//! followed: a link on someone else's disk could lead anywhere on this computer.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use super::plan::{Plan, Source, SourceFile};
use crate::server_copy::{Manifest, disk_path};
use crate::windows_loader::DiskFile;
use crate::winpath::WinPath;

/// The source's drives: a folder of this computer for each drive letter.
pub struct Drives {
    /// The letter of the drive Windows is on.
    system: char,
    roots: BTreeMap<char, PathBuf>,
    /// Each folder's entries read once: (name folded, name, is a folder, is a file).
    listings: RefCell<HashMap<PathBuf, Arc<Vec<Entry>>>>,
}

#[derive(Debug)]
struct Entry {
    folded: String,
    name: OsString,
    folder: bool,
    file: bool,
}

impl Drives {
    /// `system` is drive C:; `others` the other letters. Each must be a folder.
    pub fn new(system: &Path, others: &[(char, PathBuf)]) -> anyhow::Result<Drives> {
        Drives::with_system('C', system, others)
    }

    /// Drives whose system drive is `letter` (a live server's may not be C:).
    pub fn with_system(
        letter: char,
        system: &Path,
        others: &[(char, PathBuf)],
    ) -> anyhow::Result<Drives> {
        let mut roots = BTreeMap::new();
        for (letter, root) in
            std::iter::once((letter, system.to_owned())).chain(others.iter().cloned())
        {
            let letter = letter.to_ascii_uppercase();
            let real = std::fs::canonicalize(&root)
                .ok()
                .filter(|real| real.is_dir())
                .with_context(|| {
                    format!(
                        "{}: not a folder; give the mounted drive {letter}: as a folder (`--from /mnt/server-c`, `--drive D=/mnt/server-d`)",
                        root.display()
                    )
                })?;
            if roots.insert(letter, real).is_some() {
                bail!("drive {letter}: is given twice; give each drive letter once");
            }
        }
        Ok(Drives {
            system: letter.to_ascii_uppercase(),
            roots,
            listings: RefCell::new(HashMap::new()),
        })
    }

    /// The drives' folders on this computer.
    pub fn roots(&self) -> impl Iterator<Item = &Path> {
        self.roots.values().map(PathBuf::as_path)
    }

    fn listing(&self, folder: &Path) -> Arc<Vec<Entry>> {
        if let Some(listing) = self.listings.borrow().get(folder) {
            return Arc::clone(listing);
        }
        let entries = std::fs::read_dir(folder)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| {
                        // The entry's own kind: a link is neither a folder nor a file here.
                        let kind = entry.file_type().ok()?;
                        let name = entry.file_name();
                        Some(Entry {
                            folded: name.to_string_lossy().to_lowercase(),
                            name,
                            folder: kind.is_dir(),
                            file: kind.is_file(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let listing = Arc::new(entries);
        self.listings.borrow_mut().insert(folder.to_owned(), Arc::clone(&listing));
        listing
    }

    /// Where the file (or folder) at `path` is on this computer, matched without regard to
    /// case; None when it is not there or a link is on the way.
    fn locate(&self, path: &WinPath, want_folder: bool) -> Option<PathBuf> {
        let mut here = self.roots.get(&path.drive())?.clone();
        let components = path.components();
        for (index, component) in components.iter().enumerate() {
            let last = index + 1 == components.len();
            let listing = self.listing(&here);
            let folded = component.to_lowercase();
            let entry = listing
                .iter()
                .filter(|entry| entry.folded == folded)
                .filter(|entry| if last && !want_folder { entry.file } else { entry.folder })
                // The exact spelling first, where a case-sensitive disk holds two.
                .min_by_key(|entry| entry.name.to_string_lossy() != component.as_str())?;
            here.push(&entry.name);
        }
        Some(here)
    }

    /// The file at `path`, on this computer.
    pub fn file(&self, path: &WinPath) -> Option<PathBuf> {
        self.locate(path, false)
    }

    /// The folder at `path`, on this computer.
    pub fn folder(&self, path: &WinPath) -> Option<PathBuf> {
        self.locate(path, true)
    }

    /// The Windows folder of the system drive, as the source spells it: `WINDOWS`, `Windows`
    /// or `WINNT`, whichever holds a System32.
    pub fn windir(&self) -> anyhow::Result<WinPath> {
        let drive = self.system;
        for name in ["Windows", "WINNT"] {
            let windir = WinPath::parse(&format!(r"{drive}:\{name}"))?;
            if let Some(found) = self.folder(&windir.child("System32")) {
                let spelled = found
                    .parent()
                    .and_then(Path::file_name)
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.to_owned());
                return WinPath::parse(&format!(r"{drive}:\{spelled}"));
            }
        }
        bail!(
            "{}: no Windows folder (WINDOWS or WINNT with a System32 inside); give the server's system drive C: as --from",
            self.roots.get(&drive).map_or_else(String::new, |root| root.display().to_string())
        )
    }
}

/// The source's files as `plan` reads them, each read once.
pub struct MountedSource<'d> {
    drives: &'d Drives,
    read: RefCell<HashMap<WinPath, Option<Arc<SourceFile>>>>,
}

impl<'d> MountedSource<'d> {
    pub fn new(drives: &'d Drives) -> MountedSource<'d> {
        MountedSource { drives, read: RefCell::new(HashMap::new()) }
    }
}

impl Source for MountedSource<'_> {
    fn file(&self, path: &WinPath) -> Option<Arc<SourceFile>> {
        if let Some(read) = self.read.borrow().get(path) {
            return read.clone();
        }
        let file = self.drives.file(path).and_then(|here| {
            let (info, linkage) = crate::pe::inspect_with_linkage(&here)?;
            // The real spelling, so the copy keeps the server's names.
            let spelled = super::plan::spelled(path, &here);
            Some(Arc::new(SourceFile {
                disk: DiskFile { path: spelled, info, linkage, os_own: false },
                version: crate::pe::read_version(&here),
            }))
        });
        self.read.borrow_mut().insert(path.clone(), file.clone());
        file
    }

    fn file_names(&self, folder: &WinPath) -> Vec<String> {
        let Some(here) = self.drives.folder(folder) else { return Vec::new() };
        self.drives
            .listing(&here)
            .iter()
            .filter(|entry| entry.file)
            .map(|entry| entry.name.to_string_lossy().into_owned())
            .collect()
    }
}

/// Refuses an output folder that exists with something in it, or lies on a source drive:
/// nothing is ever written to the source.
pub fn check_out(out: &Path, drives: &Drives) -> anyhow::Result<()> {
    check_empty(out)?;
    check_not_on(out, drives)
}

/// Refuses an output folder that exists with something in it.
pub fn check_empty(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("{}: cannot read the output folder", out.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{}: the output folder is not empty; give a new or empty folder to --out",
                out.display()
            );
        }
    }
    Ok(())
}

/// Refuses an output folder on one of the source's drives.
fn check_not_on(out: &Path, drives: &Drives) -> anyhow::Result<()> {
    // Where the folder would be, its nearest existing ancestor resolved.
    let mut existing = out.to_owned();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(name) = existing.file_name() else { break };
        rest.push(name.to_owned());
        existing = existing.parent().map_or_else(|| PathBuf::from("."), Path::to_owned);
        if existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
        }
    }
    let mut real = std::fs::canonicalize(&existing)
        .with_context(|| format!("{}: cannot resolve the output folder", out.display()))?;
    real.extend(rest.iter().rev());
    if let Some(root) = drives.roots().find(|root| real.starts_with(root)) {
        bail!(
            "{}: the output folder is inside the source drive {}; collect never writes to the source, give --out a folder elsewhere",
            out.display(),
            root.display()
        );
    }
    Ok(())
}

/// Writes the copy: the configuration and every copied file at `disk/<letter>/<path>`, then
/// `server.json`. A failure part-way removes what this call made, so a failed collect leaves
/// no half copy behind.
pub fn write_copy(
    out: &Path,
    drives: &Drives,
    config: &WinPath,
    plan: &Plan,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    let made = !out.exists();
    let result = (|| -> anyhow::Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for path in std::iter::once(config).chain(&plan.copies) {
            let from = drives
                .file(path)
                .with_context(|| format!("`{path}` is no longer on the source"))?;
            let to = disk_path(out, path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let (mut reader, _) = crate::input::open_regular(&from)
                .map_err(|refusal| anyhow::anyhow!("{}: {refusal}", from.display()))?;
            let mut writer = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&to)
                .with_context(|| format!("creating {}", to.display()))?;
            std::io::copy(&mut reader, &mut writer)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
        manifest.write(out)
    })();
    if result.is_err() {
        if made {
            let _ = std::fs::remove_dir_all(out);
        } else if let Ok(entries) = std::fs::read_dir(out) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir_all(entry.path())
                    .or_else(|_| std::fs::remove_file(entry.path()));
            }
        }
    }
    result
}

/// The manifest's `config`: the configuration's place in the copy, relative, with `/`.
pub fn config_entry(config: &WinPath) -> String {
    let place = disk_path(Path::new(""), config);
    place
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `--drive LETTER=DIR` on the command line.
pub fn drive_argument(text: &str) -> Result<(char, PathBuf), String> {
    match text.split_once('=') {
        Some((letter, dir))
            if letter.len() == 1
                && letter.chars().all(|c| c.is_ascii_alphabetic())
                && !dir.is_empty() =>
        {
            Ok((letter.chars().next().unwrap_or('C').to_ascii_uppercase(), PathBuf::from(dir)))
        }
        _ => Err(format!("`{text}` should be LETTER=DIR, e.g. D=/mnt/server-d")),
    }
}
