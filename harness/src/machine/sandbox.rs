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
//! with an environment of the sandbox's own (`env -i`), in a session of its own (no terminal
//! to type into). A process entered this way starts as the sandbox's unprivileged user, so it
//! keeps no capability across its `exec`. A fresh PID namespace also means a fresh `/proc`, so nothing inside can
//! reach an outside process through `/proc/PID/root`, and when the sandbox's first process
//! dies (bwrap's `--die-with-parent` kills it with the harness, `SIGKILL` included) the kernel
//! kills every process left in the namespace: hosts, Wine's services and the server.
//!
//! Inside, the only writable places are the prefix, the other drives' folders and a private
//! `/tmp`, all in the machine's folder; `/usr` (with Wine), the loader's `/etc` files and the
//! built host programs are read-only; the home folder, `/etc/shadow`, the rest of `/etc`,
//! `/home`, `/root`, the real `/tmp` and the network do not exist. When the harness runs as
//! root the sandbox runs as uid 65534 in a user namespace with every capability dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::process::{Background, Launch};

/// Whether this machine can make the sandbox: the path of `bwrap`, or one line saying why
/// not and how to allow it.
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
    match crate::process::run_to_end(&trial, Duration::from_secs(20), scratch) {
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
    /// Folders bound writable at their own paths: the prefix and the other drives.
    pub writable: Vec<PathBuf>,
    /// The folder that is `/tmp` inside.
    pub tmp: PathBuf,
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
}

#[cfg(unix)]
fn getuid() -> u32 {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() }
}

/// The sandbox is Linux's; elsewhere it is never started.
#[cfg(not(unix))]
fn getuid() -> u32 {
    u32::MAX
}

impl Jail {
    /// Starts the sandbox with its wineserver: persistent for a run, or ending by itself a few
    /// seconds after its last client (how a new prefix is waited for).
    pub fn start(spec: &Spec, persistent: bool) -> anyhow::Result<Jail> {
        let nsenter = find_program("nsenter")
            .context("cannot find `nsenter` (package util-linux), which the sandbox needs")?;
        let mut args: Vec<OsString> = Vec::new();
        let mut arg = |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.into()));
        arg(&["--unshare-user".as_ref()]);
        if getuid() == 0 {
            arg(&["--uid".as_ref(), "65534".as_ref(), "--gid".as_ref(), "65534".as_ref()]);
        }
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
        arg(&["--proc".as_ref(), "/proc".as_ref(), "--dev".as_ref(), "/dev".as_ref()]);
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
        let info = spec.state.join("sandbox.info");
        let errors = spec.state.join("sandbox.err");
        let server = Background::start(&launch, &info, &errors)?;
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
        while !server_listening(&spec.tmp, &spec.prefix) {
            if server.status().is_some() {
                return Err(jail_error("stopped before its wineserver was listening"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                server.kill();
                return Err(jail_error("has no listening wineserver after 20 s"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(Jail { server, leader, nsenter, cwd: spec.cwd.clone(), env: spec.env.clone() })
    }

    /// `program` with `args`, to be run inside this sandbox.
    pub fn enter(&self, program: &Path, args: &[OsString]) -> Launch {
        let mut all: Vec<OsString> = vec!["--target".into(), self.leader.to_string().into()];
        for namespace in ["--user", "--mount", "--pid", "--net", "--ipc", "--uts"] {
            all.push(namespace.into());
        }
        // Keep the uid the sandbox maps us to (65534 for root), take the sandbox's root, and
        // resolve the working folder inside it.
        all.push("--preserve-credentials".into());
        all.push("--root".into());
        let mut wd = OsString::from("--wdns=");
        wd.push(&self.cwd);
        all.push(wd);
        all.push("--".into());
        // Nothing of the harness's environment goes in: only the sandbox's own.
        all.push("/usr/bin/env".into());
        all.push("-i".into());
        for (key, value) in &self.env {
            let mut pair = key.clone();
            pair.push("=");
            pair.push(value);
            all.push(pair);
        }
        all.push(program.into());
        all.extend(args.iter().cloned());
        Launch { program: self.nsenter.clone(), args: all, env: Vec::new() }
    }

    /// Whether the sandbox and its wineserver still run: a DLL loaded inside can end them,
    /// and every host started after that would fail to start.
    pub fn running(&self) -> bool {
        self.server.status().is_none()
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
        self.server.kill();
    }
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
