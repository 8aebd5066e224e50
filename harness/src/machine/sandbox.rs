//! The sandbox every Wine process of a run lives in, on Linux: one bubblewrap (`bwrap`)
//! instance per run.
//!
//! Why one instance, with every other Wine process entered into it: the wineserver opens files
//! for its clients, so it must be inside; its clients find it by a socket under `/tmp`, so
//! they must see the same `/tmp`; and it signals them by their Unix process ids, so they must
//! share its PID namespace. (Separate bwrap instances with identical mounts would each have a
//! PID namespace of their own, and a shared host PID namespace would show every outside
//! process in `/proc`.) bwrap therefore starts the run's sandbox with `wineserver -f -p` (in
//! the foreground, so bwrap's child *is* the server) and every other Wine process of the run
//! (wineboot, the warm-up, each host) is entered into that sandbox's namespaces with
//! `nsenter`: the same mounts, root, user, PID namespace, network (none), IPC and host name,
//! with an environment of the sandbox's own (nothing of the harness's), in a session of its
//! own (no terminal to type into). A process entered this way starts as the sandbox's
//! unprivileged user, so it keeps no capability across its `exec`. A fresh PID namespace also
//! means a fresh `/proc`, so nothing inside can reach an outside process through
//! `/proc/PID/root`, and when the sandbox's first process dies (bwrap's `--die-with-parent`
//! kills it with the harness, `SIGKILL` included) the kernel kills every process left in the
//! namespace: hosts, Wine's services and the server.
//!
//! Inside, the only writable places are the machine's disk (the prefix and the other drives'
//! folders, an overlay over a base no run writes, see `overlay.rs`) and a private `/tmp`, both
//! on the run's size-capped tmpfs; `/usr` (with Wine), the loader's `/etc` files and the built
//! host programs are read-only; the home folder, `/etc/shadow`, the rest of `/etc`, `/home`,
//! `/root`, the real `/tmp` and the network do not exist. Every mount is nosuid and nodev.
//!
//! Who: when the harness runs as root, bwrap and every process entered into the sandbox run
//! as a real unprivileged user outside too ([`sandbox_user`], uid and gid
//! [`DEFAULT_SANDBOX_ID`]), set between fork and exec, so that the user namespace maps the
//! sandbox's user to that uid and never to root: a file a filter makes setuid is setuid to
//! that user. Each of those processes also gets `no_new_privs`, the system-call filter of
//! `seccomp.rs`, the run's limits (`limits.rs`) and an environment of the sandbox's own, bwrap
//! included (so `/proc/1/environ` inside holds nothing of the harness's).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::process::{Background, Confinement, Launch};

/// The uid and gid the sandbox runs as when the harness is root: a number of its own, outside
/// the ranges that distributions hand to people (1000-60000), to services (below 1000,
/// 65534) and to containers' mapped users (from 100000 in blocks of 65536, up to
/// systemd-nspawn's 0x6FFF0000), so that no one else's files or processes are its, and
/// `RLIMIT_NPROC` counts only sandboxes. `ISAPI_HARNESS_SANDBOX_ID` chooses another.
pub const DEFAULT_SANDBOX_ID: u32 = 0x7000_4953;

/// The unprivileged (uid, gid) every process of the sandbox runs as, when the harness runs as
/// root; None when the harness is an unprivileged user itself (the sandbox is then that
/// user's).
pub fn sandbox_user() -> anyhow::Result<Option<(u32, u32)>> {
    if !super::running_as_root() {
        return Ok(None);
    }
    let id = match std::env::var("ISAPI_HARNESS_SANDBOX_ID") {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(id) if id != 0 && id != u32::MAX => id,
            _ => anyhow::bail!(
                "ISAPI_HARNESS_SANDBOX_ID is `{text}`: it must be an unprivileged uid (a number other than 0)"
            ),
        },
        Err(_) => DEFAULT_SANDBOX_ID,
    };
    Ok(Some((id, id)))
}

