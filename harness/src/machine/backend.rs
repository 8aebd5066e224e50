//! The two ways of getting a real Windows loader: Wine on Linux, or Windows itself.
//!
//! A backend knows where a Windows path of the simulated machine lives on the real file system,
//! which path to hand the host program for it, and how to start a Windows executable. It never
//! writes outside `target/isapi-harness/machine/`: under Wine the simulated `C:` is the
//! harness's own prefix and the other drives are folders beside it; on Windows every drive is
//! a folder in a sandbox, so the real `C:\WINDOWS` is never touched.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::{Context, bail};

use super::beneath::{DiskRoot, Kind, Opened};
use super::wine::Wine;
use crate::process::{Confinement, Launch};
use crate::winpath::WinPath;

/// What the user asked for with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Windows on Windows, Wine elsewhere.
    #[default]
    Auto,
    Wine,
    Windows,
}

#[derive(Debug)]
pub enum Backend {
    // Boxed: the Wine backend holds much more than the Windows one.
    Wine(Box<Wine>),
    Windows(Sandbox),
}

impl Backend {
    /// Prepares the backend and takes the machine lock, which it holds until dropped: two
    /// harness runs on one simulated machine would place files under each other's feet.
    pub fn open(
        choice: BackendChoice,
        machines_dir: &Path,
        hosts_built: &Path,
        limits: super::limits::RunLimits,
    ) -> anyhow::Result<(Backend, File)> {
        let choice = match choice {
            BackendChoice::Auto if cfg!(windows) => BackendChoice::Windows,
            BackendChoice::Auto => BackendChoice::Wine,
            other => other,
        };
        match choice {
            BackendChoice::Windows => {
                if !cfg!(windows) {
                    bail!("the windows backend needs Windows; use --backend wine (or auto) here");
                }
                let dir = machines_dir.join("windows");
                let lock = lock(&dir)?;
                let root = dir.join("sandbox");
                std::fs::create_dir_all(&root)
                    .with_context(|| format!("cannot create `{}`", root.display()))?;
                let disk = Arc::new(DiskRoot::open(None, &root, None)?);
                Ok((Backend::Windows(Sandbox { disk }), lock))
            }
            _ => {
                let dir = machines_dir.join("wine");
                let lock = lock(&dir)?;
                let wine = Wine::prepare(&dir, hosts_built, limits)?;
                Ok((Backend::Wine(Box::new(wine)), lock))
            }
        }
    }

    /// What opens another sandbox of this run (see `WineSeed`); None where there is no
    /// sandbox to open again.
    pub fn seed(&self) -> Option<super::wine::WineSeed> {
        match self {
            Backend::Wine(wine) => wine.seed(),
            Backend::Windows(_) => None,
        }
    }

    pub fn kind(&self) -> crate::vocab::BackendKind {
        match self {
            Backend::Wine(_) => crate::vocab::BackendKind::Wine,
            Backend::Windows(_) => crate::vocab::BackendKind::Windows,
        }
    }

    /// The folder of this backend's machine under `machine/`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The machine's disk, held open: every read and write of the harness's there goes through
    /// it and follows no link (see `beneath.rs`).
    pub fn disk(&self) -> &Arc<DiskRoot> {
        match self {
            Backend::Wine(wine) => &wine.disk,
            Backend::Windows(sandbox) => &sandbox.disk,
        }
    }

    /// Where a file for `path` would go on the disk (relative to [`Backend::disk`]): free, or
    /// taken by a file already there. Missing folders are created, reusing existing ones
    /// whatever their case, as Windows would find them; each folder it had to create is added
    /// to `created`, shallowest first, so that whoever places the file can take them away
    /// again.
    pub fn target_for(&self, path: &WinPath, created: &mut Vec<PathBuf>) -> anyhow::Result<Target> {
        let disk = self.disk();
        let mut dir = match self {
            Backend::Wine(wine) => wine.prepare_drive(path.drive())?,
            Backend::Windows(_) => self.drive_dir(path.drive()),
        };
        if disk.kind(&dir).is_none() {
            disk.create_folder(&dir)
                .with_context(|| format!("cannot create `{}`", disk.show(&dir).display()))?;
        }
        let (file_name, folders) =
            path.components().split_last().expect("a WinPath has a file name");
        for folder in folders {
            match disk.find_ignoring_case(&dir, folder) {
                Some(existing) if disk.kind(&existing) == Some(Kind::Folder) => dir = existing,
                Some(existing) => bail!(
                    "`{}` is a file or a link where the configuration needs a folder",
                    disk.show(&existing).display()
                ),
                None => {
                    let new = dir.join(folder);
                    disk.create_folder(&new).with_context(|| {
                        format!("cannot create `{}`", disk.show(&new).display())
                    })?;
                    created.push(new.clone());
                    dir = new;
                }
            }
        }
        Ok(match disk.find_ignoring_case(&dir, file_name) {
            Some(existing) => Target::Taken(existing),
            None => Target::Free(dir.join(file_name)),
        })
    }

