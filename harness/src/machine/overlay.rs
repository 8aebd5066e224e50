//! The sandboxed machine's disk: a base built once and never written by a run, and for each
//! run an overlay whose changes live on a size-capped tmpfs that goes with the run.
//!
//! Why an overlay: a loaded DLL may write anywhere the machine lets it (over a system DLL of
//! the prefix, into `system.reg`), and whatever it leaves must not reach a later run. A copy
//! of the prefix per run would cost its 1.3 GB; the kernel's overlayfs shows the base with the
//! run's changes on top at no cost, and the changes are discarded with the tmpfs that holds
//! them. Debian 12's bubblewrap (0.8) has no overlay options, so the harness mounts it itself.
//!
//! Where: in a mount namespace of its own, made between fork and exec in the process that
//! becomes bwrap ([`DiskMounts`] is that step). Nothing is mounted in the machine's own mount
//! table, so a run killed with SIGKILL leaves no mount behind: the namespace, its tmpfs and
//! every change on it end with the sandbox's last process. When the harness runs as root the
//! namespace is the only one made; otherwise a user namespace is made first, as the kernel
//! lets an unprivileged user mount tmpfs and overlayfs only there.
//!
//! The base (`base/disk`: the prefix and the other drives' folders) belongs to the sandbox's
//! user, because the overlay checks a write against the lower file's owner and Wine refuses
//! a prefix its user does not own. When the harness runs as root, `base/` itself is root's with
//! mode 0700, so no process of that user outside a sandbox can reach the base, and inside one
//! only the overlay shows it. Before each use the base's tree is checked against the digest
//! written when it was built (every entry's name, kind, size, mode, owner and modification
//! time): a base that does not match, or was never finished, is rebuilt, never used.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The folders of the sandboxed machine's disk, under the machine's folder.
#[derive(Debug, Clone)]
pub struct Layers {
    /// `base/`: root's, mode 0700, when the harness runs as root.
    pub base: PathBuf,
    /// `base/disk`: the prefix and the drives as built; the overlay's lower layer.
    pub base_disk: PathBuf,
    /// `live/`: the mount point of the run's tmpfs, which holds the overlay's upper and work
    /// folders, the sandbox's `/tmp` and, at `live/disk`, the merged disk the run sees.
    pub live: PathBuf,
}

/// The marker a finished base carries: its tree's digest.
const READY: &str = "ready";

impl Layers {
    pub fn new(machine_dir: &Path) -> Layers {
        let base = machine_dir.join("base");
        Layers { base_disk: base.join("disk"), base, live: machine_dir.join("live") }
    }

    /// The merged disk as the sandbox sees it (the same path inside and, in the sandbox's
    /// mount namespace, outside).
    pub fn disk(&self) -> PathBuf {
        self.live.join("disk")
    }

    /// The folder that is `/tmp` inside the sandbox, on the run's tmpfs.
    pub fn tmp(&self) -> PathBuf {
        self.live.join("tmp")
    }

    /// Whether the base was finished and is as it was then.
    pub fn base_is_sound(&self) -> bool {
        let Ok(recorded) = std::fs::read_to_string(self.base.join(READY)) else { return false };
        let sealed = sealed_as_expected(&self.base);
        sealed && digest(&self.base_disk).is_ok_and(|now| recorded.trim() == format!("{now:016x}"))
    }

    /// Removes whatever base there is and makes an empty one for `owner` to build.
    pub fn make_empty_base(&self, owner: Option<(u32, u32)>) -> anyhow::Result<()> {
        if self.base.exists() {
            std::fs::remove_dir_all(&self.base).with_context(|| {
                format!("cannot remove the damaged or unfinished base `{}`", self.base.display())
            })?;
        }
        std::fs::create_dir_all(&self.base_disk)
            .with_context(|| format!("cannot create `{}`", self.base_disk.display()))?;
        std::fs::create_dir_all(&self.live)
            .with_context(|| format!("cannot create `{}`", self.live.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.base, std::fs::Permissions::from_mode(0o700))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&self.base_disk, Some(uid), Some(gid)).with_context(
                    || format!("cannot give `{}` to the sandbox's user", self.base_disk.display()),
                )?;
            }
        }
        #[cfg(not(unix))]
        let _ = owner;
        Ok(())
    }

    /// Records the finished base's digest; from now on a run may use it.
    pub fn seal(&self) -> anyhow::Result<()> {
        let sum = digest(&self.base_disk)
            .with_context(|| format!("cannot read the base `{}`", self.base_disk.display()))?;
        std::fs::write(self.base.join(READY), format!("{sum:016x}\n"))
            .with_context(|| format!("cannot write `{}`", self.base.join(READY).display()))
    }
}

