//! The Wine backend's machine: a Wine prefix owned by the harness, its wineserver, the base a
//! sandboxed run's overlay starts from (built once by wineboot, then repaired), the host
//! programs copied in, and the environment every Wine process gets.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::beneath::DiskRoot;
use super::limits::Requested;
use crate::process::{Confinement, Launch};

/// A Wine prefix owned by the harness, playing the Windows machine.
///
/// With a sandbox, the prefix and the drives' folders are the run's overlay over a base built
/// once (`overlay.rs`): every path below is the one Wine sees, inside the sandbox, and the
/// harness reaches them through the sandbox's root ([`DiskRoot`]). Without one (no bubblewrap),
/// they are the machine folder's `prefix/` and `drives/`, kept and written by every run.
#[derive(Debug)]
pub struct Wine {
    pub(super) wine64: PathBuf,
    pub(super) wineserver: PathBuf,
    /// The machine's folder: the base, the run's mount point, the state, and without a
    /// sandbox the prefix and the drives.
    pub(super) dir: PathBuf,
    /// The folder holding `prefix/` and `drives/`, as Wine sees it.
    pub(super) disk_dir: PathBuf,
    pub(super) prefix: PathBuf,
    pub(super) drives: PathBuf,
    /// The built host programs, and where Wine finds them in the prefix (Wine starts a 32-bit
    /// program only from a path on a drive, and the prefix has no `Z:`).
    pub(super) hosts_built: PathBuf,
    pub(super) hosts: PathBuf,
    /// The run's sandbox, or why there is none.
    pub(super) jail: Result<super::sandbox::Jail, String>,
    /// Without a sandbox: the run's wineserver, a child of the harness.
    pub(super) server: Option<crate::process::Background>,
    /// The disk, held open (`disk_dir`).
    pub(super) disk: Arc<DiskRoot>,
    /// The sandbox's base and the run's layer.
    pub(super) layers: super::overlay::Layers,
    /// The machine's limits, and what carries them out.
    pub(super) limits: super::limits::RunLimits,
    /// The bubblewrap that made the sandbox, for the sandboxes opened after it.
    pub(super) bwrap: Option<PathBuf>,
}

/// What a sandboxed run's machine is made of, apart from its sandbox: [`WineSeed::open`]
/// opens another sandbox over the same base, for a scenario of its own. It is a fresh
/// overlay (the base with no change on it), a fresh wineserver (which reads the registry from
/// the base again) and Wine's services started by a warm-up host of its own, under the run's
/// limits in cgroups of its own. Nothing of the run's other sandboxes is looked at or cleaned:
/// they may be running other scenarios.
#[derive(Debug, Clone)]
pub struct WineSeed {
    wine64: PathBuf,
    wineserver: PathBuf,
    dir: PathBuf,
    disk_dir: PathBuf,
    prefix: PathBuf,
    drives: PathBuf,
    hosts_built: PathBuf,
    hosts: PathBuf,
    layers: super::overlay::Layers,
    /// The run's limits, of which each machine gets its own cgroups.
    limits: Requested,
    bwrap: PathBuf,
}

impl WineSeed {
    pub(super) fn open(&self) -> anyhow::Result<Wine> {
        let mut wine = Wine {
            wine64: self.wine64.clone(),
            wineserver: self.wineserver.clone(),
            dir: self.dir.clone(),
            disk_dir: self.disk_dir.clone(),
            prefix: self.prefix.clone(),
            drives: self.drives.clone(),
            hosts_built: self.hosts_built.clone(),
            hosts: self.hosts.clone(),
            jail: Err("the sandbox is starting".to_owned()),
            server: None,
            disk: Arc::new(DiskRoot::open(None, &self.dir, None)?),
            layers: self.layers.clone(),
            limits: super::limits::RunLimits::another(self.limits),
            bwrap: Some(self.bwrap.clone()),
        };
        let spec = wine
            .jail_spec(&self.bwrap, super::overlay::Mode::Run { disk_limit: self.limits.disk })?;
        let jail = super::sandbox::Jail::start(&spec, true)?;
        let owner = super::sandbox::sandbox_user()?;
        wine.disk = Arc::new(DiskRoot::open(Some(&jail.root()), &wine.disk_dir, owner)?);
        wine.jail = Ok(jail);
        wine.warm_up()?;
        if let Ok(jail) = &wine.jail {
            jail.keep_what_runs();
        }
        Ok(wine)
    }
}

