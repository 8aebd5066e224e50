//! The simulated Windows machine: a real loader (Wine or Windows), its disks, and the host
//! processes started on it.
//!
//! One [`Machine`] is one Wine prefix and one wineserver, for as many scenarios and host
//! processes as its user gives it. It is `Sync`, so scenarios can run in parallel threads
//! against it. A sandboxed machine's [`Seed`] opens more machines of the same run over the
//! same base, each pristine: `matrix` gives one to every scenario with a DLL of unknown origin.

mod backend;
mod beneath;
mod disk;
pub mod limits;
mod overlay;
mod sandbox;
mod seccomp;
mod wine;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::winpath::WinPath;
pub use backend::BackendChoice;
pub use disk::{Content, Layout, LayoutGuard};
pub use sandbox::probe as probe_sandbox;
pub use wine::{
    DEBIAN_I386_MODULE, WinePieces, major_of as wine_major_of, wine_major, wine_pieces,
    wine_version,
};

use crate::artifacts::Artifacts;
use crate::host::{HostPlan, HostRun, ReportError};

/// Set by `--unsandboxed`: the user accepts that their own DLLs run without a sandbox.
static UNSANDBOXED: AtomicBool = AtomicBool::new(false);

/// Lets DLLs of the user's own run where no sandbox can be made (`--unsandboxed`).
pub fn allow_unsandboxed() {
    UNSANDBOXED.store(true, Ordering::Relaxed);
}

/// The limits every run of this process keeps (`--memory-limit`, `--process-limit`,
/// `--disk-limit`); the defaults until set.
static LIMITS: std::sync::Mutex<Option<limits::Requested>> = std::sync::Mutex::new(None);

/// Sets the limits of the runs to come.
pub fn set_limits(requested: limits::Requested) {
    *LIMITS.lock().expect("limits poisoned") = Some(requested);
}

fn requested_limits() -> limits::Requested {
    LIMITS.lock().expect("limits poisoned").unwrap_or_default()
}

pub struct Machine {
    artifacts: Artifacts,
    // First, so it is withdrawn before the backend stops.
    _on_interrupt: crate::interrupt::Registration,
    // Field order matters: the backend (which stops the wineserver) drops before the lock,
    // which the run's other machines (see [`Seed`]) share.
    backend: backend::Backend,
    disk: disk::Disk,
    lock: Arc<File>,
    /// The running Windows's system files on the windows backend, listed at the first use.
    os_files: std::sync::OnceLock<Option<Arc<crate::windows_loader::OsFiles>>>,
}

/// What opens further machines of a sandboxed run (see [`Machine::seed`]).
#[derive(Debug, Clone)]
pub struct Seed {
    artifacts: Artifacts,
    wine: wine::WineSeed,
    lock: Arc<File>,
}

impl Seed {
    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    /// A machine of its own over the run's base: a fresh overlay, wineserver and sandbox, as
    /// pristine as the run's first. It shares the run's lock, keeps the run's limits in
    /// cgroups of its own, and places files on its own layer only, so it may run beside the
    /// run's other machines.
    pub fn open(&self) -> anyhow::Result<Machine> {
        let backend = backend::Backend::Wine(Box::new(self.wine.open()?));
        // The files it places are on its own layer, which goes with its sandbox: there is no
        // list to keep, and the run's list is not this machine's to clean.
        let disk = disk::Disk::on_own_layer(backend.disk().clone());
        // Its disk ends with it, and it serves one scenario.
        disk.allow_shadowing();
        Ok(Machine::assemble(self.artifacts.clone(), backend, disk, self.lock.clone()))
    }
}

impl Machine {
    pub fn open(choice: BackendChoice) -> anyhow::Result<Machine> {
        let artifacts = Artifacts::locate()?;
        let hosts_built = artifacts.root().join("hosts");
        let sandboxable = !cfg!(windows);
        let requested = requested_limits();
        // On Windows the job object every host joins keeps memory and processes.
        crate::process::set_job_limits(requested.memory, requested.processes);
        let limits = limits::RunLimits::set_up(requested, sandboxable);
        let (backend, lock) =
            backend::Backend::open(choice, &artifacts.machines_dir(), &hosts_built, limits)?;
        let state = artifacts.machines_dir().join(backend.name());
        let disk = disk::Disk::open(&state, backend.disk().clone())?;
        Ok(Machine::assemble(artifacts, backend, disk, Arc::new(lock)))
    }