/// Whether this machine can make the sandbox: the path of `bwrap`, or one line saying why
/// not and how to allow it. The trial runs as the sandbox's user, as the run will.
pub fn probe(scratch: &Path) -> Result<PathBuf, String> {
    // ISAPI_HARNESS_BWRAP names another bubblewrap (one built from source, say).
    let bwrap = match std::env::var_os("ISAPI_HARNESS_BWRAP") {
        Some(path) => Some(PathBuf::from(path)).filter(|path| path.is_file()),
        None => find_program("bwrap"),
    };
    let Some(bwrap) = bwrap else {
        return Err("bubblewrap is not installed (no `bwrap` on PATH, or none where \
                    ISAPI_HARNESS_BWRAP says): run `cargo xtask setup`, or install the \
                    Debian/Ubuntu package `bubblewrap`"
            .into());
    };
    // The namespaces the run's sandbox needs, tried once; a refusal shows here, not halfway
    // through a run.
    let trial = Launch {
        program: bwrap.clone(),
        args: [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--",
        ]
        .map(OsString::from)
        .into_iter()
        .chain([find_program("true").unwrap_or_else(|| "/bin/true".into()).into_os_string()])
        .collect(),
        env: Vec::new(),
    };
    let user = sandbox_user().map_err(|error| format!("{error:#}"))?;
    let confinement =
        Confinement { user, clean_env: true, no_new_privs: true, ..Confinement::default() };
    match crate::process::run_to_end_confined(
        &trial,
        Some(&confinement),
        Duration::from_secs(20),
        scratch,
    ) {
        Ok(()) => Ok(bwrap),
        Err(error) => Err(format!(
            "bubblewrap cannot create the user and PID namespaces the sandbox needs ({error:#}); \
             where they are restricted (Ubuntu 24.04's AppArmor) allow them with \
             `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
        )),
    }
}

/// What one run's sandbox is made of.
#[derive(Debug)]
pub struct Spec {
    pub bwrap: PathBuf,
    pub wineserver: PathBuf,
    /// Folders Wine needs beyond `/usr`, bound read-only (a Wine installed under `/opt`).
    pub read_only: Vec<PathBuf>,
    /// (outside, inside) pairs bound read-only: the built host programs.
    pub read_only_at: Vec<(PathBuf, PathBuf)>,
    /// Folders bound writable at their own paths: the machine's disk.
    pub writable: Vec<PathBuf>,
    /// The folder that is `/tmp` inside.
    pub tmp: PathBuf,
    /// What confines bwrap and every process entered into the sandbox; bwrap's own adds the
    /// mounts of the disk.
    pub confinement: Confinement,
    /// The mounts of the machine's disk, made in bwrap's process before it starts.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code, reason = "the sandbox is Linux's"))]
    pub disk: std::sync::Arc<super::overlay::DiskMounts>,
    /// The Wine prefix (one of the writable folders), whose server the sandbox holds.
    pub prefix: PathBuf,
    /// Where bwrap's own report and errors go (outside the sandbox).
    pub state: PathBuf,
    /// The working folder of every process inside (the prefix's `drive_c`, so that Wine finds
    /// a drive for it).
    pub cwd: PathBuf,
    /// The whole environment of every process inside.
    pub env: Vec<(OsString, OsString)>,
}

/// A running sandbox, with its wineserver.
#[derive(Debug)]
pub struct Jail {
    server: Background,
    /// The sandbox's first process as the harness sees it: every process entered into the
    /// sandbox takes its namespaces.
    leader: u32,
    nsenter: PathBuf,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    confinement: Confinement,
    /// The sandbox's PID namespace (`pid:[4026532178]`), by which its processes are found.
    pid_namespace: OsString,
    /// The processes kept between hosts: the sandbox's first ones, the wineserver and the
    /// Wine services the warm-up started (see [`Jail::keep_what_runs`]).
    kept: std::sync::Mutex<Vec<u32>>,
    /// Its report and error files, when they are removed with it (on drop).
    _own_files: OwnFiles,
}