/// Where the host programs are inside the prefix: `C:\isapi-harness\hosts`.
const HOSTS_IN_PREFIX: &str = "drive_c/isapi-harness/hosts";

/// The 64-bit program beside the 64-bit hosts that starts the 32-bit ones
/// ([`Wine::program_and_starter`]).
const WOW64_STARTER: &str = "start-wow64.exe";

/// What marks a prefix made without a sandbox as complete.
const UNSANDBOXED_READY: &str = ".isapi-harness-ready";

impl Wine {
    pub(super) fn prepare(
        dir: &Path,
        hosts_built: &Path,
        limits: super::limits::RunLimits,
    ) -> anyhow::Result<Wine> {
        let (wine64, wineserver) = find_wine()?;
        let layers = super::overlay::Layers::new(dir);
        let scratch = dir.join("runs");
        let bwrap = super::sandbox::probe(&scratch);
        let disk_dir = match &bwrap {
            Ok(_) => layers.disk(),
            Err(_) => dir.to_owned(),
        };
        let prefix = disk_dir.join("prefix");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let mut wine = Wine {
            wine64,
            wineserver,
            dir: dir.to_owned(),
            drives: disk_dir.join("drives"),
            hosts: prefix.join(HOSTS_IN_PREFIX),
            prefix,
            hosts_built: hosts_built.to_owned(),
            jail: Err(String::new()),
            server: None,
            disk: Arc::new(DiskRoot::open(None, dir, None)?),
            disk_dir,
            layers,
            limits,
            bwrap: bwrap.as_ref().ok().cloned(),
        };
        wine.clean_up_after_earlier_runs();
        match &bwrap {
            Ok(bwrap) => {
                if !wine.layers.base_is_sound() {
                    wine.build_base(bwrap)?;
                }
                let spec = wine
                    .jail_spec(bwrap, super::overlay::Mode::Run { disk_limit: wine.limits.disk })?;
                let jail = super::sandbox::Jail::start(&spec, true)?;
                let owner = super::sandbox::sandbox_user()?;
                wine.disk = Arc::new(DiskRoot::open(Some(&jail.root()), &wine.disk_dir, owner)?);
                wine.jail = Ok(jail);
            }
            Err(reason) => {
                eprintln!(
                    "isapi-harness: no sandbox: {reason}; Wine runs unsandboxed, so DLLs of your own (--image WINPATH=FILE) are refused unless --unsandboxed is given"
                );
                wine.limits.forgo();
                if !wine.prefix.join(UNSANDBOXED_READY).exists() {
                    wine.create_unsandboxed_prefix()?;
                }
                repair_prefix(&wine.prefix)?;
                wine.copy_hosts()?;
                wine.server = Some(wine.start_server()?);
                wine.jail = Err(reason.clone());
            }
        }
        wine.warm_up()?;
        if let Ok(jail) = &wine.jail {
            jail.keep_what_runs();
        }
        Ok(wine)
    }

    /// What opens more sandboxes of this run (see [`WineSeed`]); None without a sandbox,
    /// where there is one prefix, written by every scenario.
    pub(super) fn seed(&self) -> Option<WineSeed> {
        let bwrap = self.bwrap.clone().filter(|_| self.jail.is_ok())?;
        Some(WineSeed {
            wine64: self.wine64.clone(),
            wineserver: self.wineserver.clone(),
            dir: self.dir.clone(),
            disk_dir: self.disk_dir.clone(),
            prefix: self.prefix.clone(),
            drives: self.drives.clone(),
            hosts_built: self.hosts_built.clone(),
            hosts: self.hosts.clone(),
            layers: self.layers.clone(),
            limits: Requested {
                memory: self.limits.memory,
                processes: self.limits.processes,
                disk: self.limits.disk,
            },
            bwrap,
        })
    }