/// Whether `base` is a real folder, and root's with mode 0700 when the harness is root.
fn sealed_as_expected(base: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(base) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let root = super::running_as_root();
        meta.is_dir() && (!root || (meta.uid() == 0 && meta.mode() & 0o777 == 0o700))
    }
    #[cfg(not(unix))]
    meta.is_dir()
}

/// FNV-1a over the tree's entries in name order: every entry's path, kind, size, mode, owner
/// and modification time. Links are read, never followed.
fn digest(root: &Path) -> std::io::Result<u64> {
    let mut sum: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            sum ^= u64::from(byte);
            sum = sum.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(&relative))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = relative.join(entry.file_name());
            let meta = entry.metadata()?;
            eat(path.as_os_str().as_encoded_bytes());
            eat(&[0]);
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                for value in [meta.mode().into(), meta.uid().into(), meta.size()] {
                    eat(&u64::to_le_bytes(value));
                }
                eat(&meta.mtime().to_le_bytes());
                eat(&meta.mtime_nsec().to_le_bytes());
            }
            #[cfg(not(unix))]
            eat(&meta.len().to_le_bytes());
            if meta.file_type().is_symlink() {
                eat(std::fs::read_link(root.join(&path))?.as_os_str().as_encoded_bytes());
            } else if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(sum)
}

/// How the disk is mounted for one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The base itself, writable: only while it is being built.
    Build,
    /// The base under the run's changes, which go to a tmpfs of at most `disk_limit` bytes
    /// (None: no limit).
    Run { disk_limit: Option<u64> },
}

/// The mounts of one sandbox's disk, made in the child that becomes bwrap (see the module's
/// comment), with every path and option prepared before the fork.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code, reason = "the sandbox is Linux's"))]
pub struct DiskMounts {
    /// When the harness is not root: the user and group maps of the user namespace.
    user_maps: Option<(CString, CString)>,
    owner: Option<(u32, u32)>,
    live: CString,
    /// Folders made on the tmpfs: upper, work, tmp, disk.
    upper: CString,
    work: CString,
    tmp: CString,
    disk: CString,
    tmpfs_options: CString,
    /// The overlay's options, or (in build mode) the base to bind.
    overlay_options: Option<CString>,
    base_disk: CString,
}

fn c_path(path: &Path) -> anyhow::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .with_context(|| format!("the path `{}` holds a NUL byte", path.display()))
}

impl DiskMounts {
    /// `owner`: the sandbox's user, when the harness is root (who then mounts in its own
    /// user namespace); None when the harness is that user itself.
    pub fn new(layers: &Layers, mode: Mode, owner: Option<(u32, u32)>) -> anyhow::Result<Self> {
        let live = &layers.live;
        let user_maps = match owner {
            Some(_) => None,
            None => {
                #[cfg(unix)]
                {
                    // SAFETY: getuid and getgid cannot fail.
                    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
                    Some((
                        CString::new(format!("{uid} {uid} 1\n"))?,
                        CString::new(format!("{gid} {gid} 1\n"))?,
                    ))
                }
                #[cfg(not(unix))]
                None
            }
        };
        let mut tmpfs_options = String::from("mode=0755");
        if let Some((uid, gid)) = owner {
            tmpfs_options.push_str(&format!(",uid={uid},gid={gid}"));
        }
        let overlay_options = match mode {
            Mode::Build => None,
            Mode::Run { disk_limit } => {
                // size=0 is tmpfs's own word for no limit.
                tmpfs_options.push_str(&format!(",size={}", disk_limit.unwrap_or(0)));
                let mut options = format!(
                    "lowerdir={},upperdir={},workdir={}",
                    escape_option(&layers.base_disk)?,
                    escape_option(&live.join("upper"))?,
                    escape_option(&live.join("work"))?,
                );
                // In a user namespace the overlay keeps its own records in user.* attributes.
                if user_maps.is_some() {
                    options.push_str(",userxattr");
                }
                Some(CString::new(options)?)
            }
        };
        Ok(DiskMounts {
            user_maps,
            owner,
            live: c_path(live)?,
            upper: c_path(&live.join("upper"))?,
            work: c_path(&live.join("work"))?,
            tmp: c_path(&layers.tmp())?,
            disk: c_path(&layers.disk())?,
            tmpfs_options: CString::new(tmpfs_options)?,
            overlay_options,
            base_disk: c_path(&layers.base_disk)?,
        })
    }

