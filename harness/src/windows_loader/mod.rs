//! Windows's loader, as rules: which files an image's static imports bind to on the target
//! Windows, and what `LoadLibraryExW(path, LOAD_WITH_ALTERED_SEARCH_PATH)` answers when one of
//! them cannot be bound.
//!
//! Wine 8 answers as Windows does for the image a host loads directly, and differently for
//! its dependencies (`windows-loader-vs-wine.md`: stubs for missing imports, every dependency
//! failure flattened to 126, builtin C runtimes a bare server lacks). The hosts still load
//! every image for real; this module reads the same files on the simulated disk and says what
//! Windows would answer, so that where the two are known to differ ([`divergence`]) the run can
//! give Windows's answer, say so, and keep Wine's beside it. It is pure: the disk is a trait,
//! and the unit tests run in milliseconds.
//!
//! The rules, with their sources (rows of the sheet above):
//! - Dependencies are searched for by name, even when the image was loaded by path; with
//!   LOAD_WITH_ALTERED_SEARCH_PATH the loaded image's folder takes the application folder's
//!   place (Microsoft Learn, "Dynamic-link library search order", and `LoadLibraryEx`). The
//!   folders, in order: that folder, the process's system folder (SysWOW64 for a 32-bit
//!   process on x64), the 16-bit system folder, the Windows folder, then PATH.
//! - A candidate of the other machine type is skipped and remembered: 193 when nothing else is
//!   found (`kernel32/tests/loader.c` 676-703). A file that is no image stops the search with
//!   193 on Windows 7 and later and is passed over on Server 2003 and 2008 (704-724).
//! - A name the dependency does not export is 127, an ordinal 182 (`ntdll/tests/error.c`);
//!   forwarders are followed to their target DLL and function.
//! - A manifest dependency the server's WinSxS lacks is 14001 (`kernel32/tests/actctx.c`).
//! - Delay-loaded imports are not resolved at load time (Visual C++ docs).
//! - A dependency's own failure is the caller's answer (Raymond Chen, 2013).
//!
//! Stated limits: KnownDLLs, publisher policy and API sets other than the CRT's are not
//! modelled; one of Wine's own DLLs counts as present with whatever it imports (its exports are
//! Wine's, not Windows's, so no missing-import rule is applied to it); a DllMain's answer is
//! not known from the files (Wine answers 1114 as Windows does).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::arch::{Bits, Os};
use crate::pe::{ImageInfo, ImportedFunction, Linkage, Machine};
use crate::vocab::Win32Error;
use crate::winpath::WinPath;

pub mod divergence;
pub mod os_files;
pub mod profile;
#[cfg(test)]
mod tests;

pub use divergence::{Reconciled, Rule, WineAnswer, reconcile};
pub use os_files::{OnThisWindows, OsFiles};
pub use profile::{Lack, Profile, Redistributable, WindowsVersion};

/// One file on the target's disk, read once.
#[derive(Debug, Clone)]
pub struct DiskFile {
    /// The Windows path it was found at.
    pub path: WinPath,
    pub info: ImageInfo,
    /// Empty for a file that is no image.
    pub linkage: Linkage,
    /// One of the running Windows's own system files (the windows backend, [`os_files`]):
    /// present on the target unless the profile lacks it, its imports and exports not read.
    pub os_own: bool,
}

/// The files of the simulated machine, as Windows paths.
pub trait TargetDisk {
    /// The file at `path`, if there is one (a folder or nothing is None).
    fn file(&self, path: &WinPath) -> Option<Arc<DiskFile>>;
}

/// What became of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyOutcome {
    Loaded,
    Missing,
    WrongBitness,
    NotAnImage,
    MissingImport,
    InitFailed,
    NotInstalled,
    SideBySideMissing,
    DelayLoad,
}

impl DependencyOutcome {
    pub fn failed(self) -> bool {
        !matches!(self, DependencyOutcome::Loaded | DependencyOutcome::DelayLoad)
    }
}

