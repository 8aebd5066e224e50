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

use anyhow::{Context, bail};

use crate::process::Launch;
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
    Wine(Wine),
    Windows(Sandbox),
}

impl Backend {
    /// Prepares the backend and takes the machine lock, which it holds until dropped: two
    /// harness runs on one simulated machine would place files under each other's feet.
    pub fn open(choice: BackendChoice, machines_dir: &Path) -> anyhow::Result<(Backend, File)> {
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
                Ok((Backend::Windows(Sandbox { root: dir.join("sandbox") }), lock))
            }
            _ => {
                let dir = machines_dir.join("wine");
                let lock = lock(&dir)?;
                let wine = Wine::prepare(&dir)?;
                Ok((Backend::Wine(wine), lock))
            }
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

    /// The real file that holds `path` on the simulated machine. Missing folders are created,
    /// reusing existing ones whatever their case, as Windows would find them.
    pub fn file_for(&self, path: &WinPath) -> anyhow::Result<PathBuf> {
        let mut dir = match self {
            Backend::Wine(wine) => wine.prepare_drive(path.drive())?,
            Backend::Windows(_) => self.drive_dir(path.drive()),
        };
        let (file_name, folders) =
            path.components().split_last().expect("a WinPath has a file name");
        for folder in folders {
            dir = existing_or_new(&dir, folder)?;
        }
        Ok(match find_ignoring_case(&dir, file_name) {
            Some(existing) => existing,
            None => dir.join(file_name),
        })
    }

    /// The folder that plays drive `drive`; creates nothing.
    fn drive_dir(&self, drive: char) -> PathBuf {
        match self {
            Backend::Wine(wine) => wine.drive_dir(drive),
            Backend::Windows(sandbox) => sandbox.root.join(drive.to_ascii_uppercase().to_string()),
        }
    }

    /// The real file that holds `path`, if there is one; creates nothing.
    pub fn existing_file_for(&self, path: &WinPath) -> Option<PathBuf> {
        let mut current = self.drive_dir(path.drive());
        for component in path.components() {
            current = find_ignoring_case(&current, component)?;
        }
        current.is_file().then_some(current)
    }

    /// Whether the system folder a process of `bits` searches holds `dll`: 32-bit processes on
    /// 64-bit Windows see SysWOW64 in place of System32. On Windows this reads the real system
    /// folder, which the host processes use; it is never written.
    pub fn system_dll_exists(&self, bits: crate::arch::Bits, dll: &str) -> bool {
        let folder = match bits {
            crate::arch::Bits::B32 => "syswow64",
            crate::arch::Bits::B64 => "system32",
        };
        let system = match self {
            Backend::Wine(wine) => wine.prefix.join("drive_c").join("windows").join(folder),
            Backend::Windows(_) => {
                let root = std::env::var_os("SystemRoot")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
                root.join(folder)
            }
        };
        find_ignoring_case(&system, dll).is_some_and(|path| path.is_file())
    }

    pub fn has_clr(&self) -> bool {
        match self {
            Backend::Wine(_) => false,
            Backend::Windows(_) => self.system_dll_exists(crate::arch::Bits::B64, "mscoree.dll"),
        }
    }

    /// The path the host program is given for `path`: under Wine the configured Windows path
    /// itself, so the loader sees exactly what IIS would; on Windows the sandboxed copy.
    pub fn loader_path(&self, path: &WinPath) -> anyhow::Result<OsString> {
        match self {
            Backend::Wine(_) => Ok(path.as_str().into()),
            Backend::Windows(_) => Ok(self.file_for(path)?.into_os_string()),
        }
    }

    /// How to start a Windows executable on this backend.
    pub fn launch(&self, exe: &Path) -> Launch {
        match self {
            Backend::Wine(wine) => Launch {
                program: wine.wine64.clone(),
                args: vec![exe.as_os_str().to_owned()],
                env: wine.env(),
            },
            Backend::Windows(_) => Launch { program: exe.to_owned(), args: vec![], env: vec![] },
        }
    }

