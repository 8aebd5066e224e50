//! The simulated Windows machine: a real loader (Wine or Windows), its disks, and the host
//! processes started on it.
//!
//! One [`Machine`] serves a whole run: one Wine prefix and one wineserver, however many
//! scenarios and host processes the run needs. It is `Sync`, so scenarios run in parallel
//! threads against it.

mod backend;
mod disk;
mod sandbox;
mod winpath;

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};

pub use backend::BackendChoice;
pub use disk::{Content, Layout, LayoutGuard};
pub use winpath::WinPath;

use crate::artifacts::Artifacts;
use crate::host::{HostRequest, HostRun};

/// Set by `--unsandboxed`: the user accepts that their own DLLs run without a sandbox.
static UNSANDBOXED: AtomicBool = AtomicBool::new(false);

/// Lets DLLs of the user's own run where no sandbox can be made (`--unsandboxed`).
pub fn allow_unsandboxed() {
    UNSANDBOXED.store(true, Ordering::Relaxed);
}

pub struct Machine {
    artifacts: Artifacts,
    // First, so it is withdrawn before the backend stops.
    _on_interrupt: crate::interrupt::Registration,
    // Field order matters: the backend (which stops the wineserver) drops before the lock.
    backend: backend::Backend,
    disk: disk::Disk,
    _lock: File,
}

impl Machine {
    pub fn open(choice: BackendChoice) -> anyhow::Result<Machine> {
        let artifacts = Artifacts::locate()?;
        let hosts_built = artifacts.root().join("hosts");
        let (backend, lock) =
            backend::Backend::open(choice, &artifacts.machines_dir(), &hosts_built)?;
        let state = artifacts.machines_dir().join(backend.name());
        let disk = disk::Disk::open(&state)?;
        // An interrupted run ends every process of the run, then removes the files it placed
        // (in that order: a host still running could hold one open).
        let stop = backend.emergency_stop();
        let remove_placed = disk.emergency_cleanup();
        let on_interrupt = crate::interrupt::on_interrupt(move || {
            stop();
            remove_placed();
        });
        Ok(Machine { artifacts, _on_interrupt: on_interrupt, backend, disk, _lock: lock })
    }

    /// Whether every process of the run lives in a sandbox (bubblewrap on Linux): without one,
    /// DLLs of the user's own are refused unless [`allow_unsandboxed`] was called.
    pub fn sandboxed(&self) -> bool {
        self.backend.sandboxed()
    }

    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Puts a scenario's files in place for as long as the guard lives. Without a sandbox,
    /// a DLL that is not one of the harness's own builds is refused unless the user said
    /// `--unsandboxed`: a DLL of unknown origin would run with the harness's rights.
    pub fn acquire(&self, layout: &Layout) -> anyhow::Result<LayoutGuard<'_>> {
        if !self.sandboxed() && cfg!(unix) && !UNSANDBOXED.load(Ordering::Relaxed) {
            let own = self.artifacts.root().join("filters");
            for (path, content) in layout.entries() {
                if let Content::Copy(source) = content
                    && !source.starts_with(&own)
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
        let file = self.backend.file_for(path).ok()?;
        crate::pe::inspect(&file).ok()
    }

    /// What the headers of the machine's own file at `path` say, if one is there; creates
    /// nothing.
    pub fn inspect_existing(&self, path: &WinPath) -> Option<crate::pe::ImageInfo> {
        crate::pe::inspect(&self.backend.existing_file_for(path)?).ok()
    }

    /// Whether the loader of a `bits` process would find `dll`, imported by the filter at
    /// `filter`: beside the filter (the search starts there, as the host loads with an altered
    /// search path) or in the system folder of that bitness. API-set names are resolved by the
    /// loader itself and always count as found.
    pub fn dependency_available(
        &self,
        bits: crate::arch::Bits,
        filter: &WinPath,
        dll: &str,
    ) -> bool {
        if dll.to_ascii_lowercase().starts_with("api-ms-win-")
            || dll.to_ascii_lowercase().starts_with("ext-ms-")
        {
            return true;
        }
        filter.sibling(dll).is_some_and(|path| self.backend.existing_file_for(&path).is_some())
            || self.backend.system_dll_exists(bits, dll)
    }

    /// Whether the machine can load IL-only .NET images (through mscoree.dll). The Wine prefix
    /// has no .NET runtime: Wine's own mscoree is switched off so it never offers to install
    /// Mono.
    pub fn has_clr(&self) -> bool {
        self.backend.has_clr()
    }

    /// Starts one host process and reads what it reports. The filters are Windows paths of
    /// this machine; the caller holds a layout guard that covers them.
    ///
    /// Under Wine about one process start in two thousand fails before the program runs at all
    /// (`wine: failed to map the shared user data: c0000018`: Wine could not reserve a fixed
    /// address because something else was mapped there first). Such a start printed no report
    /// line, so it produced no load result, and starting the host again is honest: up to
    /// [`START_ATTEMPTS`] times, counted in [`HostRun::start_attempts`].
    pub fn run_host(&self, request: &HostRequest, filters: &[WinPath]) -> anyhow::Result<HostRun> {
        let exe = self.artifacts.host(request.bits, request.process);
        let launch = self.backend.launch(&exe);
        let mut args = Vec::new();
        if request.stop_at_first_failure {
            args.push("--stop-at-first-failure".into());
        }
        if request.request {
            args.push("--request".into());
        }
        args.push("--".into());
        for filter in filters {
            args.push(self.backend.loader_path(filter)?);
        }
        let scratch = self.artifacts.machines_dir().join(self.backend.name()).join("runs");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let finished = crate::process::run_bounded(&launch, &args, request.timeout, &scratch)?;
            // The host's first line is its own "started" report; a filter can print only
            // after that. A process that ended by itself before any line never ran the host.
            let never_started = finished.status.is_some()
                && !finished.stdout.lines().any(|line| line.starts_with('{'));
            if !never_started {
                let mut run = crate::host::read_report(request, &finished)?;
                run.start_attempts = attempt;
                return Ok(run);
            }
            let said: String =
                finished.stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            if attempt < START_ATTEMPTS {
                // On stderr, for whoever watches the run; the report says it in its timeline.
                eprintln!(
                    "isapi-harness: the {} host did not start ({}); starting it again (attempt {} of {START_ATTEMPTS})",
                    request.bits,
                    if said.is_empty() { "Wine printed nothing" } else { &said },
                    attempt + 1
                );
            }
            failures.push(format!(
                "exit status {}: {}",
                finished.status.map(crate::process::describe_status).unwrap_or_default(),
                if said.is_empty() {
                    "Wine printed nothing".to_owned()
                } else {
                    format!("Wine printed `{said}`")
                }
            ));
        }
        anyhow::bail!(
            "the {} host program (`{}`) did not start in {START_ATTEMPTS} attempts: {}",
            request.bits,
            exe.display(),
            failures.join("; ")
        )
    }
}

/// How many times a host that never started is started (see [`Machine::run_host`]).
pub const START_ATTEMPTS: u32 = 3;