    fn assemble(
        artifacts: Artifacts,
        backend: backend::Backend,
        disk: disk::Disk,
        lock: Arc<File>,
    ) -> Machine {
        // An interrupted run ends every process of the run, then removes the files it placed
        // (in that order: a host still running could hold one open).
        let stop = backend.emergency_stop();
        let remove_placed = disk.emergency_cleanup();
        let on_interrupt = crate::interrupt::on_interrupt(move || {
            stop();
            remove_placed();
        });
        Machine {
            artifacts,
            _on_interrupt: on_interrupt,
            backend,
            disk,
            lock,
            os_files: std::sync::OnceLock::new(),
        }
    }

    /// A machine for one run only, as `start` and `diagnose` use it: with a sandbox its disk is
    /// the run's own overlay, discarded when it closes, so a server copy's files may take the
    /// place of the machine's own (see `disk.rs`). Without a sandbox the prefix is kept, and
    /// the machine's own files are never replaced.
    pub fn open_for_one_run(choice: BackendChoice) -> anyhow::Result<Machine> {
        let machine = Machine::open(choice)?;
        if machine.sandboxed() {
            machine.disk.allow_shadowing();
        }
        Ok(machine)
    }

    /// What opens further pristine machines of this run, each with a sandbox of its own; None
    /// without a sandbox (the one prefix is kept, and written by everything that runs on it).
    pub fn seed(&self) -> Option<Seed> {
        Some(Seed {
            artifacts: self.artifacts.clone(),
            wine: self.backend.seed()?,
            lock: self.lock.clone(),
        })
    }

    /// Whether every process of the run lives in a sandbox (bubblewrap on Linux): without one,
    /// DLLs of the user's own are refused unless [`allow_unsandboxed`] was called.
    pub fn sandboxed(&self) -> bool {
        self.backend.sandboxed()
    }

    /// How each limit of the run is kept, or why it cannot be.
    pub fn limits(&self) -> Option<limits::LimitsReport> {
        self.backend.limits_report()
    }

    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    pub fn backend(&self) -> crate::vocab::BackendKind {
        self.backend.kind()
    }

    /// Whether the machine's wineserver still runs. A DLL can end it (and the sandbox with
    /// it); after that every host would fail to start, so a run that shares the machine
    /// between scenarios asks after each one.
    pub fn server_running(&self) -> bool {
        self.backend.server_running()
    }