    /// Stops what the backend started for this run.
    pub fn shut_down(&self) {
        if let Backend::Wine(wine) = self {
            wine.stop_server();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A Wine prefix owned by the harness, playing the Windows machine.
#[derive(Debug)]
pub struct Wine {
    wine64: PathBuf,
    wineserver: PathBuf,
    prefix: PathBuf,
    drives: PathBuf,
}

impl Wine {
    fn prepare(dir: &Path) -> anyhow::Result<Wine> {
        let wine64 = find_wine()?;
        let wineserver = wine64.with_file_name("wineserver");
        if !wineserver.is_file() {
            bail!(
                "found `{}` but no wineserver beside it; run `cargo xtask setup`",
                wine64.display()
            );
        }
        let wine =
            Wine { wine64, wineserver, prefix: dir.join("prefix"), drives: dir.join("drives") };
        if !wine.prefix.join(".isapi-harness-ready").exists() {
            wine.create_prefix()?;
        }
        wine.start_server()?;
        Ok(wine)
    }

    fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            ("WINEPREFIX".into(), self.prefix.clone().into()),
            // Wine's own diagnostics would mix with the host's report; the report is the truth.
            ("WINEDEBUG".into(), "-all".into()),
            // Keeps Wine from offering to install Mono and Gecko: nothing here needs them and no
            // one could answer the prompt.
            ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ]
    }

    fn create_prefix(&self) -> anyhow::Result<()> {
        eprintln!(
            "isapi-harness: creating the Wine prefix `{}` (first run only, 10-20 s)",
            self.prefix.display()
        );
        if self.prefix.exists() {
            std::fs::remove_dir_all(&self.prefix).with_context(|| {
                format!("cannot remove the half-made prefix `{}`", self.prefix.display())
            })?;
        }
        std::fs::create_dir_all(&self.prefix)?;
        let launch = Launch {
            program: self.wine64.clone(),
            args: vec!["wineboot".into(), "--init".into()],
            env: self.env(),
        };
        crate::process::run_to_end(&launch).context("cannot create the Wine prefix")?;
        // wineboot returns before the prefix is fully written; wait for the server to finish.
        let wait =
            Launch { program: self.wineserver.clone(), args: vec!["-w".into()], env: self.env() };
        crate::process::run_to_end(&wait)?;
        if !self.prefix.join("drive_c/windows/system32").is_dir() {
            bail!("wineboot did not create `{}/drive_c/windows/system32`", self.prefix.display());
        }
        std::fs::write(self.prefix.join(".isapi-harness-ready"), b"")?;
        Ok(())
    }

    /// One server for the whole run: with it, a 64-bit host starts in about 0.03 s instead of
    /// 0.4 s. `-p10` keeps it alive between hosts and lets it end by itself 10 s after the last
    /// one, should this process end before it can stop the server.
    fn start_server(&self) -> anyhow::Result<()> {
        let launch =
            Launch { program: self.wineserver.clone(), args: vec!["-p10".into()], env: self.env() };
        // A refusal means a server for this prefix is still running, left by the run before
        // this one and still within its ten seconds: it serves this run just as well, and this
        // run stops it at the end. Any other trouble shows when the first host starts.
        let _ = crate::process::run_to_end(&launch);
        Ok(())
    }

    fn stop_server(&self) {
        // Stopped by its prefix, never by name, so other Wine users on the machine are left alone.
        let launch =
            Launch { program: self.wineserver.clone(), args: vec!["-k".into()], env: self.env() };
        let _ = crate::process::run_to_end(&launch);
    }

    /// `C:` is the prefix's own drive (Wine needs its `C:\windows\system32` there); every other
    /// letter is a folder of ours.
    fn drive_dir(&self, drive: char) -> PathBuf {
        match drive.to_ascii_lowercase() {
            'c' => self.prefix.join("drive_c"),
            letter => self.drives.join(letter.to_string()),
        }
    }

    /// Makes drive `drive` exist, linking our folder into the prefix's `dosdevices` when it is
    /// first used, and returns its folder.
    fn prepare_drive(&self, drive: char) -> anyhow::Result<PathBuf> {
        let letter = drive.to_ascii_lowercase();
        let root = self.drive_dir(drive);
        if letter == 'c' {
            return Ok(root);
        }
        if letter == 'z' {
            bail!(
                "drive Z: is the Linux root folder under Wine, so the harness will not place files there; use another drive letter"
            );
        }
        std::fs::create_dir_all(&root)?;
        let link = self.prefix.join("dosdevices").join(format!("{letter}:"));
        if std::fs::read_link(&link).ok().as_deref() != Some(root.as_path()) {
            let _ = std::fs::remove_file(&link);
            #[cfg(unix)]
            std::os::unix::fs::symlink(&root, &link)
                .with_context(|| format!("cannot make drive {drive}: at `{}`", link.display()))?;
        }
        Ok(root)
    }
}

/// The native backend's stand-in for the machine's drives.
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
}

fn find_wine() -> anyhow::Result<PathBuf> {
    if let Some(wine) = std::env::var_os("ISAPI_HARNESS_WINE") {
        return Ok(PathBuf::from(wine));
    }
    let debian = Path::new("/usr/lib/wine/wine64");
    if debian.is_file() {
        return Ok(debian.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["wine64", "wine"] {
            if dir.join(name).is_file() {
                return Ok(dir.join(name));
            }
        }
    }
    bail!(
        "Wine is not installed (looked for /usr/lib/wine/wine64 and wine64 or wine on PATH); run `cargo xtask setup`, or set ISAPI_HARNESS_WINE"
    )
}

fn lock(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let path = dir.join("lock");
    let file =
        File::create(&path).with_context(|| format!("cannot create `{}`", path.display()))?;
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

fn existing_or_new(dir: &Path, folder: &str) -> anyhow::Result<PathBuf> {
    match find_ignoring_case(dir, folder) {
        Some(existing) if existing.is_dir() => Ok(existing),
        Some(existing) => {
            bail!("`{}` is a file where the configuration needs a folder", existing.display())
        }
        None => {
            let path = dir.join(folder);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create `{}`", path.display()))?;
            Ok(path)
        }
    }
}
