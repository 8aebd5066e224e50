//! The harness's own reads and writes on the machine's disk, which never follow a link.
//!
//! Why: processes of the machine write on the same disk while the harness places the next
//! scenario's files, and a filter may leave a link (`C:\Filters` to `/etc`) or swap a folder
//! for one between a check and an open. So every path is resolved from a descriptor of the
//! disk's root with `openat2` and `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS`: no component may be a link or lead above the root, checked by the
//! kernel in the same call that opens, so there is nothing to race. Files are created with
//! `O_EXCL` (never over anything), folders with `mkdirat` and then opened the same way. The
//! only links the harness follows are its own: none (the drive links it makes in `dosdevices`
//! are for Wine; the harness reaches a drive's folder directly).
//!
//! Elsewhere than Linux (the Windows backend's sandbox folder, written by no one else while
//! the harness runs) the same operations are plain path operations.

use std::path::{Path, PathBuf};

/// A file opened on the disk, and a path that names exactly that file for readers that take
/// a path (`/proc/self/fd/N` on Linux), valid while this lives.
#[derive(Debug)]
pub struct Opened {
    _file: std::fs::File,
    pub path: PathBuf,
}

/// The machine's disk: a folder, held open.
#[derive(Debug)]
pub struct DiskRoot {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
    /// The folder, for messages (on Linux, as the sandbox sees it).
    shown: PathBuf,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code, reason = "the sandbox is Linux's"))]
    /// Who owns what the harness creates here: the sandbox's user, so that its programs may
    /// write beside a placed file as they could on the server.
    owner: Option<(u32, u32)>,
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::Path;

    pub const RESOLVE: u64 =
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

    pub fn c(path: &Path) -> std::io::Result<CString> {
        CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    }

    /// openat2 with the given resolution rules; `path` relative to `dir`.
    pub fn openat2(
        dir: &OwnedFd,
        path: &Path,
        flags: libc::c_int,
        mode: libc::mode_t,
        resolve: u64,
    ) -> std::io::Result<OwnedFd> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let name = c(path)?;
        // SAFETY: open_how is plain integers; zero is its "nothing asked" value.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        how.mode = u64::from(mode);
        how.resolve = resolve;
        // SAFETY: the kernel reads the NUL-terminated path and the struct, both alive here.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                name.as_ptr(),
                &raw const how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a descriptor the kernel just returned, owned by no one else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
    }

    pub fn check(result: libc::c_int) -> std::io::Result<()> {
        if result < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }
}

impl DiskRoot {
    /// Opens the folder `path`: as the sandbox sees it when `sandbox_root` is the sandbox's
    /// root (`/proc/<pid>/root`), every component resolved inside that root and none a link.
    pub fn open(
        sandbox_root: Option<&Path>,
        path: &Path,
        owner: Option<(u32, u32)>,
    ) -> anyhow::Result<DiskRoot> {
        #[cfg(target_os = "linux")]
        {
            use anyhow::Context;
            let (start, relative) = match sandbox_root {
                Some(root) => (root.to_owned(), path.strip_prefix("/").unwrap_or(path)),
                None => (PathBuf::from("/"), path.strip_prefix("/").unwrap_or(path)),
            };
            // The start is the harness's own (`/`, or the sandbox's root by its magic link,
            // which only the harness can name); from there no link is followed.
            let start_fd: std::os::fd::OwnedFd = std::fs::File::open(&start)
                .with_context(|| format!("cannot open `{}`", start.display()))?
                .into();
            let resolve = if sandbox_root.is_some() {
                libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS
            } else {
                libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS
            };
            let flags = libc::O_PATH | libc::O_DIRECTORY;
            let fd = sys::openat2(&start_fd, relative, flags, 0, resolve).with_context(|| {
                format!(
                    "cannot open the machine's disk `{}` without following a link",
                    path.display()
                )
            })?;
            Ok(DiskRoot { fd, shown: path.to_owned(), owner })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = sandbox_root;
            Ok(DiskRoot { shown: path.to_owned(), owner })
        }
    }

    /// The disk's folder, as the sandbox sees it, for messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// `relative` under the disk's folder, for messages.
    pub fn show(&self, relative: &Path) -> PathBuf {
        self.shown.join(relative)
    }

    /// The entry of folder `dir` named `name` ignoring case (the exact name first), as Windows
    /// finds files; None when there is none.
    pub fn find_ignoring_case(&self, dir: &Path, name: &str) -> Option<PathBuf> {
        if self.kind(&dir.join(name)).is_some() {
            return Some(dir.join(name));
        }
        let wanted = name.to_lowercase();
        // Wine makes its folders in lower case (`windows`, `system32`) and configurations
        // spell them `WINDOWS` or `System32`: one more look spares reading the folder, the
        // costliest step of laying out a scenario.
        if wanted != name && self.kind(&dir.join(&wanted)).is_some() {
            return Some(dir.join(wanted));
        }
        self.names(dir)?
            .into_iter()
            .find(|entry| entry.to_lowercase() == wanted)
            .map(|entry| dir.join(entry))
    }

