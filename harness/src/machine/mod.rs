//! The simulated Windows machine: a real loader (Wine or Windows), its disks, and the host
//! processes started on it.
//!
//! One [`Machine`] serves a whole run: one Wine prefix and one wineserver, however many
//! scenarios and host processes the run needs. It is `Sync`, so scenarios run in parallel
//! threads against it.

mod backend;
mod disk;

use std::fs::File;

pub use crate::winpath::WinPath;
pub use backend::BackendChoice;
pub use disk::{Content, Layout, LayoutGuard};

use crate::artifacts::Artifacts;
use crate::host::{HostPlan, HostRun, ReportError};

pub struct Machine {
    artifacts: Artifacts,
    // Field order matters: the backend (which stops the wineserver) drops before the lock.
    backend: backend::Backend,
    disk: disk::Disk,
    _lock: File,
}

impl Machine {
    pub fn open(choice: BackendChoice) -> anyhow::Result<Machine> {
        let artifacts = Artifacts::locate()?;
        let (backend, lock) = backend::Backend::open(choice, &artifacts.machines_dir())?;
        let disk = disk::Disk::open(&artifacts.machines_dir().join(backend.name()))?;
        Ok(Machine { artifacts, backend, disk, _lock: lock })
    }

    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    pub fn backend(&self) -> crate::vocab::BackendKind {
        self.backend.kind()
    }

    /// Puts a scenario's files in place for as long as the guard lives.
    pub fn acquire(&self, layout: &Layout) -> anyhow::Result<LayoutGuard<'_>> {
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

    /// Whether the hosts of this machine run inside the sandbox.
    pub fn sandboxed(&self) -> bool {
        false
    }

    /// Starts one host process with `plan` and reads what it reports. The plan's paths are
    /// Windows paths of this machine; the caller holds a layout guard that covers them.
    pub fn run_host(&self, plan: &HostPlan) -> anyhow::Result<HostRun> {
        let exe = self.artifacts.host(plan.bits, plan.process);
        let launch = self.backend.launch(&exe);
        let probes = plan
            .probes
            .iter()
            .map(|path| self.backend.loader_path(path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let images = plan
            .images
            .iter()
            .map(|image| self.backend.loader_path(&image.path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let args = crate::host::arguments(plan, &probes, &images);
        let scratch = self.artifacts.machines_dir().join(self.backend.name()).join("runs");
        let finished = crate::process::run_bounded(&launch, &args, plan.timeout, &scratch)?;
        crate::host::read_report(plan, &images, &finished).map_err(|error| match error {
            ReportError::NotStarted { .. } => anyhow::anyhow!(
                "the {} host program did not start: {error}; run `cargo xtask setup` and `cargo xtask build`",
                plan.bits
            ),
            ReportError::Inconsistent(_) => anyhow::anyhow!("{} {}: {error}", plan.bits, plan.process),
        })
    }
}