    /// The folder that plays drive `drive`, relative to the disk; creates nothing.
    fn drive_dir(&self, drive: char) -> PathBuf {
        match self {
            Backend::Wine(_) => Wine::drive_dir(drive),
            Backend::Windows(_) => PathBuf::from(drive.to_ascii_uppercase().to_string()),
        }
    }

    /// Where `path` is on the disk, existing entries found whatever their case; None when
    /// some part of it is missing.
    fn find(&self, path: &WinPath) -> Option<PathBuf> {
        let disk = self.disk();
        let mut current = self.drive_dir(path.drive());
        for component in path.components() {
            current = disk.find_ignoring_case(&current, component)?;
        }
        Some(current)
    }

    /// The file that holds `path`, opened, if there is one; creates nothing.
    pub fn existing_file_for(&self, path: &WinPath) -> Option<Opened> {
        self.disk().open_file(&self.find(path)?)
    }

    /// Whether the folder that would hold `path` exists; creates nothing.
    pub fn folder_exists_for(&self, path: &WinPath) -> bool {
        let disk = self.disk();
        let mut current = self.drive_dir(path.drive());
        let Some((_, folders)) = path.components().split_last() else { return false };
        for component in folders {
            match disk.find_ignoring_case(&current, component) {
                Some(next) => current = next,
                None => return false,
            }
        }
        disk.kind(&current) == Some(Kind::Folder)
    }

    /// Whether the system folder a process of `bits` searches holds `dll`: 32-bit processes on
    /// 64-bit Windows see SysWOW64 in place of System32. On Windows this reads the real system
    /// folder, which the host processes use; it is never written.
    pub fn system_dll_exists(&self, bits: crate::arch::Bits, dll: &str) -> bool {
        let folder = match bits {
            crate::arch::Bits::B32 => "syswow64",
            crate::arch::Bits::B64 => "system32",
        };
        match self {
            Backend::Wine(wine) => {
                let system = Wine::drive_dir('c').join("windows").join(folder);
                wine.disk
                    .find_ignoring_case(&system, dll)
                    .is_some_and(|path| wine.disk.kind(&path) == Some(Kind::File))
            }
            Backend::Windows(_) => {
                let root = std::env::var_os("SystemRoot")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
                find_ignoring_case(&root.join(folder), dll).is_some_and(|path| path.is_file())
            }
        }
    }

    pub fn has_clr(&self) -> bool {
        match self {
            Backend::Wine(_) => false,
            Backend::Windows(_) => self.system_dll_exists(crate::arch::Bits::B64, "mscoree.dll"),
        }
    }

    /// The path a host of `bits` is given for `path`: under Wine the configured Windows path
    /// itself, so the loader sees exactly what IIS would (and redirects a 32-bit process's
    /// `System32` to `SysWOW64` itself, the prefix being the machine's `C:`); on Windows the
    /// sandboxed copy, where the system's redirection does not apply (the copy is not in the
    /// real Windows folder), so it is done here: a 32-bit host gets the `SysWOW64` twin.
    pub fn loader_path(&self, path: &WinPath, bits: crate::arch::Bits) -> anyhow::Result<OsString> {
        match self {
            Backend::Wine(_) => Ok(path.as_str().into()),
            Backend::Windows(_) => {
                let redirected = match bits {
                    crate::arch::Bits::B32 => crate::apphost::env::wow64_twin(path),
                    crate::arch::Bits::B64 => None,
                };
                Ok(self.mapped_path(redirected.as_ref().unwrap_or(path)).into_os_string())
            }
        }
    }

    /// The path a host is given to look at `path` in the Windows folder of the OS the hosts
    /// run on, read where it is, so that WOW64 (not the harness) decides which file a 32-bit
    /// process gets. Under Wine that folder is the prefix's `C:\windows`, the machine's own;
    /// on Windows it is the real `%SystemRoot%`, outside the sandbox, which is why these paths
    /// are only ever probed (opened for their attributes and final path), never loaded or
    /// written. `path` must lie in `C:\windows`.
    pub fn os_folder_path(&self, path: &WinPath) -> anyhow::Result<OsString> {
        let components = path.components();
        let in_windows = path.drive().eq_ignore_ascii_case(&'c')
            && components.first().is_some_and(|first| first.eq_ignore_ascii_case("windows"));
        if !in_windows {
            anyhow::bail!("internal error: `{path}` is not in the Windows folder C:\\windows");
        }
        match self {
            Backend::Wine(_) => Ok(path.as_str().into()),
            Backend::Windows(_) => {
                let mut real = std::env::var_os("SystemRoot")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
                real.extend(&components[1..]);
                Ok(real.into_os_string())
            }
        }
    }

