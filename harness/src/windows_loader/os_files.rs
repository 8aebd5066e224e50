//! The target's System32 on the windows backend: the running Windows's own.
//!
//! There the hosts run on a real Windows, whose loader looks for an image's dependencies in the
//! real system folders, not in the machine's sandbox folder. So the resolver sees the real
//! System32 and SysWOW64 as the target's: every file there is present, by name, and not
//! walked (its exports are this Windows's, not the target's, as a Wine builtin's are Wine's),
//! except that a file of a family the profile lacks (a VC++ runtime, the UCRT on Server 2003)
//! counts as absent, as Wine's builtin copy does on the Wine backend. The names are listed once
//! by the machine (the only I/O); what they mean is decided here.

use std::collections::HashSet;
use std::sync::Arc;

use super::{DiskFile, TargetDisk};
use crate::pe::{ImageInfo, Linkage, Machine};
use crate::winpath::WinPath;

/// The names in the running Windows's system folders, lower case.
#[derive(Debug, Clone, Default)]
pub struct OsFiles {
    /// `%SystemRoot%\System32` as a native process sees it.
    pub system32: HashSet<String>,
    /// `%SystemRoot%\SysWOW64`; None on a 32-bit Windows, which has none.
    pub syswow64: Option<HashSet<String>>,
}

impl OsFiles {
    /// From the names listed in each folder (any case).
    pub fn new(
        system32: impl IntoIterator<Item = String>,
        syswow64: Option<impl IntoIterator<Item = String>>,
    ) -> OsFiles {
        let lower = |names: &mut dyn Iterator<Item = String>| {
            names.map(|name| name.to_ascii_lowercase()).collect::<HashSet<_>>()
        };
        OsFiles {
            system32: lower(&mut system32.into_iter()),
            syswow64: syswow64.map(|names| lower(&mut names.into_iter())),
        }
    }

    /// The system file at `path`, if `path` is a file directly in `C:\Windows\System32` or
    /// `C:\Windows\SysWOW64` and this Windows has one of that name there. Its machine is its
    /// folder's: System32 is 64-bit on a 64-bit Windows, SysWOW64 32-bit.
    pub fn file(&self, path: &WinPath) -> Option<Arc<DiskFile>> {
        let components = path.components();
        let [windows, folder, name] = components else { return None };
        if path.drive() != 'C' || !windows.eq_ignore_ascii_case("windows") {
            return None;
        }
        let name = name.to_ascii_lowercase();
        let machine = if folder.eq_ignore_ascii_case("system32") {
            self.system32.contains(&name).then_some(if self.syswow64.is_some() {
                Machine::Amd64
            } else {
                Machine::X86
            })
        } else if folder.eq_ignore_ascii_case("syswow64") {
            self.syswow64.as_ref()?.contains(&name).then_some(Machine::X86)
        } else {
            None
        }?;
        Some(Arc::new(DiskFile {
            path: path.clone(),
            info: ImageInfo::unread_dll(machine),
            linkage: Linkage::default(),
            os_own: true,
        }))
    }
}

/// The target's disk on the windows backend: the machine's own files (the scenario's images in
/// the sandbox folder) first, then the running Windows's system files.
pub struct OnThisWindows<'a> {
    pub machine: &'a dyn TargetDisk,
    pub os: &'a OsFiles,
}

impl TargetDisk for OnThisWindows<'_> {
    fn file(&self, path: &WinPath) -> Option<Arc<DiskFile>> {
        self.machine.file(path).or_else(|| self.os.file(path))
    }
}