    /// Makes the mounts. Runs between fork and exec: system calls only, on prepared memory.
    #[cfg(target_os = "linux")]
    pub fn mount(&self) -> std::io::Result<()> {
        use libc::{MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC, MS_REMOUNT};
        let check = |result: libc::c_int| {
            if result < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
        };
        let none = c"none".as_ptr();
        // SAFETY: system calls on NUL-terminated strings that live as long as `self`.
        unsafe {
            match &self.user_maps {
                Some((uid_map, gid_map)) => {
                    check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS))?;
                    write_file(c"/proc/self/setgroups", b"deny")?;
                    write_file(c"/proc/self/uid_map", uid_map.as_bytes())?;
                    write_file(c"/proc/self/gid_map", gid_map.as_bytes())?;
                }
                None => check(libc::unshare(libc::CLONE_NEWNS))?,
            }
            // Nothing mounted here reaches the machine's mount table, nor the other way.
            check(libc::mount(
                none,
                c"/".as_ptr(),
                std::ptr::null(),
                MS_REC | MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                none,
                self.live.as_ptr(),
                c"tmpfs".as_ptr(),
                MS_NOSUID | MS_NODEV,
                self.tmpfs_options.as_ptr().cast(),
            ))?;
            for folder in [&self.upper, &self.work, &self.tmp, &self.disk] {
                check(libc::mkdir(folder.as_ptr(), 0o755))?;
                if let Some((uid, gid)) = self.owner {
                    check(libc::chown(folder.as_ptr(), uid, gid))?;
                }
            }
            check(libc::chmod(self.tmp.as_ptr(), 0o700))?;
            match &self.overlay_options {
                Some(options) => check(libc::mount(
                    c"overlay".as_ptr(),
                    self.disk.as_ptr(),
                    c"overlay".as_ptr(),
                    MS_NOSUID | MS_NODEV,
                    options.as_ptr().cast(),
                ))?,
                None => {
                    check(libc::mount(
                        self.base_disk.as_ptr(),
                        self.disk.as_ptr(),
                        std::ptr::null(),
                        MS_BIND,
                        std::ptr::null(),
                    ))?;
                    check(libc::mount(
                        none,
                        self.disk.as_ptr(),
                        std::ptr::null(),
                        MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV,
                        std::ptr::null(),
                    ))?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to the file at `path` in one call. Runs between fork and exec.
#[cfg(target_os = "linux")]
unsafe fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> std::io::Result<()> {
    // SAFETY: the caller's; open, write and close on a NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        if written < 0 { Err(error) } else { Ok(()) }
    }
}

/// A path as an overlay option: the kernel splits options at commas and lower layers at
/// colons, so a path holding either cannot be given (and a backslash escapes).
fn escape_option(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("the machine's folder `{}` is not UTF-8", path.display()))?;
    if text.contains([',', ':', '\\']) {
        anyhow::bail!(
            "the machine's folder `{text}` holds a comma, colon or backslash, which the kernel's overlay options cannot carry; use --machine-dir with a plainer path"
        );
    }
    Ok(text.to_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_base_is_sound_only_as_sealed() {
        let machine = tempfile::tempdir().unwrap();
        let layers = Layers::new(machine.path());
        assert!(!layers.base_is_sound(), "no base yet");
        layers.make_empty_base(None).unwrap();
        std::fs::create_dir_all(layers.base_disk.join("prefix/drive_c")).unwrap();
        std::fs::write(layers.base_disk.join("prefix/system.reg"), "WINE REGISTRY").unwrap();
        assert!(!layers.base_is_sound(), "an unfinished base is never used");
        layers.seal().unwrap();
        assert!(layers.base_is_sound());
        // A change of content (and so of size), a new file, or a link: each is damage.
        std::fs::write(layers.base_disk.join("prefix/system.reg"), "garbage, longer").unwrap();
        assert!(!layers.base_is_sound(), "a changed file is damage");
        layers.seal().unwrap();
        std::os::unix::fs::symlink("/", layers.base_disk.join("prefix/drive_c/z")).unwrap();
        assert!(!layers.base_is_sound(), "a new link is damage");
        layers.make_empty_base(None).unwrap();
        assert!(!layers.base_is_sound(), "an emptied base is unfinished again");
    }
}