    /// Puts a scenario's files in place for as long as the guard lives. Without a sandbox,
    /// a DLL that is not one of the harness's own builds is refused unless the user said
    /// `--unsandboxed`: a DLL of unknown origin would run with the harness's rights.
    pub fn acquire(&self, layout: &Layout) -> anyhow::Result<LayoutGuard<'_>> {
        if !self.sandboxed() && cfg!(unix) && !UNSANDBOXED.load(Ordering::Relaxed) {
            for (path, content) in layout.entries() {
                if let Some(source) = content.source()
                    && !self.artifacts.is_own(source)
                {
                    anyhow::bail!(
                        "refusing to load `{}` at {path} without a sandbox (see the line above); pass --unsandboxed to load it anyway",
                        source.display()
                    );
                }
            }
        }
        self.disk.acquire(&self.backend, layout)
    }

    /// What the headers of the file at `path` say, or None when nothing is there. Read from
    /// the simulated disk itself, so it is the file the loader was given.
    pub fn inspect(&self, path: &WinPath) -> Option<crate::pe::ImageInfo> {
        self.inspect_existing(path)
    }

    /// What the headers of the machine's own file at `path` say, if one is there; creates
    /// nothing.
    pub fn inspect_existing(&self, path: &WinPath) -> Option<crate::pe::ImageInfo> {
        crate::pe::inspect(&self.backend.existing_file_for(path)?.path).ok()
    }

    /// The simulated disk as Windows's loader rules read it, each file read once for the
    /// life of the value (one start: the files do not change while its layout is held). On the
    /// windows backend the target's system folders are the running Windows's
    /// (`windows_loader::os_files`).
    pub fn loader_disk(&self) -> LoaderDisk<'_> {
        let os = self.os_files.get_or_init(|| self.backend.os_files().map(Arc::new)).clone();
        LoaderDisk {
            files: MachineFiles { machine: self, read: std::cell::RefCell::new(HashMap::new()) },
            os,
        }
    }

    /// Whether the machine has the folder `path` would be in (before anything is placed).
    pub fn folder_exists_for(&self, path: &WinPath) -> bool {
        self.backend.folder_exists_for(path)
    }

    /// Whether the machine can load IL-only .NET images (through mscoree.dll). The Wine prefix
    /// has no .NET runtime: Wine's own mscoree is switched off so it never offers to install
    /// Mono.
    pub fn has_clr(&self) -> bool {
        self.backend.has_clr()
    }

    /// Starts one host process with `plan` and reads what it reports. The plan's paths are
    /// Windows paths of this machine; the caller holds a layout guard that covers them.
    ///
    /// Under Wine about one process start in two thousand fails before the program runs at all
    /// (`wine: failed to map the shared user data: c0000018`: Wine could not reserve a fixed
    /// address because something else was mapped there first). Such a start printed no report
    /// line, so it produced no load result, and starting the host again is honest: up to
    /// [`START_ATTEMPTS`] times, counted in [`HostRun::start_attempts`].
    pub fn run_host(&self, plan: &HostPlan) -> anyhow::Result<HostRun> {
        self.run_host_in(plan, &HostEnv::default())
    }

    /// [`Machine::run_host`], in the environment `env` describes (see [`HostEnv`]).
    pub fn run_host_in(&self, plan: &HostPlan, env: &HostEnv<'_>) -> anyhow::Result<HostRun> {
        let probes = plan
            .probes
            .iter()
            .map(|path| self.backend.loader_path(path, plan.bits))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.run_host_probing(plan, probes, env)
    }

    /// [`Machine::run_host`], with the plan's probes looked up in the Windows folder of the OS
    /// the hosts run on ([`Backend::os_folder_path`]): which file a process of each bitness
    /// gets there is WOW64's answer, never the harness's mapping. The probes must lie in
    /// `C:\windows`.
    pub fn run_host_probing_os_folder(&self, plan: &HostPlan) -> anyhow::Result<HostRun> {
        let probes = plan
            .probes
            .iter()
            .map(|path| self.backend.os_folder_path(path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.run_host_probing(plan, probes, &HostEnv::default())
    }

    /// Whether files placed in the machine's `C:\windows` lie where the OS redirects them.
    pub fn machine_windows_is_the_os_s(&self) -> bool {
        self.backend.machine_windows_is_the_os_s()
    }

    fn run_host_probing(
        &self,
        plan: &HostPlan,
        probes: Vec<OsString>,
        env: &HostEnv<'_>,
    ) -> anyhow::Result<HostRun> {
        let exe = self.artifacts.host(plan.bits, plan.process);
        let launch = self.backend.launch(&exe, env);
        let confinement = self.backend.confinement();
        let images = plan
            .images
            .iter()
            .map(|image| self.backend.loader_path(&image.path, plan.bits))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let args = crate::host::arguments(plan, &probes, &images);
        let scratch = self.artifacts.machines_dir().join(self.backend.name()).join("runs");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let before = self.backend.limit_counters();
            let finished = crate::process::run_bounded_confined(
                &launch,
                confinement,
                &args,
                plan.timeout,
                &scratch,
            )?;
            let hit = self.backend.limit_hit(&before, &finished);
            // Nothing a host started outlives it.
            self.backend.end_strays();
            match crate::host::read_report(plan, &images, &finished) {
                Ok(mut run) => {
                    run.start_attempts = attempt;
                    // A host stopped by a limit of the run ended because of the limit, not
                    // because its filter crashed.
                    if let Some(hit) = hit {
                        run.end = hit.host_end();
                    }
                    return Ok(run);
                }
                Err(ReportError::NotStarted { exit_code, stderr_tail }) => {
                    if attempt < START_ATTEMPTS {
                        // On stderr, for whoever watches the run; the report says it in its
                        // timeline.
                        eprintln!(
                            "isapi-harness: the {} host did not start ({}); starting it again (attempt {} of {START_ATTEMPTS})",
                            plan.bits,
                            if stderr_tail.is_empty() {
                                "Wine printed nothing"
                            } else {
                                &stderr_tail
                            },
                            attempt + 1
                        );
                    }
                    failures.push(format!(
                        "{}: {}",
                        match exit_code {
                            Some(code) => format!("exit code {code}"),
                            None => "no exit code".to_owned(),
                        },
                        if stderr_tail.is_empty() {
                            "Wine printed nothing".to_owned()
                        } else {
                            format!("Wine printed `{stderr_tail}`")
                        }
                    ));
                }
                Err(error @ ReportError::Inconsistent(_)) => {
                    anyhow::bail!("{} {}: {error}", plan.bits, plan.process)
                }
            }
        }
        anyhow::bail!(
            "the {} host program (`{}`) did not start in {START_ATTEMPTS} attempts: {}",
            plan.bits,
            exe.display(),
            failures.join("; ")
        )
    }
}