    /// Whether a file placed in the machine's `C:\windows` lies in the OS's own Windows folder
    /// (Wine: the prefix is the machine), where WOW64 redirects it; on Windows the machine's
    /// drives are sandbox folders.
    pub fn machine_windows_is_the_os_s(&self) -> bool {
        matches!(self, Backend::Wine(_))
    }

    /// Where `path` lies in the sandbox, existing folders found whatever their case; creates
    /// nothing, so that asking about a missing file leaves the machine as it was.
    fn mapped_path(&self, path: &WinPath) -> PathBuf {
        let disk = self.disk();
        let mut current = self.drive_dir(path.drive());
        for component in path.components() {
            current = disk
                .find_ignoring_case(&current, component)
                .unwrap_or_else(|| current.join(component));
        }
        disk.show(&current)
    }

    /// How to start a Windows executable on this backend.
    pub fn launch(&self, exe: &Path) -> Launch {
        match self {
            Backend::Wine(wine) => wine.launch(exe),
            Backend::Windows(_) => Launch { program: exe.to_owned(), args: vec![], env: vec![] },
        }
    }

    /// How each limit of the run is kept (None on Windows, where the job object keeps them).
    pub fn limits_report(&self) -> Option<super::limits::LimitsReport> {
        match self {
            Backend::Wine(wine) => wine.limits.report.clone(),
            Backend::Windows(_) => None,
        }
    }

    /// The limits' counters now, to compare after a host.
    pub fn limit_counters(&self) -> Option<super::limits::Counters> {
        match self {
            Backend::Wine(wine) if wine.jail.is_ok() => Some(wine.limits.counters(&wine.disk)),
            _ => None,
        }
    }

    /// Which limit of the run, if any, the host that ended as `finished` reached since
    /// `before` was read.
    pub fn limit_hit(
        &self,
        before: &Option<super::limits::Counters>,
        finished: &crate::process::Finished,
    ) -> Option<super::limits::Hit> {
        let (Backend::Wine(wine), Some(before)) = (self, before) else { return None };
        let after = wine.limits.counters(&wine.disk);
        #[cfg(unix)]
        let killed = {
            use std::os::unix::process::ExitStatusExt;
            finished.status.is_some_and(|status| status.signal() == Some(9))
        };
        #[cfg(not(unix))]
        let killed = {
            let _ = finished;
            false
        };
        wine.limits.hit(before, &after, killed)
    }

    /// Ends what the hosts left running in the sandbox (see `Jail::end_strays`).
    pub fn end_strays(&self) {
        if let Backend::Wine(wine) = self
            && let Ok(jail) = &wine.jail
        {
            jail.end_strays(|| wine.limits.members());
        }
    }

    /// What confines every process the backend starts, when it has a sandbox.
    pub fn confinement(&self) -> Option<&Confinement> {
        match self {
            Backend::Wine(wine) => wine.jail.as_ref().ok().map(|jail| jail.confinement()),
            Backend::Windows(_) => None,
        }
    }

    /// Whether every process of the run lives in a sandbox (see `sandbox.rs`); on Windows
    /// there is none beyond the job object and the sandbox folder for the drives.
    pub fn sandboxed(&self) -> bool {
        matches!(self, Backend::Wine(wine) if wine.jail.is_ok())
    }

    /// Whether the run's wineserver still runs (on Windows, which has none, always): a DLL
    /// can end it, and every host started after that would fail to start.
    pub fn server_running(&self) -> bool {
        match self {
            Backend::Wine(wine) => wine.server_running(),
            Backend::Windows(_) => true,
        }
    }

    /// What ends every process of the run at once, for an interrupted run.
    pub fn emergency_stop(&self) -> Box<dyn Fn() + Send> {
        match self {
            Backend::Wine(wine) => wine.emergency_stop(),
            Backend::Windows(_) => Box::new(|| {}),
        }
    }

    /// Stops what the backend started for this run.
    pub fn shut_down(&self) {
        if let Backend::Wine(wine) = self {
            wine.stop_server();
        }
    }
}

/// Where a file for a Windows path would go on the disk, relative to [`Backend::disk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nothing is there.
    Free(PathBuf),
    /// Something is there already (a file, a folder or a link).
    Taken(PathBuf),
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The native backend's stand-in for the machine's drives.
#[derive(Debug)]
pub struct Sandbox {
    disk: Arc<DiskRoot>,
}

fn lock(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let path = dir.join("lock");
    // Opened without truncating: the lock file is never written, so taking the lock leaves it
    // as it was (Windows would stamp a truncated file with a new time even when it is empty).
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("isapi-harness: waiting for another run to release `{}`", path.display());
        file.lock().with_context(|| format!("cannot lock `{}`", path.display()))?;
    }
    Ok(file)
}

fn find_ignoring_case(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.exists() {
        return Some(exact);
    }
    let wanted = name.to_lowercase();
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().to_lowercase() == wanted)
        .map(|entry| entry.path())
}
