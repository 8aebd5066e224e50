//! A copy of a user's server: a folder holding `server.json` and `disk/<drive letter>/<path>`.
//!
//! `server.json` says which file is the server's configuration, which Windows it is and what is
//! installed on it; `disk/` holds the server's own files (its filters, extensions, modules and
//! their dependencies), each standing for the Windows path `<LETTER>:\<path>`, matched without
//! regard to case as Windows does. The OS's own files are not copied: `system_files` records
//! their names, versions and machine types, and the simulated machine plays them.
//!
//! This module is the folder's format only: reading it (`ServerCopy::read`), and the names
//! `collect` writes it by (`MANIFEST`, `disk_path`, `Manifest::write`). What a run does with a
//! copy lives with the run.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::arch::Os;
use crate::windows_loader::{Redistributable, WindowsVersion};
use crate::winpath::WinPath;

/// The manifest's file name inside the folder.
pub const MANIFEST: &str = "server.json";

/// The folder below which the server's files are kept, one folder per drive letter.
pub const DISK: &str = "disk";

/// The only format this harness reads and writes; a later, incompatible format gets a new number.
pub const FORMAT: u32 = 1;

/// `server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The server's MetaBase.xml or applicationHost.config, relative to the folder, with `/`
    /// between components (usually under `disk/`, at the path the server keeps it).
    pub config: String,
    /// The server's Windows; the configuration kind's default when absent (as `--windows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsVersion>,
    pub os: Os,
    /// The redistributables installed on the server (as `--installed`).
    #[serde(default)]
    pub installed: Vec<Redistributable>,
    /// The OS's own files the server's images link to: recorded, not copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_files: Vec<SystemFile>,
    /// What `collect` chose not to carry, and why, so a reader knows the copy is partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// One of the OS's own files, as the server has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemFile {
    /// Its Windows path on the server (`C:\WINDOWS\system32\kernel32.dll`).
    pub path: String,
    /// Its file version (`5.2.3790.4062`), where the file has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its machine type (`x86`, `amd64`), where it is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// A file the configuration or an image named that the copy does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    /// Its Windows path on the server.
    pub path: String,
    /// Why it is not in the copy (`not found on the server`, `a secret: not needed`).
    pub why: String,
}