/// One DLL (or side-by-side assembly) an image needs, and what Windows's loader would make of
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Dependency {
    pub name: String,
    /// The file name of the image whose import (or manifest) names it.
    pub imported_by: String,
    /// The folders searched, in order.
    pub searched: Vec<String>,
    /// The Windows path it was bound to; null when none was.
    pub found: Option<String>,
    /// The machine of the file found, or of the wrong-bitness copy passed over.
    pub machine: Option<Machine>,
    pub outcome: DependencyOutcome,
    /// The functions the importer wants and the file does not export (by name, or
    /// `ordinal N`).
    pub missing_functions: Vec<String>,
    /// One of Wine's own DLLs: present on the target, its exports not checked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wine_builtin: bool,
    /// On the target Windows, and on no disk here (`mfc42.dll`): Windows loads it; the run
    /// cannot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub windows_only: bool,
    /// Loaded to follow a forwarder, or missing a function that was forwarded: Windows's
    /// answer here is the documented status mapping, not a run on Windows.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub through_forwarder: bool,
    /// The search passed over a file of this name that is no image (Server 2003 and 2008).
    #[serde(skip)]
    pub passed_non_image: bool,
    /// Why the target lacks it, for an outcome of `not_installed`.
    #[serde(skip)]
    pub lack: Option<Lack>,
}

impl Dependency {
    pub fn new(name: &str, imported_by: &WinPath, outcome: DependencyOutcome) -> Dependency {
        Dependency {
            name: name.to_owned(),
            imported_by: file_name(imported_by),
            searched: Vec::new(),
            found: None,
            machine: None,
            outcome,
            missing_functions: Vec::new(),
            wine_builtin: false,
            windows_only: false,
            through_forwarder: false,
            passed_non_image: false,
            lack: None,
        }
    }
}

/// Windows's answer for one image: the error `LoadLibraryExW` would return, from the first
/// failing dependency in import-table order (where Windows's loader stops), or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Every dependency visited, direct and indirect, in the order the loader meets them.
    pub dependencies: Vec<Dependency>,
    /// The error and the index in `dependencies` of the dependency that caused it.
    pub refusal: Option<(Win32Error, usize)>,
}

impl Resolution {
    pub fn error(&self) -> Option<Win32Error> {
        self.refusal.map(|(error, _)| error)
    }

    pub fn culprit(&self) -> Option<&Dependency> {
        self.refusal.and_then(|(_, index)| self.dependencies.get(index))
    }

    /// Dependencies Windows loads that no disk here holds.
    pub fn windows_only(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|dependency| dependency.windows_only)
    }
}

/// Where the search happens: the target's OS and the folders its PATH adds.
#[derive(Debug, Clone)]
pub struct Search {
    pub os: Os,
    pub profile: Profile,
    /// The folders of the process's PATH, after Windows's default system PATH.
    pub extra_path: Vec<WinPath>,
}