    /// The names in folder `dir`.
    fn names(&self, dir: &Path) -> Option<Vec<String>> {
        #[cfg(target_os = "linux")]
        {
            let fd =
                sys::openat2(&self.fd, dir, libc::O_RDONLY | libc::O_DIRECTORY, 0, sys::RESOLVE)
                    .ok()?;
            use std::os::fd::AsRawFd;
            // Listing through the descriptor's own name lists that very folder.
            let listing = std::fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
            Some(
                listing
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect(),
            )
        }
        #[cfg(not(target_os = "linux"))]
        {
            let listing = std::fs::read_dir(self.shown.join(dir)).ok()?;
            Some(
                listing
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect(),
            )
        }
    }

    /// What is at `relative`, without following a link: None when nothing (or the way there
    /// holds a link).
    pub fn kind(&self, relative: &Path) -> Option<Kind> {
        #[cfg(target_os = "linux")]
        {
            let (parent, name) = split(relative)?;
            let dir =
                sys::openat2(&self.fd, parent, libc::O_PATH | libc::O_DIRECTORY, 0, sys::RESOLVE)
                    .ok()?;
            let name = sys::c(Path::new(name)).ok()?;
            // SAFETY: fstatat fills the local struct.
            let mut stat: libc::stat = unsafe { std::mem::zeroed() };
            use std::os::fd::AsRawFd;
            let result = unsafe {
                libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut stat, libc::AT_SYMLINK_NOFOLLOW)
            };
            let kind = match stat.st_mode & libc::S_IFMT {
                libc::S_IFREG => Kind::File,
                libc::S_IFDIR => Kind::Folder,
                _ => Kind::Other,
            };
            (result == 0).then_some(kind)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let meta = std::fs::symlink_metadata(self.shown.join(relative)).ok()?;
            Some(if meta.is_file() {
                Kind::File
            } else if meta.is_dir() {
                Kind::Folder
            } else {
                Kind::Other
            })
        }
    }

    /// Opens the plain file at `relative` for reading.
    pub fn open_file(&self, relative: &Path) -> Option<Opened> {
        if self.kind(relative) != Some(Kind::File) {
            return None;
        }
        #[cfg(target_os = "linux")]
        {
            let fd = sys::openat2(&self.fd, relative, libc::O_RDONLY, 0, sys::RESOLVE).ok()?;
            use std::os::fd::AsRawFd;
            let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            Some(Opened { _file: fd.into(), path })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let path = self.shown.join(relative);
            Some(Opened { _file: std::fs::File::open(&path).ok()?, path })
        }
    }

    /// Makes the folder `relative/name` (its parent exists), owned by the sandbox's user.
    pub fn create_folder(&self, relative: &Path) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (parent, name) = split(relative).ok_or(std::io::ErrorKind::InvalidInput)?;
            let dir =
                sys::openat2(&self.fd, parent, libc::O_PATH | libc::O_DIRECTORY, 0, sys::RESOLVE)?;
            let name = sys::c(Path::new(name))?;
            // SAFETY: mkdirat on a NUL-terminated name.
            sys::check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) })?;
            let made = sys::openat2(
                &self.fd,
                relative,
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
                sys::RESOLVE,
            )?;
            self.give(&made)
        }
        #[cfg(not(target_os = "linux"))]
        std::fs::create_dir(self.shown.join(relative))
    }

    /// Creates the file `relative`, which must not exist (nor be a link), for writing.
    pub fn create_new_file(&self, relative: &Path) -> std::io::Result<std::fs::File> {
        #[cfg(target_os = "linux")]
        {
            let fd = sys::openat2(
                &self.fd,
                relative,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                0o644,
                sys::RESOLVE,
            )?;
            self.give(&fd)?;
            Ok(fd.into())
        }
        #[cfg(not(target_os = "linux"))]
        std::fs::OpenOptions::new().write(true).create_new(true).open(self.shown.join(relative))
    }

    #[cfg(target_os = "linux")]
    fn give(&self, fd: &std::os::fd::OwnedFd) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        if let Some((uid, gid)) = self.owner {
            // SAFETY: fchown on an open descriptor.
            sys::check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })?;
        }
        Ok(())
    }

    /// Removes the plain file at `relative`; a link, a folder or anything else stays.
    pub fn remove_file(&self, relative: &Path) -> bool {
        self.kind(relative) == Some(Kind::File) && self.unlink(relative, false)
    }

    /// Removes the folder at `relative` if it is empty and a real folder.
    pub fn remove_empty_folder(&self, relative: &Path) -> bool {
        self.kind(relative) == Some(Kind::Folder) && self.unlink(relative, true)
    }

    fn unlink(&self, relative: &Path, folder: bool) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let Some((parent, name)) = split(relative) else { return false };
            let Ok(dir) =
                sys::openat2(&self.fd, parent, libc::O_PATH | libc::O_DIRECTORY, 0, sys::RESOLVE)
            else {
                return false;
            };
            let Ok(name) = sys::c(Path::new(name)) else { return false };
            let flags = if folder { libc::AT_REMOVEDIR } else { 0 };
            // SAFETY: unlinkat on a NUL-terminated name; it never follows the last component.
            unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) == 0 }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let path = self.shown.join(relative);
            if folder {
                std::fs::remove_dir(path).is_ok()
            } else {
                std::fs::remove_file(path).is_ok()
            }
        }
    }

    /// What the link at `relative` points to, if it is a link.
    pub fn read_link(&self, relative: &Path) -> Option<PathBuf> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            use std::os::unix::ffi::OsStringExt;
            let (parent, name) = split(relative)?;
            let dir =
                sys::openat2(&self.fd, parent, libc::O_PATH | libc::O_DIRECTORY, 0, sys::RESOLVE)
                    .ok()?;
            let name = sys::c(Path::new(name)).ok()?;
            let mut buffer = vec![0u8; 4096];
            // SAFETY: readlinkat writes at most the buffer's length.
            let length = unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    name.as_ptr(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            let length = usize::try_from(length).ok()?;
            buffer.truncate(length);
            Some(PathBuf::from(std::ffi::OsString::from_vec(buffer)))
        }
        #[cfg(not(target_os = "linux"))]
        std::fs::read_link(self.shown.join(relative)).ok()
    }

    /// Makes `relative` a link to `target` (a path as the sandbox sees it).
    pub fn symlink(&self, target: &Path, relative: &Path) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (parent, name) = split(relative).ok_or(std::io::ErrorKind::InvalidInput)?;
            let dir =
                sys::openat2(&self.fd, parent, libc::O_PATH | libc::O_DIRECTORY, 0, sys::RESOLVE)?;
            let (name, target) = (sys::c(Path::new(name))?, sys::c(target)?);
            // SAFETY: symlinkat on NUL-terminated strings.
            sys::check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (target, relative);
            Err(std::io::ErrorKind::Unsupported.into())
        }
    }

    /// The free space of the file system the disk is on (for the sandbox, the run's tmpfs).
    pub fn free_bytes(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: fstatvfs fills the local struct.
            let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
            let result = unsafe { libc::fstatvfs(self.fd.as_raw_fd(), &mut stat) };
            (result == 0).then(|| stat.f_bavail.saturating_mul(stat.f_frsize))
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Removes the entry at `relative` whatever it is, unless it is a folder.
    pub fn remove_entry(&self, relative: &Path) -> bool {
        self.unlink(relative, false)
    }
}