    /// Whatever a run that was killed left: its wineserver and Wine's services (an unsandboxed
    /// run's can outlive it), its private `/tmp` of old and the output files of its hosts. A
    /// sandboxed run's processes, mounts and changes went with its namespaces. The machine
    /// lock is held, so nothing here belongs to a run still going.
    pub(super) fn clean_up_after_earlier_runs(&self) {
        let prefix = self.dir.join("prefix");
        let stop = Launch {
            program: self.wineserver.clone(),
            args: vec!["-k".into()],
            env: unsandboxed_env(&prefix, &self.wine64),
        };
        let _ = crate::process::run_to_end(&stop, Duration::from_secs(10), &self.scratch());
        // Wine's services outlive a server that was killed; an unsandboxed run's are found by
        // their environment.
        crate::process::kill_by_environment(&prefix_variable(&prefix));
        for stale in [self.dir.join("tmp"), self.scratch()] {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }

    /// Where the output of the processes of a run goes, outside the sandbox.
    pub(super) fn scratch(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// Inside, the environment is only this: no variable of the harness's gets in. HOME is
    /// the private /tmp, and USER keeps the profile folder's name (`C:\users\<name>`) the same
    /// with and without the sandbox.
    pub(super) fn sandbox_env(&self) -> Vec<(OsString, OsString)> {
        let mut env = common_env(&self.prefix, &self.wine64);
        let user = std::env::var_os("USER")
            .or_else(|| std::env::var_os("LOGNAME"))
            .unwrap_or_else(|| "user".into());
        env.extend([
            ("HOME".into(), "/tmp".into()),
            ("USER".into(), user),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ]);
        for locale in ["LANG", "LC_ALL"] {
            if let Some(value) = std::env::var_os(locale) {
                env.push((locale.into(), value));
            }
        }
        env
    }

    pub(super) fn jail_spec(
        &self,
        bwrap: &Path,
        mode: super::overlay::Mode,
    ) -> anyhow::Result<super::sandbox::Spec> {
        let owner = super::sandbox::sandbox_user()?;
        // A Wine installed outside /usr (ISAPI_HARNESS_WINE=/opt/wine/bin/wine64) brings its
        // install folder.
        let install = self.wine64.parent().and_then(Path::parent).map(Path::to_owned);
        let read_only =
            install.into_iter().filter(|dir| !dir.starts_with("/usr") && dir.is_dir()).collect();
        let building = mode == super::overlay::Mode::Build;
        let confinement = Confinement {
            user: owner,
            clean_env: true,
            no_new_privs: true,
            syscall_filter: Some(super::seccomp::program().into()),
            max_processes: self.limits.user_processes(),
            cgroups: self.limits.cgroup_files(),
            private_mounts: None,
        };
        Ok(super::sandbox::Spec {
            bwrap: bwrap.to_owned(),
            wineserver: self.wineserver.clone(),
            read_only,
            // The base is built before any host runs; the hosts are bound into each run.
            read_only_at: if building {
                Vec::new()
            } else {
                vec![(self.hosts_built.clone(), self.hosts.clone())]
            },
            writable: vec![self.disk_dir.clone()],
            tmp: self.layers.tmp(),
            prefix: self.prefix.clone(),
            state: self.dir.clone(),
            // While the base is built the prefix has no drive_c yet.
            cwd: if building { self.prefix.clone() } else { self.prefix.join("drive_c") },
            env: self.sandbox_env(),
            confinement,
            disk: Arc::new(super::overlay::DiskMounts::new(&self.layers, mode, owner)?),
        })
    }

    /// How to start a Windows program (a Unix path) of this machine.
    pub(super) fn launch(&self, exe: &Path) -> Launch {
        self.launch_in(exe, &super::HostEnv::default())
    }

    /// [`Wine::launch`], in the environment `host` describes: the runtimes Wine must load
    /// only from a real file, and the folders the target's PATH adds.
    pub(super) fn launch_in(&self, exe: &Path, host: &super::HostEnv<'_>) -> Launch {
        let args = self.program_and_starter(exe);
        let changes = host_env(host);
        match &self.jail {
            Ok(jail) => jail.enter_with(&self.wine64, &args, &changes),
            Err(_) => {
                let mut env = unsandboxed_env(&self.prefix, &self.wine64);
                super::sandbox::set_env(&mut env, &changes);
                Launch { program: self.wine64.clone(), args, env }
            }
        }
    }

    /// What Wine is given to start `exe`: the host programs from their copy in the prefix,
    /// and a 32-bit host through the 64-bit starter beside the 64-bit hosts, by its Windows
    /// path. Wine 8 given a 32-bit program itself first runs its start.exe as a 64-bit
    /// process that loads the shell and the fonts (about 40 ms a host start); the starter
    /// only creates the process, as a 64-bit IIS service would (`host/starter/`).
    fn program_and_starter(&self, exe: &Path) -> Vec<OsString> {
        let Ok(relative) = exe.strip_prefix(&self.hosts_built) else {
            return vec![exe.into()];
        };
        let starter = Path::new("amd64").join(WOW64_STARTER);
        if !relative.starts_with("x86") || !self.hosts_built.join(&starter).is_file() {
            return vec![self.hosts.join(relative).into()];
        }
        // CreateProcess knows no Unix path: the host by its place on C:.
        let on_c = Path::new(HOSTS_IN_PREFIX).strip_prefix("drive_c").expect("the hosts lie on C:");
        let parts: Vec<String> =
            on_c.join(relative).iter().map(|part| part.to_string_lossy().into_owned()).collect();
        vec![self.hosts.join(starter).into(), format!("C:\\{}", parts.join("\\")).into()]
    }

    /// Builds the sandbox's base: `wineboot` in a sandbox of its own, as the sandbox's user,
    /// on the base itself (the only time anything writes there), then the repairs, then the
    /// digest that every later run checks.
    pub(super) fn build_base(&self, bwrap: &Path) -> anyhow::Result<()> {
        eprintln!(
            "isapi-harness: building the machine's base `{}` (first run only, 10-20 s)",
            self.layers.base_disk.display()
        );
        let owner = super::sandbox::sandbox_user()?;
        self.layers.make_empty_base(owner)?;
        let base_prefix = self.layers.base_disk.join("prefix");
        for folder in [base_prefix.clone(), self.layers.base_disk.join("drives")] {
            make_owned_folder(&folder, owner)?;
        }
        let jail = super::sandbox::Jail::start(
            &self.jail_spec(bwrap, super::overlay::Mode::Build)?,
            false,
        )?;
        let boot = jail.enter(&self.wine64, &["wineboot".into(), "--init".into()]);
        crate::process::run_to_end_confined(
            &boot,
            Some(jail.confinement()),
            Duration::from_secs(300),
            &self.scratch(),
        )
        .context("cannot create the Wine prefix")?;
        // A sandbox of its own whose server ends a few seconds after wineboot and the services
        // it started: the prefix is complete when that server has gone.
        if !jail.wait(Duration::from_secs(120)) {
            bail!("the wineserver that created the prefix did not finish within 120 s");
        }
        drop(jail);
        if !base_prefix.join("drive_c/windows/system32").is_dir() {
            bail!("wineboot did not create `{}/drive_c/windows/system32`", base_prefix.display());
        }
        repair_prefix(&base_prefix)?;
        let mut folder = base_prefix.clone();
        for part in Path::new(HOSTS_IN_PREFIX).components() {
            folder.push(part);
            make_owned_folder(&folder, owner)?;
        }
        self.layers.seal()
    }

    /// Without a sandbox: the machine folder's own prefix, made once and kept.
    pub(super) fn create_unsandboxed_prefix(&self) -> anyhow::Result<()> {
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
        let scratch = self.scratch();
        let limit = Duration::from_secs(300);
        let boot = Launch {
            program: self.wine64.clone(),
            args: vec!["wineboot".into(), "--init".into()],
            env: unsandboxed_env(&self.prefix, &self.wine64),
        };
        crate::process::run_to_end(&boot, limit, &scratch)
            .context("cannot create the Wine prefix")?;
        // wineboot returns before the prefix is fully written; wait for the server.
        let wait = Launch {
            program: self.wineserver.clone(),
            args: vec!["-w".into()],
            env: unsandboxed_env(&self.prefix, &self.wine64),
        };
        crate::process::run_to_end(&wait, limit, &scratch)?;
        if !self.prefix.join("drive_c/windows/system32").is_dir() {
            bail!("wineboot did not create `{}/drive_c/windows/system32`", self.prefix.display());
        }
        std::fs::write(self.prefix.join(UNSANDBOXED_READY), b"")?;
        Ok(())
    }

    /// Without a sandbox: copies the host programs into the prefix when they changed.
    pub(super) fn copy_hosts(&self) -> anyhow::Result<()> {
        for arch in std::fs::read_dir(&self.hosts_built)
            .with_context(|| format!("cannot read `{}`", self.hosts_built.display()))?
        {
            let arch = arch?;
            if !arch.file_type()?.is_dir() {
                continue;
            }
            let to_dir = self.hosts.join(arch.file_name());
            std::fs::create_dir_all(&to_dir)
                .with_context(|| format!("cannot create `{}`", to_dir.display()))?;
            for file in std::fs::read_dir(arch.path())? {
                let file = file?;
                let to = to_dir.join(file.file_name());
                let same = match (std::fs::read(file.path()), std::fs::read(&to)) {
                    (Ok(built), Ok(copy)) => built == copy,
                    _ => false,
                };
                if !same {
                    std::fs::copy(file.path(), &to).with_context(|| {
                        format!("cannot copy the host program to `{}`", to.display())
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The first Windows program of a server session starts Wine's own services; a host
    /// without filters does that here, so that the services never belong to (and are never
    /// ended with) a host that times out.
    pub(super) fn warm_up(&self) -> anyhow::Result<()> {
        let host = self.hosts_built.join("amd64").join("inetinfo.exe");
        // No arguments: the host starts, reports, loads nothing and ends.
        let launch = self.launch(&host);
        let confinement = self.jail.as_ref().ok().map(|jail| jail.confinement());
        crate::process::run_to_end_confined(
            &launch,
            confinement,
            Duration::from_secs(120),
            &self.scratch(),
        )
        .context("cannot start the first program of the Wine machine")
    }

    /// Without a sandbox: one server for the whole run (with it, a 64-bit host starts in
    /// about 0.03 s instead of 0.4 s), in the foreground as the harness's own child, as in the
    /// sandbox: it dies with the harness (`PR_SET_PDEATHSIG`), its clients with it, and it is
    /// stopped by killing it. (`wineserver -k` would wait up to ten seconds for Wine's
    /// services.)
    pub(super) fn start_server(&self) -> anyhow::Result<crate::process::Background> {
        let launch = Launch {
            program: self.wineserver.clone(),
            args: vec!["-f".into(), "-p".into()],
            env: unsandboxed_env(&self.prefix, &self.wine64),
        };
        let out = self.dir.join("wineserver.out");
        let err = self.dir.join("wineserver.err");
        let server = crate::process::Background::start(&launch, &out, &err)?;
        let started = std::time::Instant::now();
        let tmp = std::env::temp_dir();
        while !super::sandbox::server_listening(&tmp, &self.prefix) {
            if server.status().is_some() || started.elapsed() > Duration::from_secs(20) {
                server.kill();
                let said = std::fs::read_to_string(&err).unwrap_or_default();
                bail!(
                    "the wineserver for `{}` did not start: {}",
                    self.prefix.display(),
                    said.lines().last().unwrap_or("it printed nothing")
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(server)
    }

    pub(super) fn server_running(&self) -> bool {
        match (&self.jail, &self.server) {
            (Ok(jail), _) => jail.running(),
            (Err(_), Some(server)) => server.status().is_none(),
            (Err(_), None) => true,
        }
    }

    pub(super) fn stop_server(&self) {
        match (&self.jail, &self.server) {
            (Ok(jail), _) => jail.stop(),
            (Err(_), server) => {
                if let Some(server) = server {
                    server.kill();
                }
                crate::process::kill_by_environment(&prefix_variable(&self.prefix));
            }
        }
    }

    /// What ends every Wine process of the run at once, for an interrupted run: the sandbox
    /// (its PID namespace takes every process in it along), or the unsandboxed server.
    pub(super) fn emergency_stop(&self) -> Box<dyn Fn() + Send> {
        let server = match (&self.jail, &self.server) {
            (Ok(jail), _) => Some(jail.killer()),
            (Err(_), server) => server.clone(),
        };
        let unsandboxed = self.jail.is_err().then(|| prefix_variable(&self.prefix));
        Box::new(move || {
            if let Some(server) = &server {
                server.kill();
            }
            if let Some(variable) = &unsandboxed {
                crate::process::kill_by_environment(variable);
            }
        })
    }

    /// `C:` is the prefix's own drive (Wine needs its `C:\windows\system32` there); every other
    /// letter is a folder of ours. Relative to the disk.
    pub(super) fn drive_dir(drive: char) -> PathBuf {
        match drive.to_ascii_lowercase() {
            'c' => PathBuf::from("prefix/drive_c"),
            letter => Path::new("drives").join(letter.to_string()),
        }
    }

    /// Makes drive `drive` exist, linking our folder into the prefix's `dosdevices` when it is
    /// first used, and returns its folder, relative to the disk.
    pub(super) fn prepare_drive(&self, drive: char) -> anyhow::Result<PathBuf> {
        let letter = drive.to_ascii_lowercase();
        let root = Wine::drive_dir(drive);
        if letter == 'c' {
            return Ok(root);
        }
        if letter == 'z' {
            bail!(
                "drive Z: is the Linux root folder under Wine, so the harness will not place files there; use another drive letter"
            );
        }
        if self.disk.kind(&root).is_none() {
            self.disk
                .create_folder(&root)
                .with_context(|| format!("cannot create `{}`", self.disk.show(&root).display()))?;
        }
        // The link is Wine's way to the drive; the harness itself never follows it.
        let link = Path::new("prefix/dosdevices").join(format!("{letter}:"));
        let target = self.drives.join(letter.to_string());
        if self.disk.read_link(&link).as_deref() != Some(target.as_path()) {
            self.disk.remove_entry(&link);
            self.disk.symlink(&target, &link).with_context(|| {
                format!("cannot make drive {drive}: at `{}`", self.disk.show(&link).display())
            })?;
        }
        Ok(root)
    }
}

/// The environment of every Wine process, inside the sandbox or not.
fn common_env(prefix: &Path, wine64: &Path) -> Vec<(OsString, OsString)> {
    let mut env = vec![
        ("WINEPREFIX".into(), prefix.into()),
        // Wine's errors stay on (they go to the host's stderr, which is shown only when a
        // host fails to start); its fixme lines are noise.
        ("WINEDEBUG".into(), "fixme-all".into()),
        ("WINEDLLOVERRIDES".into(), DLL_OVERRIDES.into()),
    ];
    // Wine's loader starts by executing itself again through its preloader, after setting
    // this very variable, so every Wine process has it either way. Where there is no preloader
    // beside the loader (Debian's Wine ships none), that second `exec` only loads the same
    // program and ntdll.so again; set from the start, each process skips it.
    let mut preloader = wine64.as_os_str().to_owned();
    preloader.push("-preloader");
    if !Path::new(&preloader).exists() {
        env.push(("WINELOADERNOEXEC".into(), "1".into()));
    }
    env
}

/// Keeps Wine from offering to install Mono and Gecko (nothing here needs them and no one
/// could answer the prompt), and from starting `winemenubuilder` at each machine's first
/// program (Wine's `wine.inf` lists it among the services wineboot runs, to write desktop
/// menu entries and file associations for the prefix: a 64-bit process per machine that
/// nothing here uses).
const DLL_OVERRIDES: &str = "mscoree,mshtml=;winemenubuilder.exe=d";

/// What a host's environment adds to every Wine process's: `WINEDLLOVERRIDES` `name=n` for
/// each runtime Wine must load only from a real file (its builtin copy then answers 126, as
/// the server without the runtime does; a vendor's copy beside its DLL still loads), and
/// `WINEPATH`, the folders Wine puts into the Windows PATH beside its default system PATH
/// (`C:\windows\system32;C:\windows;C:\windows\system32\wbem`). Wine puts them first where
/// Windows would put them last; the loader searches the system folders before PATH, so only a
/// DLL in both `Wbem` and such a folder could tell the two apart.
fn host_env(host: &super::HostEnv<'_>) -> Vec<(OsString, OsString)> {
    let mut env = Vec::new();
    if !host.native_only.is_empty() {
        env.push((
            "WINEDLLOVERRIDES".into(),
            format!("{DLL_OVERRIDES};{}=n", host.native_only.join(",")).into(),
        ));
    }
    if !host.path.is_empty() {
        let folders: Vec<&str> = host.path.iter().map(|folder| folder.as_str()).collect();
        env.push(("WINEPATH".into(), folders.join(";").into()));
    }
    env
}

/// Without a sandbox, Wine processes get the harness's own environment plus Wine's.
fn unsandboxed_env(prefix: &Path, wine64: &Path) -> Vec<(OsString, OsString)> {
    common_env(prefix, wine64)
}

/// `WINEPREFIX=<prefix>`, as every Wine process of that prefix has it in its environment.
fn prefix_variable(prefix: &Path) -> String {
    format!("WINEPREFIX={}", prefix.display())
}

/// Makes `folder` (if missing) and gives it to the sandbox's user.
fn make_owned_folder(folder: &Path, owner: Option<(u32, u32)>) -> anyhow::Result<()> {
    if !folder.is_dir() {
        std::fs::create_dir(folder)
            .with_context(|| format!("cannot create `{}`", folder.display()))?;
    }
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::lchown(folder, Some(uid), Some(gid))
            .with_context(|| format!("cannot give `{}` to the sandbox's user", folder.display()))?;
    }
    #[cfg(not(unix))]
    let _ = owner;
    Ok(())
}

/// Takes out of a prefix every way to the rest of the file system that Wine puts in: the `Z:`
/// drive (the Linux root) and the links from `C:\users\<name>\Desktop`, `Documents`, ... to the
/// home folder, which become empty folders (the profile folder's owner's). Links are removed,
/// never followed.
fn repair_prefix(prefix: &Path) -> anyhow::Result<()> {
    let z = prefix.join("dosdevices").join("z:");
    if std::fs::symlink_metadata(&z).is_ok() {
        std::fs::remove_file(&z)
            .with_context(|| format!("cannot remove Wine's Z: drive `{}`", z.display()))?;
    }
    let users = prefix.join("drive_c").join("users");
    for profile in std::fs::read_dir(&users).into_iter().flatten().filter_map(Result::ok) {
        if !profile.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        #[cfg(unix)]
        let owner = {
            use std::os::unix::fs::MetadataExt;
            profile.metadata().ok().map(|meta| (meta.uid(), meta.gid()))
        };
        #[cfg(not(unix))]
        let owner = None;
        for entry in std::fs::read_dir(profile.path()).into_iter().flatten().filter_map(Result::ok)
        {
            let path = entry.path();
            if entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
                std::fs::remove_file(&path).with_context(|| {
                    format!("cannot remove Wine's link to the home folder `{}`", path.display())
                })?;
                make_owned_folder(&path, owner)?;
            }
        }
    }
    Ok(())
}

/// What of Wine this machine has, as found where the harness looks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinePieces {
    /// `ISAPI_HARNESS_WINE`, else Debian's `/usr/lib/wine/wine64`, else `wine64` or `wine` on
    /// PATH.
    pub wine64: Option<PathBuf>,
    /// `wineserver` beside it, when it is there.
    pub wineserver: Option<PathBuf>,
    /// The Debian layout's 32-bit PE modules, when the Wine is Debian's; None for another Wine,
    /// whose layout the harness does not know.
    pub i386_modules: Option<bool>,
}

/// Wine runs 32-bit hosts in WoW64 mode only with its i386 PE modules beside the 64-bit ones;
/// Debian's wine64 package does not have them.
pub const DEBIAN_I386_MODULE: &str = "/usr/lib/x86_64-linux-gnu/wine/i386-windows/kernel32.dll";

pub fn wine_pieces() -> WinePieces {
    let wine64 = match std::env::var_os("ISAPI_HARNESS_WINE") {
        Some(wine) => Some(PathBuf::from(wine)).filter(|path| path.is_file()),
        None => {
            let debian = Path::new("/usr/lib/wine/wine64");
            let path = std::env::var_os("PATH").unwrap_or_default();
            debian.is_file().then(|| debian.to_owned()).or_else(|| {
                std::env::split_paths(&path)
                    .flat_map(|dir| [dir.join("wine64"), dir.join("wine")])
                    .find(|candidate| candidate.is_file())
            })
        }
    };
    let wineserver = wine64
        .as_ref()
        .map(|wine64| wine64.with_file_name("wineserver"))
        .filter(|server| server.is_file());
    let i386_modules = wine64
        .as_ref()
        .filter(|wine64| wine64.starts_with("/usr/lib/wine"))
        .map(|_| Path::new(DEBIAN_I386_MODULE).is_file());
    WinePieces { wine64, wineserver, i386_modules }
}

/// Wine's 64-bit loader and its server, or one line naming every piece that is missing and
/// how to get it.
fn find_wine() -> anyhow::Result<(PathBuf, PathBuf)> {
    let pieces = wine_pieces();
    let mut missing = Vec::new();
    match (&pieces.wine64, &pieces.wineserver) {
        (None, _) => missing.push(
            "wine64 (looked for ISAPI_HARNESS_WINE, /usr/lib/wine/wine64 and wine64 or wine on PATH; Debian/Ubuntu package wine64)".to_owned(),
        ),
        (Some(wine64), None) => missing.push(format!(
            "wineserver beside `{}` (package wine64)",
            wine64.display()
        )),
        _ => {}
    }
    if pieces.i386_modules == Some(false) {
        missing.push(format!(
            "Wine's 32-bit modules (`{DEBIAN_I386_MODULE}`, unpacked from the libwine:i386 package)"
        ));
    }
    match (pieces.wine64, pieces.wineserver) {
        (Some(wine64), Some(wineserver)) if missing.is_empty() => Ok((wine64, wineserver)),
        _ => bail!(
            "Wine is not complete on this machine: missing {}; run `isapi-harness doctor` for the commands that install them (from a checkout, `cargo xtask setup` installs them)",
            missing.join(", ")
        ),
    }
}

/// What this machine's `wine64 --version` printed (`wine-8.0 (Debian 8.0~repack-4)`), asked
/// once per process; None without Wine, or when it did not answer.
pub fn wine_version() -> Option<String> {
    static VERSION: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let wine64 = wine_pieces().wine64?;
            let launch = Launch { program: wine64, args: vec!["--version".into()], env: vec![] };
            let scratch = std::env::temp_dir();
            let finished =
                crate::process::run_bounded(&launch, &[], Duration::from_secs(20), &scratch)
                    .ok()?;
            finished
                .status
                .is_some_and(|status| status.success())
                .then(|| finished.stdout.trim().to_owned())
        })
        .clone()
}

/// The major version of this machine's Wine; None without one.
pub fn wine_major() -> Option<u32> {
    major_of(&wine_version()?)
}

/// `8` from `wine-8.0 (Debian 8.0~repack-4)` or `wine-10.0-rc1`.
pub fn major_of(version: &str) -> Option<u32> {
    let digits: String =
        version.trim().strip_prefix("wine-")?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