impl Search {
    /// The folders searched for a dependency of the image at `image`, in order.
    fn folders(&self, image: &WinPath, bits: Bits) -> Vec<WinPath> {
        let windows = folder(r"C:\Windows");
        let system = match (self.os, bits) {
            (Os::X64, Bits::B32) => folder(r"C:\Windows\SysWOW64"),
            _ => folder(r"C:\Windows\System32"),
        };
        let mut folders = Vec::new();
        if let Some(own) = image.parent() {
            folders.push(own);
        }
        folders.push(system.clone());
        folders.push(folder(r"C:\Windows\System"));
        folders.push(windows.clone());
        // Windows's default system PATH; a 32-bit process's `system32` is WOW64's SysWOW64.
        folders.push(system.clone());
        folders.push(windows);
        folders.push(system.child("Wbem"));
        folders.extend(self.extra_path.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        folders.retain(|folder| seen.insert(folder.clone()));
        folders
    }
}

impl Search {
    /// Where the simulated disk holds a file of the target's: the machine is always a 64-bit
    /// Windows (a 64-bit Wine prefix), so an x86 server's System32, which only 32-bit
    /// processes see, is its SysWOW64.
    fn on_disk(&self, path: WinPath, bits: Bits) -> WinPath {
        let system32 = folder(r"C:\Windows\System32");
        if self.os != Os::X86 || bits != Bits::B32 {
            return path;
        }
        let components = path.components();
        let inside = components.len() > 2
            && components[..2]
                .iter()
                .zip(system32.components())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
            && path.drive() == 'C';
        if !inside {
            return path;
        }
        let rest = components[2..].join("\\");
        WinPath::parse(&format!(r"C:\Windows\SysWOW64\{rest}")).unwrap_or(path)
    }
}

fn folder(path: &str) -> WinPath {
    WinPath::parse(path).unwrap_or_else(|_| unreachable!("a constant folder path"))
}

/// Resolves the static imports of the image at `image` for a process of `bits`, as Windows's
/// loader would. The image itself is what the host loaded (its own bitness is the loader's
/// answer, not this module's); only what it needs is followed.
pub fn resolve(disk: &dyn TargetDisk, search: &Search, image: &WinPath, bits: Bits) -> Resolution {
    walk(disk, search, image, bits, false)
}

/// Every dependency the loader could reach from the image at `image`, past the first that
/// fails: what a copy of the server must carry, where [`resolve`] stops where the loader
/// stops. The refusal is still the first failure's.
pub fn closure(disk: &dyn TargetDisk, search: &Search, image: &WinPath, bits: Bits) -> Resolution {
    walk(disk, search, image, bits, true)
}

fn walk(
    disk: &dyn TargetDisk,
    search: &Search,
    image: &WinPath,
    bits: Bits,
    keep_going: bool,
) -> Resolution {
    let mut walk = Walk {
        disk,
        search,
        bits,
        keep_going,
        folders: search.folders(image, bits),
        bound: HashMap::new(),
        dependencies: Vec::new(),
        refusal: None,
    };
    // The image itself is the loader's to judge (the host's answer): a file that is no image
    // for this process has no dependencies to follow.
    if let Some(file) =
        disk.file(image).filter(|file| matches!(image_fits(&file.info, bits), Fit::Fits))
    {
        walk.check_manifest(&file);
        if !walk.stopped() {
            walk.bind_imports(&file);
        }
    }
    Resolution { dependencies: walk.dependencies, refusal: walk.refusal }
}

struct Walk<'a> {
    disk: &'a dyn TargetDisk,
    search: &'a Search,
    bits: Bits,
    /// Go on past a failure (for [`closure`]) rather than stop where the loader does.
    keep_going: bool,
    folders: Vec<WinPath>,
    /// Each DLL name the process has loaded (or failed to), lower case: a process loads a name
    /// once, and a second import of it binds to the same file.
    bound: HashMap<String, (Bound, usize)>,
    dependencies: Vec<Dependency>,
    refusal: Option<(Win32Error, usize)>,
}

#[derive(Clone)]
enum Bound {
    File(Arc<DiskFile>),
    /// Present on the target without a file to read (one of Wine's own DLLs, a system file of
    /// the running Windows, an API set, a Windows-only DLL): every import from it binds.
    Opaque,
    Failed,
}

/// What a search by name found.
enum Found {
    File(Arc<DiskFile>),
    /// Only copies of the other machine type.
    WrongBitness(Arc<DiskFile>),
    /// A file that is no image stopped the search (Windows 7 and later).
    NotAnImage(Arc<DiskFile>),
    /// A file the target lacks (a Wine builtin of a runtime that is not installed), and
    /// nothing else.
    Lacking(Lack),
    Nothing,
}