/// What is at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    /// A link, a device, a socket...
    Other,
}

/// A relative path's folder and last name.
#[cfg(target_os = "linux")]
fn split(relative: &Path) -> Option<(&Path, &str)> {
    let name = relative.file_name()?.to_str()?;
    Some((relative.parent().unwrap_or(Path::new("")), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `found` is the entry `expected`: by name on Linux, ignoring case where the
    /// disk itself does (Windows, where the exact spelling asked for already opens).
    fn is_entry(found: Option<PathBuf>, expected: &Path) -> bool {
        let spelled = |path: &Path| {
            let text = path.to_string_lossy().into_owned();
            if cfg!(windows) { text.to_lowercase() } else { text }
        };
        found.is_some_and(|found| spelled(&found) == spelled(expected))
    }

    #[test]
    fn names_are_found_whatever_their_case() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir_all(dir.path().join("windows/system32")).expect("folders");
        std::fs::create_dir_all(dir.path().join("windows/Microsoft.NET")).expect("folders");
        let disk = DiskRoot::open(None, dir.path(), None).expect("the disk opens");
        let windows = Path::new("windows");
        // Exactly as on the disk; in upper case where the disk has lower case; mixed case
        // that only a reading of the folder finds.
        assert!(is_entry(disk.find_ignoring_case(Path::new(""), "windows"), windows));
        assert!(is_entry(disk.find_ignoring_case(Path::new(""), "WINDOWS"), windows));
        assert!(is_entry(disk.find_ignoring_case(windows, "System32"), &windows.join("system32")));
        assert!(is_entry(
            disk.find_ignoring_case(windows, "MICROSOFT.net"),
            &windows.join("Microsoft.NET")
        ));
        assert_eq!(disk.find_ignoring_case(windows, "SysWOW64"), None);
    }
}