/// How many sandboxes this process has started, to name each one's files.
static SANDBOXES_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Jail {
    /// Starts the sandbox with its wineserver: persistent for a run, or ending by itself a few
    /// seconds after its last client (how a new prefix is waited for).
    pub fn start(spec: &Spec, persistent: bool) -> anyhow::Result<Jail> {
        let nsenter = find_program("nsenter")
            .context("cannot find `nsenter` (package util-linux), which the sandbox needs")?;
        let mut args: Vec<OsString> = Vec::new();
        let mut arg = |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.into()));
        // The sandbox's user is bwrap's own (the unprivileged user it was started as), mapped to
        // itself.
        arg(&["--unshare-user".as_ref()]);
        for flag in [
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ] {
            arg(&[flag.as_ref()]);
        }
        arg(&["--cap-drop".as_ref(), "ALL".as_ref()]);
        arg(&["--ro-bind".as_ref(), "/usr".as_ref(), "/usr".as_ref()]);
        // Merged-/usr systems have these as links into /usr; older ones as folders.
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            let path = Path::new(top);
            if let Ok(target) = std::fs::read_link(path) {
                arg(&["--symlink".as_ref(), target.as_os_str(), top.as_ref()]);
            } else if path.is_dir() {
                arg(&["--ro-bind".as_ref(), top.as_ref(), top.as_ref()]);
            }
        }
        // What the dynamic loader, Wine's fonts and its clock read; nothing else of /etc.
        for etc in [
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/alternatives",
            "/etc/fonts",
            "/etc/localtime",
        ] {
            arg(&["--ro-bind-try".as_ref(), etc.as_ref(), etc.as_ref()]);
        }
        for dir in &spec.read_only {
            arg(&["--ro-bind".as_ref(), dir.as_os_str(), dir.as_os_str()]);
        }
        arg(&["--proc".as_ref(), "/proc".as_ref()]);
        // A few device nodes rather than bwrap's `--dev`: that option makes bwrap nest a second
        // user namespace (to mount devpts as root), and the namespaces it made before would
        // then belong to one that a process entered with nsenter, as the sandbox's user,
        // holds no rights in.
        for device in ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"] {
            arg(&["--dev-bind-try".as_ref(), device.as_ref(), device.as_ref()]);
        }
        for (fd, name) in [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin")] {
            arg(&["--symlink".as_ref(), fd.as_ref(), name.as_ref()]);
        }
        for (fd, name) in [("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")] {
            arg(&["--symlink".as_ref(), fd.as_ref(), name.as_ref()]);
        }
        arg(&["--bind".as_ref(), spec.tmp.as_os_str(), "/tmp".as_ref()]);
        for dir in &spec.writable {
            arg(&["--bind".as_ref(), dir.as_os_str(), dir.as_os_str()]);
        }
        // After the writable binds, so that these cover folders inside them.
        for (outside, inside) in &spec.read_only_at {
            arg(&["--ro-bind".as_ref(), outside.as_os_str(), inside.as_os_str()]);
        }
        for (key, value) in &spec.env {
            arg(&["--setenv".as_ref(), key.as_os_str(), value.as_os_str()]);
        }
        arg(&["--chdir".as_ref(), spec.cwd.as_os_str()]);
        // bwrap writes the sandbox's process id to its standard output, a file here.
        arg(&["--info-fd".as_ref(), "1".as_ref(), "--".as_ref()]);
        arg(&[spec.wineserver.as_os_str(), "-f".as_ref()]);
        if persistent {
            arg(&["-p".as_ref()]);
        }
        let launch = Launch { program: spec.bwrap.clone(), args, env: Vec::new() };
        // A run may start several sandboxes at once (a matrix's machines, see `Seed`): each has
        // files of its own, or one could read another's process id. The first keeps the plain
        // names; the others' go with their sandbox.
        let number = SANDBOXES_STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = |extension: &str| match number {
            0 => spec.state.join(format!("sandbox.{extension}")),
            n => spec.state.join(format!("sandbox-{n}.{extension}")),
        };
        let (info, errors) = (name("info"), name("err"));
        // Removed with the sandbox, or here if it never opens: a matrix whose machines keep
        // failing to open must not leave two files per scenario behind.
        let own_files =
            OwnFiles(if number == 0 { Vec::new() } else { vec![info.clone(), errors.clone()] });
        #[cfg(target_os = "linux")]
        let confinement = {
            let disk = spec.disk.clone();
            Confinement {
                private_mounts: Some(std::sync::Arc::new(move || disk.mount())),
                ..spec.confinement.clone()
            }
        };
        #[cfg(not(target_os = "linux"))]
        let confinement = spec.confinement.clone();
        let server = Background::start_confined(&launch, Some(&confinement), &info, &errors)?;
        let jail_error = |what: &str| {
            let said = std::fs::read_to_string(&errors).unwrap_or_default();
            let said = said.lines().last().unwrap_or("it printed nothing").to_owned();
            anyhow::anyhow!("the sandbox (bwrap) {what}: {said}")
        };

        let started = Instant::now();
        let leader = loop {
            let text = std::fs::read_to_string(&info).unwrap_or_default();
            if let Some(pid) = child_pid(&text) {
                break pid;
            }
            if server.status().is_some() {
                return Err(jail_error("ended at start"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                server.kill();
                return Err(jail_error("did not report its process within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        // Hosts must not start before the server listens: the first would start a second one.
        // The sandbox's /tmp and prefix are seen through its root.
        let root = seen_root(leader);
        let (tmp, prefix) = (root.join("tmp"), within(&root, &spec.prefix));
        while !server_listening(&tmp, &prefix) {
            if server.status().is_some() {
                return Err(jail_error("stopped before its wineserver was listening"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                server.kill();
                return Err(jail_error("has no listening wineserver after 20 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let pid_namespace = std::fs::read_link(format!("/proc/{leader}/ns/pid"))
            .map(PathBuf::into_os_string)
            .map_err(|error| jail_error(&format!("has no PID namespace to read ({error})")))?;
        Ok(Jail {
            server,
            leader,
            nsenter,
            cwd: spec.cwd.clone(),
            env: spec.env.clone(),
            confinement: spec.confinement.clone(),
            pid_namespace,
            kept: std::sync::Mutex::new(vec![leader]),
            _own_files: own_files,
        })
    }

    /// The sandbox's root folder as the harness sees it: `/proc/<first process>/root`.
    pub fn root(&self) -> PathBuf {
        seen_root(self.leader)
    }

    /// What confines every process entered into the sandbox (see [`Jail::enter`]).
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// `program` with `args`, to be run inside this sandbox, confined by
    /// [`Jail::confinement`].
    pub fn enter(&self, program: &Path, args: &[OsString]) -> Launch {
        self.enter_with(program, args, &[])
    }

    /// [`Jail::enter`], with `changes` set in the sandbox's environment (each replacing a
    /// variable of the same name).
    pub fn enter_with(
        &self,
        program: &Path,
        args: &[OsString],
        changes: &[(OsString, OsString)],
    ) -> Launch {
        let mut env = self.env.clone();
        set_env(&mut env, changes);
        let mut all: Vec<OsString> = vec!["--target".into(), self.leader.to_string().into()];
        for namespace in ["--user", "--mount", "--pid", "--net", "--ipc", "--uts"] {
            all.push(namespace.into());
        }
        // Keep the sandbox's user (nsenter starts as it), take the sandbox's root, and
        // resolve the working folder inside it.
        all.push("--preserve-credentials".into());
        all.push("--root".into());
        let mut wd = OsString::from("--wdns=");
        wd.push(&self.cwd);
        all.push(wd);
        all.push("--".into());
        all.push(program.into());
        all.extend(args.iter().cloned());
        // Nothing of the harness's environment goes in: the confinement clears it before
        // nsenter starts, so nsenter holds only the sandbox's own variables and hands them on.
        Launch { program: self.nsenter.clone(), args: all, env }
    }

    /// Whether the sandbox and its wineserver still run: a DLL loaded inside can end them,
    /// and every host started after that would fail to start.
    pub fn running(&self) -> bool {
        self.server.status().is_none()
    }

    /// The processes of the sandbox now, as the harness sees them: every process whose PID
    /// namespace is the sandbox's, among `candidates` (the run's cgroup, one file to read) or
    /// else among every process of the machine.
    fn members(&self, candidates: Option<Vec<u32>>) -> Vec<u32> {
        let all = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
                .collect::<Vec<u32>>()
        };
        candidates
            .unwrap_or_else(all)
            .into_iter()
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                    .is_ok_and(|namespace| namespace.as_os_str() == self.pid_namespace)
            })
            .collect()
    }

    /// Records the processes that run now as the ones kept between hosts: called once the
    /// warm-up host has ended, when they are the wineserver and the Wine services it started,
    /// before any filter has run.
    pub fn keep_what_runs(&self) {
        let members = self.members(None);
        let mut kept = self.kept.lock().expect("kept list poisoned");
        kept.extend(members);
        kept.sort_unstable();
        kept.dedup();
    }

    /// Ends every process of the sandbox that is neither kept nor part of a host the harness
    /// is running now (a descendant of a process it started): what a host left behind,
    /// however it detached (a new session, a double fork), is found by its PID namespace.
    /// `candidates`: the run's cgroup's processes, where the run has one.
    pub fn end_strays(&self, candidates: impl Fn() -> Option<Vec<u32>>) {
        let kept = self.kept.lock().expect("kept list poisoned").clone();
        // A stray may be forking while it is ended; a few rounds end its children too.
        for _ in 0..8 {
            // The hosts under way; bwrap itself, which every process of the sandbox descends
            // from, is no host.
            let bwrap = self.server.pid();
            let running: Vec<u32> =
                crate::process::running().into_iter().filter(|&pid| pid != bwrap).collect();
            // A host's processes keep the session its nsenter made, even when Wine's start
            // of a 32-bit program leaves the host an orphan of the namespace; only a process
            // that made a session of its own has left its host.
            let descends_from_running = |pid: u32| {
                if crate::process::session_of(pid).is_some_and(|session| running.contains(&session))
                {
                    return true;
                }
                let mut current = pid;
                for _ in 0..64 {
                    if running.contains(&current) {
                        return true;
                    }
                    match crate::process::parent_of(current) {
                        Some(parent) if parent > 1 && parent != current => current = parent,
                        _ => return false,
                    }
                }
                false
            };
            let strays: Vec<u32> = self
                .members(candidates())
                .into_iter()
                .filter(|pid| !kept.contains(pid) && !descends_from_running(*pid))
                .collect();
            if strays.is_empty() {
                return;
            }
            for pid in strays {
                crate::process::kill_now(pid);
            }
        }
    }

    /// Waits up to `timeout` for the (non-persistent) server to end by itself.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.server.wait(timeout)
    }

    /// A handle that ends the whole sandbox at once (for an interrupted run).
    pub fn killer(&self) -> Background {
        self.server.clone()
    }

    /// Ends the sandbox and every process in it at once. `wineserver -k` cannot be used
    /// inside (it finds no server process id it may signal and ends its own process group
    /// instead), and a SIGTERM to the server costs two seconds; killing is safe for the prefix
    /// because the server writes its registry files to a temporary file and renames it.
    pub fn stop(&self) {
        self.server.kill();
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        // Its own files go after this, with the field.
        self.server.kill();
    }
}

/// Files a sandbox made for itself, removed when dropped unless the sandbox took them over.
#[derive(Debug)]
struct OwnFiles(Vec<PathBuf>);

impl Drop for OwnFiles {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// `/proc/<pid>/root`: the root folder of a process of the sandbox, as the harness sees it.
fn seen_root(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

/// `path` (absolute, as the sandbox sees it) under `root`.
pub fn within(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn child_pid(info: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(info).ok()?;
    u32::try_from(value.get("child-pid")?.as_u64()?).ok()
}

/// Whether the wineserver of `prefix` listens in `tmp` (the sandbox's private `/tmp`, or the
/// real one): Wine 8 makes its socket at `<folder>/server-<dev>-<inode>/socket` after the
/// prefix's device and inode, the folder being `.wine-<uid>` or, in a user namespace, one it
/// names at random.
pub fn server_listening(tmp: &Path, prefix: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(prefix) else { return false };
        let name = format!("server-{:x}-{:x}", meta.dev(), meta.ino());
        std::fs::read_dir(tmp)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .any(|folder| folder.path().join(&name).join("socket").exists())
    }
    #[cfg(not(unix))]
    {
        let _ = (tmp, prefix);
        true
    }
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Sets each of `changes` in `env`, replacing a variable of the same name.
pub(super) fn set_env(env: &mut Vec<(OsString, OsString)>, changes: &[(OsString, OsString)]) {
    for (key, value) in changes {
        match env.iter_mut().find(|(name, _)| name == key) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((key.clone(), value.clone())),
        }
    }
}