impl Manifest {
    /// Writes `server.json` into `folder`.
    pub fn write(&self, folder: &Path) -> anyhow::Result<()> {
        let path = folder.join(MANIFEST);
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// Where a copy keeps the file the server has at `path`: `disk/<LETTER>/<components...>`.
pub fn disk_path(folder: &Path, path: &WinPath) -> PathBuf {
    let mut place = folder.join(DISK).join(path.drive().to_ascii_uppercase().to_string());
    place.extend(path.components());
    place
}

/// A server copy, read and checked.
#[derive(Debug, Clone)]
pub struct ServerCopy {
    /// The folder, absolute.
    pub folder: PathBuf,
    pub manifest: Manifest,
    /// The configuration file on this computer.
    pub config: PathBuf,
    /// Every file under `disk/`: the Windows path it stands for, and where it is here. Sorted by
    /// Windows path; no two differ only in case.
    pub files: Vec<(WinPath, PathBuf)>,
}

impl ServerCopy {
    /// Reads `folder/server.json` and lists `folder/disk/`. Everything it names must lie inside
    /// the folder: a copy comes from someone else's machine, and a link out of it is refused.
    pub fn read(folder: &Path) -> anyhow::Result<ServerCopy> {
        let folder = std::fs::canonicalize(folder).map_err(|error| {
            anyhow::anyhow!(
                "{}: cannot open the server copy: {error}; give a folder holding {MANIFEST} and {DISK}/",
                folder.display()
            )
        })?;
        let manifest_path = folder.join(MANIFEST);
        let text = crate::input::read_regular_text(&manifest_path).map_err(|refusal| {
            anyhow::anyhow!(
                "{}: cannot read the server copy's manifest: {refusal}; a server copy is a folder with {MANIFEST} (see README, \"A copy of your server\")",
                manifest_path.display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|error| {
            anyhow::anyhow!(
                "{}:{}: {error}; {MANIFEST} holds format, config, os and optionally windows, installed, system_files, left_out (see README, \"A copy of your server\")",
                manifest_path.display(),
                error.line()
            )
        })?;
        if manifest.format != FORMAT {
            bail!(
                "{}: format {} is not one this harness reads (it reads format {FORMAT}); collect the copy again with this version's `isapi-harness collect`",
                manifest_path.display(),
                manifest.format
            );
        }
        let config = inside(&folder, &manifest.config).map_err(|why| {
            anyhow::anyhow!(
                "{}: config `{}` {why}; name the configuration by its path relative to the folder",
                manifest_path.display(),
                manifest.config
            )
        })?;
        let files = list_disk(&folder)?;
        Ok(ServerCopy { folder, manifest, config, files })
    }

    /// The copy's file for `path`, if it holds one.
    pub fn file_at(&self, path: &WinPath) -> Option<&Path> {
        self.files.iter().find(|(held, _)| held == path).map(|(_, here)| here.as_path())
    }
}

/// `relative`, resolved inside `folder`: a relative path without `..` to a regular file whose
/// real location (links resolved) is still inside.
fn inside(folder: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    if relative.is_empty()
        || !path.components().all(|component| matches!(component, Component::Normal(_)))
    {
        return Err("is not a relative path inside the folder".into());
    }
    let real = std::fs::canonicalize(folder.join(path))
        .map_err(|error| format!("cannot be opened ({error})"))?;
    if !real.starts_with(folder) {
        return Err("leads out of the folder through a link".into());
    }
    if !real.is_file() {
        return Err("is not a regular file".into());
    }
    Ok(real)
}

/// Every regular file under `folder/disk/`, as the Windows path it stands for. A symbolic
/// link is refused wherever it is, and so is a name Windows cannot hold.
fn list_disk(folder: &Path) -> anyhow::Result<Vec<(WinPath, PathBuf)>> {
    let disk = folder.join(DISK);
    let mut files = Vec::new();
    if !disk.exists() {
        return Ok(files);
    }
    for drive in read_folder(&disk)? {
        let name = drive.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let letter = match name.as_bytes() {
            [letter] if letter.is_ascii_alphabetic() => char::from(*letter),
            _ => bail!(
                "{}: not a drive letter; {DISK}/ holds one folder per drive (`{DISK}/C/...`)",
                drive.display()
            ),
        };
        walk(&drive, &format!("{}:", letter.to_ascii_uppercase()), &mut files)?;
    }
    files.sort_by_key(|(path, _)| path.key());
    for pair in files.windows(2) {
        if pair[0].0 == pair[1].0 {
            bail!(
                "{} and {}: one Windows path (`{}`), as Windows ignores case; keep one of them",
                pair[0].1.display(),
                pair[1].1.display(),
                pair[0].0.as_str()
            );
        }
    }
    Ok(files)
}

fn walk(here: &Path, windows: &str, files: &mut Vec<(WinPath, PathBuf)>) -> anyhow::Result<()> {
    let kind = std::fs::symlink_metadata(here)
        .with_context(|| format!("reading {}", here.display()))?
        .file_type();
    if kind.is_symlink() {
        bail!(
            "{}: a symbolic link; a server copy holds files, not links (copy the file it points to)",
            here.display()
        );
    }
    if kind.is_file() {
        let path = WinPath::parse(windows).with_context(|| format!("{}", here.display()))?;
        files.push((path, here.to_owned()));
        return Ok(());
    }
    if !kind.is_dir() {
        bail!("{}: neither a file nor a folder", here.display());
    }
    for entry in read_folder(here)? {
        let name = entry.file_name().unwrap_or_default();
        let Some(name) = name.to_str() else {
            bail!("{}: its name is not UTF-8, which no Windows name is", entry.display());
        };
        walk(&entry, &format!("{windows}\\{name}"), files)?;
    }
    Ok(())
}

fn read_folder(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", folder.display()))?;
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            config: "disk/C/WINDOWS/system32/inetsrv/MetaBase.xml".into(),
            windows: Some(WindowsVersion::Server2003),
            os: Os::X64,
            installed: vec!["vc2008-x86".parse().unwrap()],
            system_files: vec![SystemFile {
                path: r"C:\WINDOWS\system32\kernel32.dll".into(),
                version: Some("5.2.3790.4062".into()),
                machine: Some("amd64".into()),
            }],
            left_out: Vec::new(),
        }
    }

    fn write_copy(folder: &Path, manifest: &Manifest) {
        let config = folder.join(&manifest.config);
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "<configuration/>").unwrap();
        let filter = disk_path(folder, &WinPath::parse(r"c:\Filters\Vendor.dll").unwrap());
        std::fs::create_dir_all(filter.parent().unwrap()).unwrap();
        std::fs::write(&filter, b"MZ").unwrap();
        manifest.write(folder).unwrap();
    }

    #[test]
    fn a_written_copy_reads_back_with_its_files_at_their_windows_paths() {
        let folder = tempfile::tempdir().unwrap();
        write_copy(folder.path(), &manifest());
        let copy = ServerCopy::read(folder.path()).unwrap();
        assert_eq!(copy.manifest, manifest());
        let held: Vec<&str> = copy.files.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(held, [r"C:\Filters\Vendor.dll", r"C:\WINDOWS\system32\inetsrv\MetaBase.xml"]);
        let asked = WinPath::parse(r"C:\FILTERS\vendor.DLL").unwrap();
        assert!(copy.file_at(&asked).unwrap().ends_with("disk/C/Filters/Vendor.dll"));
        assert!(copy.config.ends_with("inetsrv/MetaBase.xml"));
    }

    #[test]
    fn a_manifest_error_names_the_file_and_line() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join(MANIFEST), "{\n  \"format\": 1,\n  \"os\": \"arm\"\n}")
            .unwrap();
        let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
        assert!(error.contains("server.json:3:"), "{error}");
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        write_copy(folder.path(), &Manifest { format: 2, ..manifest() });
        let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
        assert!(error.contains("format 2 is not one this harness reads"), "{error}");
    }

    #[test]
    fn a_config_outside_the_folder_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        for config in ["../MetaBase.xml", "/etc/passwd", ""] {
            write_copy(folder.path(), &manifest());
            Manifest { config: config.into(), ..manifest() }.write(folder.path()).unwrap();
            let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
            assert!(
                error.contains("is not a relative path inside the folder"),
                "{config}: {error}"
            );
        }
    }

    /// Only where names differing in case are two files (a copy made on Linux); on Windows
    /// the file system itself keeps one of them.
    #[cfg(unix)]
    #[test]
    fn links_and_case_twins_under_disk_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        write_copy(folder.path(), &manifest());
        let twin = folder.path().join("disk/C/filters/vendor.dll");
        std::fs::create_dir_all(twin.parent().unwrap()).unwrap();
        std::fs::write(&twin, b"MZ").unwrap();
        let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
        assert!(error.contains("one Windows path"), "{error}");
        std::fs::remove_dir_all(twin.parent().unwrap()).unwrap();

        let link = folder.path().join("disk/C/Filters/p.dll");
        std::os::unix::fs::symlink("/etc/passwd", link).unwrap();
        let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
        assert!(error.contains("a symbolic link"), "{error}");
    }

    #[test]
    fn a_folder_under_disk_must_be_a_drive_letter() {
        let folder = tempfile::tempdir().unwrap();
        write_copy(folder.path(), &manifest());
        std::fs::create_dir_all(folder.path().join("disk/CD")).unwrap();
        let error = ServerCopy::read(folder.path()).unwrap_err().to_string();
        assert!(error.contains("not a drive letter"), "{error}");
    }
}