/// What a host's environment says of the target server beyond the machine's files.
#[derive(Debug, Clone, Default)]
pub struct HostEnv<'a> {
    /// The DLLs Wine must load only from a real file (`WINEDLLOVERRIDES` `name=n`): its
    /// builtin copies of C runtimes the server lacks then answer 126 as the server does, and
    /// a vendor's own copy beside its DLL still loads and runs (`windows-loader-vs-wine.md`,
    /// "Making Wine's run agree"). Nothing on the windows backend, whose loader has no
    /// builtins.
    pub native_only: Vec<&'static str>,
    /// The folders the server's PATH has after Windows's default system PATH.
    pub path: &'a [WinPath],
}

/// How many times a host that never started is started (see [`Machine::run_host`]).
pub const START_ATTEMPTS: u32 = 3;

/// Whether the harness runs as root: then the sandbox's processes run as its own unprivileged
/// user, and the pristine machine's base is kept root-owned (`sandbox.rs`, `overlay.rs`,
/// `limits.rs` ask).
fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid cannot fail and touches no memory.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    false
}

/// The machine's files for `windows_loader`: each Windows path looked up on the disk the hosts
/// load from, read once, and on the windows backend the running Windows's system files.
pub struct LoaderDisk<'m> {
    files: MachineFiles<'m>,
    os: Option<Arc<crate::windows_loader::OsFiles>>,
}

impl crate::windows_loader::TargetDisk for LoaderDisk<'_> {
    fn file(&self, path: &WinPath) -> Option<Arc<crate::windows_loader::DiskFile>> {
        match &self.os {
            Some(os) => {
                crate::windows_loader::OnThisWindows { machine: &self.files, os }.file(path)
            }
            None => self.files.file(path),
        }
    }
}

/// The files of the machine's own disk, each read once.
struct MachineFiles<'m> {
    machine: &'m Machine,
    read: std::cell::RefCell<HashMap<WinPath, Option<Arc<crate::windows_loader::DiskFile>>>>,
}

impl crate::windows_loader::TargetDisk for MachineFiles<'_> {
    fn file(&self, path: &WinPath) -> Option<Arc<crate::windows_loader::DiskFile>> {
        self.read
            .borrow_mut()
            .entry(path.clone())
            .or_insert_with(|| {
                let opened = self.machine.backend.existing_file_for(path)?;
                let (info, linkage) = crate::pe::inspect_with_linkage(&opened.path)?;
                Some(Arc::new(crate::windows_loader::DiskFile {
                    path: path.clone(),
                    info,
                    linkage,
                    os_own: false,
                }))
            })
            .clone()
    }
}