impl Walk<'_> {
    fn fail(&mut self, error: Win32Error, index: usize) {
        self.refusal.get_or_insert((error, index));
    }

    /// Whether the walk ends here: the loader stops at the first failure.
    fn stopped(&self) -> bool {
        self.refusal.is_some() && !self.keep_going
    }

    /// The image's manifest dependencies: the activation context is made before its imports
    /// are bound.
    fn check_manifest(&mut self, file: &DiskFile) {
        for assembly in &file.linkage.manifest_dependencies {
            let present = self.search.profile.has_assembly(&assembly.name, self.bits);
            let outcome = if present {
                DependencyOutcome::Loaded
            } else {
                DependencyOutcome::SideBySideMissing
            };
            let mut dependency = Dependency::new(&assembly.name, &file.path, outcome);
            dependency.searched = vec![r"C:\Windows\WinSxS".to_owned()];
            dependency.found = present.then(|| format!(r"C:\Windows\WinSxS\{}", assembly.name));
            self.dependencies.push(dependency);
            if !present {
                let index = self.dependencies.len() - 1;
                self.fail(Win32Error::SXS_CANT_GEN_ACTCTX, index);
                return;
            }
        }
    }

    fn bind_imports(&mut self, file: &Arc<DiskFile>) {
        for import in &file.linkage.imports {
            if self.stopped() {
                return;
            }
            let index = self.load(&import.name, &file.path, false);
            if self.dependencies[index].outcome.failed() {
                let error = self.error_of(index);
                self.fail(error, index);
                continue;
            }
            let missing = self.missing_functions(&import.name, &import.functions);
            if self.stopped() {
                // A forwarder's target DLL failed to load.
                return;
            }
            if let Some((first, _)) = missing.first() {
                // The loader stops at the first function it cannot bind: by ordinal that is
                // STATUS_ORDINAL_NOT_FOUND (182), by name STATUS_ENTRYPOINT_NOT_FOUND (127).
                let error = match first {
                    ImportedFunction::Ordinal(_) => Win32Error::INVALID_ORDINAL,
                    ImportedFunction::Name(_) => Win32Error::PROC_NOT_FOUND,
                };
                let dependency = &mut self.dependencies[index];
                dependency.outcome = DependencyOutcome::MissingImport;
                dependency.missing_functions =
                    missing.iter().map(|(function, _)| function.to_string()).collect();
                dependency.through_forwarder |= missing.iter().any(|(_, forwarded)| *forwarded);
                self.fail(error, index);
            }
        }
        // The loader stops at the first failure: what the image delay-loads is never reached.
        if self.stopped() {
            return;
        }
        for name in &file.linkage.delay_imports {
            self.dependencies.push(Dependency::new(name, &file.path, DependencyOutcome::DelayLoad));
        }
    }

    fn error_of(&self, index: usize) -> Win32Error {
        match self.dependencies[index].outcome {
            DependencyOutcome::WrongBitness | DependencyOutcome::NotAnImage => {
                Win32Error::BAD_EXE_FORMAT
            }
            DependencyOutcome::SideBySideMissing => Win32Error::SXS_CANT_GEN_ACTCTX,
            DependencyOutcome::InitFailed => Win32Error::DLL_INIT_FAILED,
            DependencyOutcome::MissingImport => Win32Error::PROC_NOT_FOUND,
            DependencyOutcome::Missing
            | DependencyOutcome::NotInstalled
            | DependencyOutcome::Loaded
            | DependencyOutcome::DelayLoad => Win32Error::MOD_NOT_FOUND,
        }
    }

    /// Loads the DLL `name` imported by `importer`, recording it; returns its index in
    /// `dependencies`. A process loads a name once: a second import of it gets the first
    /// record.
    fn load(&mut self, name: &str, importer: &WinPath, through_forwarder: bool) -> usize {
        let key = profile::stem(name);
        if let Some((_, index)) = self.bound.get(&key) {
            return *index;
        }
        let mut dependency = Dependency::new(name, importer, DependencyOutcome::Loaded);
        dependency.through_forwarder = through_forwarder;
        let profile = &self.search.profile;
        // API sets are no files from Windows 7 on: the schema maps them to the DLL behind.
        if profile::is_api_set(&key) && profile.windows.has_api_sets() {
            if let Some(lack) = profile.lacks(&key, self.bits) {
                dependency.outcome = DependencyOutcome::NotInstalled;
                dependency.lack = Some(lack);
            }
            return self.record(key, dependency, Bound::Opaque);
        }
        let file_name_wanted = if key.contains('.') { key.clone() } else { format!("{key}.dll") };
        let (found, trail) = self.search_folders(&file_name_wanted);
        dependency.searched = trail.searched;
        dependency.passed_non_image = trail.passed_non_image;
        let bound = match found {
            Found::File(file) => {
                dependency.found = Some(file.path.to_string());
                dependency.machine = file.info.machine;
                dependency.wine_builtin = file.linkage.wine_builtin;
                if file.linkage.wine_builtin || file.os_own {
                    Bound::Opaque
                } else {
                    Bound::File(file)
                }
            }
            Found::WrongBitness(file) => {
                dependency.outcome = DependencyOutcome::WrongBitness;
                dependency.machine = file.info.machine;
                dependency.found = Some(file.path.to_string());
                Bound::Failed
            }
            Found::NotAnImage(file) => {
                dependency.outcome = DependencyOutcome::NotAnImage;
                dependency.found = Some(file.path.to_string());
                Bound::Failed
            }
            Found::Lacking(lack) => {
                dependency.outcome = DependencyOutcome::NotInstalled;
                dependency.lack = Some(lack);
                Bound::Failed
            }
            Found::Nothing if Profile::windows_only(&key) => {
                dependency.windows_only = true;
                dependency.found = Some(format!(r"{}\{file_name_wanted}", self.system_folder()));
                Bound::Opaque
            }
            Found::Nothing => {
                dependency.outcome = match profile.lacks(&key, self.bits) {
                    Some(lack) => {
                        dependency.lack = Some(lack);
                        DependencyOutcome::NotInstalled
                    }
                    None => DependencyOutcome::Missing,
                };
                Bound::Failed
            }
        };
        let file = match &bound {
            Bound::File(file) => Some(Arc::clone(file)),
            _ => None,
        };
        let index = self.record(key, dependency, bound);
        if let Some(file) = file {
            // The dependency's own manifest and imports, before the importer binds to it.
            self.check_manifest(&file);
            // A failure down there is this dependency's, and so its importer's: the walk
            // ends with the refusal naming the one at fault.
            if !self.stopped() {
                self.bind_imports(&file);
            }
        }
        index
    }

    fn record(&mut self, key: String, dependency: Dependency, bound: Bound) -> usize {
        let index = self.dependencies.len();
        self.bound.insert(key, (bound, index));
        self.dependencies.push(dependency);
        index
    }

    fn system_folder(&self) -> String {
        match (self.search.os, self.bits) {
            (Os::X64, Bits::B32) => r"C:\Windows\SysWOW64".to_owned(),
            _ => r"C:\Windows\System32".to_owned(),
        }
    }

    /// Looks for `file_name` folder by folder.
    fn search_folders(&self, file_name: &str) -> (Found, Trail) {
        let mut searched = Vec::new();
        let mut wrong_bitness = None;
        let mut lacking = None;
        let mut passed_non_image = false;
        for folder in &self.folders {
            searched.push(folder.to_string());
            let target = folder.child(file_name);
            let Some(file) = self.disk.file(&self.search.on_disk(target.clone(), self.bits)) else {
                continue;
            };
            // Named by the server's path where the machine keeps it elsewhere (an x86
            // server's System32 is the machine's SysWOW64).
            let file = if file.path.as_str() == target.as_str() {
                file
            } else {
                Arc::new(DiskFile { path: target, ..(*file).clone() })
            };
            // Wine's copy, or the running Windows's, of something the server does not have: as
            // if absent.
            if (file.linkage.wine_builtin || file.os_own)
                && let Some(lack) = self.search.profile.lacks(file_name, self.bits)
            {
                lacking.get_or_insert(lack);
                continue;
            }
            match image_fits(&file.info, self.bits) {
                Fit::Fits => return (Found::File(file), Trail { searched, passed_non_image }),
                Fit::OtherMachine => {
                    wrong_bitness.get_or_insert(file);
                }
                Fit::NotAnImage => {
                    if self.search.profile.windows.stops_search_at_a_non_image() {
                        return (Found::NotAnImage(file), Trail { searched, passed_non_image });
                    }
                    passed_non_image = true;
                }
            }
        }
        let found = match (wrong_bitness, lacking) {
            (Some(file), _) => Found::WrongBitness(file),
            (None, Some(lack)) => Found::Lacking(lack),
            (None, None) => Found::Nothing,
        };
        (found, Trail { searched, passed_non_image })
    }

    /// The functions of `functions` that the DLL loaded for `name` does not export, following
    /// forwarders (a forwarder's target that cannot be bound counts as missing).
    /// Each comes with whether it was forwarded.
    fn missing_functions(
        &mut self,
        name: &str,
        functions: &[ImportedFunction],
    ) -> Vec<(ImportedFunction, bool)> {
        let Some((Bound::File(file), _)) = self.bound.get(&profile::stem(name)).cloned() else {
            return Vec::new();
        };
        let mut missing = Vec::new();
        for function in functions {
            let forwarded = matches!(
                file.linkage.export(function),
                Some(crate::pe::ExportedAs::Forward { .. })
            );
            if !self.exports(&file, function, 0) {
                missing.push((function.clone(), forwarded));
            }
            if self.stopped() {
                break;
            }
        }
        missing
    }

    /// Whether `file` exports `function`, following a forwarder into its target DLL (loading
    /// it by name, as the loader does).
    fn exports(&mut self, file: &Arc<DiskFile>, function: &ImportedFunction, depth: u32) -> bool {
        match file.linkage.export(function) {
            None => false,
            Some(crate::pe::ExportedAs::Code) => true,
            Some(crate::pe::ExportedAs::Forward { dll, function }) => {
                // A forwarder chain longer than any real one is a loop.
                if depth > 16 {
                    return false;
                }
                let target = dll.clone();
                let function = function.clone();
                let index = self.load(&target, &file.path, true);
                if self.dependencies[index].outcome.failed() {
                    // The forwarder's DLL did not load: that is the load's answer (126 for a
                    // missing one), not a missing function.
                    let error = self.error_of(index);
                    self.fail(error, index);
                    return true;
                }
                match self.bound.get(&profile::stem(&target)).map(|(bound, _)| bound.clone()) {
                    Some(Bound::File(target_file)) => {
                        self.exports(&target_file, &function, depth + 1)
                    }
                    Some(Bound::Opaque) => true,
                    _ => false,
                }
            }
        }
    }
}

/// The folders a search went through.
struct Trail {
    searched: Vec<String>,
    passed_non_image: bool,
}

enum Fit {
    Fits,
    OtherMachine,
    NotAnImage,
}

/// Whether a file found by name can be the process's copy of a DLL: an image of the process's
/// machine fits; a PE image of another machine is passed over; anything else is no image.
fn image_fits(info: &ImageInfo, bits: Bits) -> Fit {
    let prediction = info.predict();
    let loads = match bits {
        Bits::B32 => prediction.loads_in_32bit,
        Bits::B64 => prediction.loads_in_64bit,
    };
    if loads && info.machine.and_then(|machine| machine.bits()) == Some(bits) {
        return Fit::Fits;
    }
    match info.machine {
        Some(machine) if info.pe && info.bits.is_some() && machine.bits().is_some() => {
            Fit::OtherMachine
        }
        _ => Fit::NotAnImage,
    }
}

fn file_name(path: &WinPath) -> String {
    path.components().last().cloned().unwrap_or_default()
}
