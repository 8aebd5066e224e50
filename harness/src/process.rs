//! The one module that starts processes.
//!
//! Host processes are the place where filters crash and hang, so every start here is bounded in
//! time and killed when the bound passes, and nothing is read through a pipe: under Wine the
//! first program in a prefix starts Wine's own services, which inherit the standard handles and
//! would hold a pipe open long after the host has gone. Output goes to files instead.
//!
//! No process started here may outlive the harness, however the harness ends:
//! - on Linux every child gets a session of its own (so a Ctrl-C at the terminal reaches the
//!   harness alone, which then ends the run itself, and no child can reach the terminal) and
//!   `PR_SET_PDEATHSIG`, so it is killed when the thread that started it ends, `SIGKILL` of
//!   the harness included; what a child starts in turn is covered by the sandbox (its PID
//!   namespace dies with it, see `machine/sandbox.rs`);
//! - on Windows every child is put in one job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`,
//!   which the system closes when the harness process ends;
//! - every running child is listed, so an interrupted run ([`crate::interrupt`]) can end them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A program with the arguments and environment a backend needs to start it.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// What confines a process of the sandbox beyond its namespaces, applied in the child between
/// `fork` and `exec`, so that it holds from the first instruction of the program: for bwrap,
/// which starts the sandbox, and for every process entered into it with nsenter, which would
/// otherwise get nothing bwrap set up for its own children.
///
/// The steps run in this order: join the run's cgroups (while still allowed to write their
/// files), lower `RLIMIT_NPROC`, make the private mounts (before giving up the rights to
/// mount), become the unprivileged user, ask for death with the harness again (a change of
/// user clears that request), set `no_new_privs`, install the system-call filter.
#[derive(Clone, Default)]
pub struct Confinement {
    /// The unprivileged (uid, gid) to become, when the harness runs as root.
    pub user: Option<(u32, u32)>,
    /// Start with no environment but the launch's own: nothing of the harness's reaches
    /// `/proc/N/environ` of a process inside.
    pub clean_env: bool,
    /// `PR_SET_NO_NEW_PRIVS`: no exec can grant more rights (a setuid file, file
    /// capabilities), and the system-call filter may be installed without privilege.
    pub no_new_privs: bool,
    /// A classic BPF program for `seccomp(SECCOMP_SET_MODE_FILTER)` (implies `no_new_privs`).
    pub syscall_filter: Option<Arc<[SockFilter]>>,
    /// `RLIMIT_NPROC`: how many processes the (unprivileged) user may have at once.
    pub max_processes: Option<u64>,
    /// `cgroup.procs` (or v1 `tasks`) files the process joins by writing `0` to them.
    pub cgroups: Vec<PathBuf>,
    /// Mounts made in a mount namespace of the child's own, before it becomes the
    /// unprivileged user. Called between fork and exec: it may only make system calls.
    pub private_mounts: Option<Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>>,
}

impl std::fmt::Debug for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confinement")
            .field("user", &self.user)
            .field("clean_env", &self.clean_env)
            .field("no_new_privs", &self.no_new_privs)
            .field("syscall_filter", &self.syscall_filter.as_ref().map(|program| program.len()))
            .field("max_processes", &self.max_processes)
            .field("cgroups", &self.cgroups)
            .field("private_mounts", &self.private_mounts.is_some())
            .finish()
    }
}

/// One instruction of a classic BPF program, laid out as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// How a bounded run ended.
#[derive(Debug)]
pub struct Finished {
    /// None when the process was killed for running past its time.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Killed for writing more than [`OUTPUT_LIMIT`] bytes to standard output or error.
    pub flooded: bool,
}

/// How much output a host may write before it is ended: a report is a few kilobytes, so a host
/// past this is a filter writing without end, which would otherwise fill the disk.
pub const OUTPUT_LIMIT: u64 = 16 * 1024 * 1024;

impl Finished {
    pub fn timed_out(&self) -> bool {
        self.status.is_none() && !self.flooded
    }
}

/// Runs a helper command (wineboot, wineserver) to completion, for at most `timeout`; fails on
/// a non-zero exit, naming the command and what it printed last.
pub fn run_to_end(launch: &Launch, timeout: Duration, scratch: &Path) -> anyhow::Result<()> {
    run_to_end_confined(launch, None, timeout, scratch)
}

/// [`run_to_end`], the process confined by `confinement`.
pub fn run_to_end_confined(
    launch: &Launch,
    confinement: Option<&Confinement>,
    timeout: Duration,
    scratch: &Path,
) -> anyhow::Result<()> {
    let finished = run_bounded_confined(launch, confinement, &[], timeout, scratch)?;
    match finished.status {
        Some(status) if status.success() => Ok(()),
        status => {
            let ended = match status {
                Some(status) => format!("exit status {}", describe_status(status)),
                None => format!("still running after {} s and ended", timeout.as_secs()),
            };
            let said: String =
                finished.stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            anyhow::bail!(
                "`{}` failed ({ended}){}",
                describe(launch),
                if said.is_empty() { String::new() } else { format!(": {said}") }
            )
        }
    }
}

/// Runs `launch` with `extra_args`, for at most `timeout`, capturing its output through files in
/// `scratch` (removed afterwards).
pub fn run_bounded(
    launch: &Launch,
    extra_args: &[OsString],
    timeout: Duration,
    scratch: &Path,
) -> anyhow::Result<Finished> {
    run_bounded_confined(launch, None, extra_args, timeout, scratch)
}

/// [`run_bounded`], the process confined by `confinement`.
pub fn run_bounded_confined(
    launch: &Launch,
    confinement: Option<&Confinement>,
    extra_args: &[OsString],
    timeout: Duration,
    scratch: &Path,
) -> anyhow::Result<Finished> {
    static RUN_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run_id = RUN_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("cannot create `{}`", scratch.display()))?;
    let stdout_path = scratch.join(format!("host-{}-{run_id}.out", std::process::id()));
    let stderr_path = stdout_path.with_extension("err");
    let stdout = std::fs::File::create(&stdout_path)?;
    let stderr = std::fs::File::create(&stderr_path)?;

    let started = Instant::now();
    let mut command = command(launch, confinement)?;
    command.args(extra_args).stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let spawned =
        spawn(&mut command).with_context(|| format!("cannot start `{}`", describe(launch)));
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            let _ = std::fs::remove_file(&stdout_path);
            let _ = std::fs::remove_file(&stderr_path);
            return Err(error);
        }
    };
    // Polling keeps this free of threads and signals. Where the kernel gives a descriptor
    // for the child, the wait between checks ends the moment the child does, so the checks of
    // the output's size need come only every few milliseconds; elsewhere the first checks
    // come quickly because most hosts are done within a few tens of milliseconds.
    let exit = ExitWatch::new(&child);
    let mut pause = Duration::from_micros(200);
    let mut flooded = false;
    let mut interrupted = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        // Standard error is bounded as standard output is: a filter can flood either.
        flooded = [&stdout_path, &stderr_path]
            .iter()
            .any(|path| std::fs::metadata(path).is_ok_and(|meta| meta.len() > OUTPUT_LIMIT));
        interrupted = crate::interrupt::requested();
        if flooded || interrupted.is_some() || started.elapsed() >= timeout {
            kill_tree(&mut child);
            break None;
        }
        if !exit.wait(OUTPUT_CHECK_INTERVAL) {
            std::thread::sleep(pause);
            // At most a millisecond late: a 64-bit host takes about 25 ms in all, so a
            // coarser poll would show up in every figure the benchmark reports.
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    };
    forget(child.id());
    let elapsed = started.elapsed();
    // Only the beginning is read: the report comes first, whatever a flooding filter wrote
    // after it is noise.
    let stdout = read_prefix(&stdout_path, OUTPUT_LIMIT);
    let stderr = read_prefix(&stderr_path, OUTPUT_LIMIT);
    let _ = std::fs::remove_file(&stdout_path);
    let _ = std::fs::remove_file(&stderr_path);
    if let Some(signal) = interrupted {
        // A host ended by the interruption said nothing about its filters.
        return Err(crate::interrupt::Interrupted(signal).into());
    }
    Ok(Finished { status, stdout, stderr, elapsed, flooded })
}

/// How often a running host's output files are measured against [`OUTPUT_LIMIT`] (and the
/// timeout and an interruption looked at) when its end wakes the wait anyway: a flood at a few
/// GB/s writes at most a few MB past the limit before it is ended.
const OUTPUT_CHECK_INTERVAL: Duration = Duration::from_millis(5);

/// What wakes [`run_bounded_confined`]'s wait when its child ends: a pidfd on Linux (5.3 and
/// later), which is readable once the child has exited; elsewhere nothing, and the wait polls.
struct ExitWatch {
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl ExitWatch {
    fn new(child: &Child) -> ExitWatch {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            let pidfd = libc::pid_t::try_from(child.id()).ok().and_then(|pid| {
                // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
                let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
                // SAFETY: the descriptor was just opened and is owned by nothing else.
                Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
            });
            ExitWatch { pidfd }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = child;
            ExitWatch {}
        }
    }

    /// Waits until the child ends or `most` passes; false at once, having waited for
    /// nothing, where there is no descriptor to wait on (the caller then polls).
    fn wait(&self, most: Duration) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            use std::os::fd::AsRawFd;
            let mut ready =
                libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let millis = i32::try_from(most.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: poll reads and writes the one pollfd it is given.
            unsafe { libc::poll(&mut ready, 1, millis) };
            return true;
        }
        let _ = most;
        false
    }
}

/// A process that runs for as long as the run (the sandbox that holds the wineserver), with its
/// output in files.
#[derive(Debug, Clone)]
pub struct Background {
    pid: u32,
    state: Arc<Mutex<BackgroundState>>,
}

#[derive(Debug)]
struct BackgroundState {
    child: Child,
    status: Option<ExitStatus>,
}

impl Background {
    /// Starts `launch` with its standard output and error in `stdout` and `stderr`.
    ///
    /// The process is started by a thread that does nothing but wait for it: the kernel's
    /// parent-death signal (which bwrap's `--die-with-parent` and our own `PR_SET_PDEATHSIG`
    /// use) fires when the *thread* that started a process ends, so a process started from a
    /// short-lived thread (a test, a scenario) would be killed with it.
    pub fn start(launch: &Launch, stdout: &Path, stderr: &Path) -> anyhow::Result<Background> {
        Background::start_confined(launch, None, stdout, stderr)
    }

    /// [`Background::start`], the process confined by `confinement`.
    pub fn start_confined(
        launch: &Launch,
        confinement: Option<&Confinement>,
        stdout: &Path,
        stderr: &Path,
    ) -> anyhow::Result<Background> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let launch = launch.clone();
        let confinement = confinement.cloned();
        let (stdout, stderr) = (stdout.to_owned(), stderr.to_owned());
        std::thread::Builder::new()
            .name(format!("keeps {}", launch.program.display()))
            .spawn(move || {
                let started = (|| -> anyhow::Result<Child> {
                    let out = std::fs::File::create(&stdout)
                        .with_context(|| format!("cannot create `{}`", stdout.display()))?;
                    let err = std::fs::File::create(&stderr)
                        .with_context(|| format!("cannot create `{}`", stderr.display()))?;
                    let mut command = command(&launch, confinement.as_ref())?;
                    command.stdin(Stdio::null()).stdout(out).stderr(err);
                    spawn(&mut command)
                        .with_context(|| format!("cannot start `{}`", describe(&launch)))
                })();
                let child = match started {
                    Ok(child) => child,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
                let pid = child.id();
                let state = Arc::new(Mutex::new(BackgroundState { child, status: None }));
                if sender.send(Ok(Background { pid, state: state.clone() })).is_err() {
                    return;
                }
                loop {
                    {
                        let mut state = state.lock().expect("background state poisoned");
                        if let Ok(Some(status)) = state.child.try_wait() {
                            state.status = Some(status);
                            forget(pid);
                            return;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .context("cannot start a thread to keep a background process")?;
        receiver.recv().context("the thread that starts a background process ended")?
    }

    /// The process's id, as this (the outer) PID namespace sees it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How it ended, if it has.
    pub fn status(&self) -> Option<ExitStatus> {
        let mut state = self.state.lock().expect("background state poisoned");
        if state.status.is_none() {
            state.status = state.child.try_wait().ok().flatten();
        }
        state.status
    }

    /// Waits up to `timeout` for it to end by itself; true if it did.
    pub fn wait(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.status().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.status().is_some()
    }

    /// Ends it (and its process group) now, if it is still running.
    pub fn kill(&self) {
        let mut state = self.state.lock().expect("background state poisoned");
        if state.status.is_none() {
            kill_tree(&mut state.child);
            state.status = state.child.try_wait().ok().flatten();
        }
    }
}

/// The processes this module started that are still running, by id: an interruption ends them.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Starts `command` and lists it as running; refuses once the run is interrupted, so that
/// nothing new starts while the run is being cleaned up.
fn spawn(command: &mut Command) -> anyhow::Result<Child> {
    crate::interrupt::set_child_killer(kill_all);
    let mut running = RUNNING.lock().expect("process list poisoned");
    if let Some(signal) = crate::interrupt::requested() {
        return Err(crate::interrupt::Interrupted(signal).into());
    }
    let child = command.spawn()?;
    #[cfg(windows)]
    if let Err(error) = job::assign(&child) {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    running.push(child.id());
    Ok(child)
}

fn forget(pid: u32) {
    RUNNING.lock().expect("process list poisoned").retain(|&running| running != pid);
}

/// The ids of the processes this module started that are still running.
pub fn running() -> Vec<u32> {
    RUNNING.lock().expect("process list poisoned").clone()
}

/// The parent of process `pid`, from `/proc/<pid>/stat`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after its last `)` do not.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// The session of process `pid` (the id of the process that made it), from `/proc/<pid>/stat`.
pub fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name: state, ppid, pgrp, session.
    stat.rsplit_once(')')?.1.split_whitespace().nth(3)?.parse().ok()
}

/// Kills process `pid` at once.
pub fn kill_now(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Kills every process this module started that is still running, with the process groups
/// they lead. Called when the run is interrupted.
pub fn kill_all() {
    let running = RUNNING.lock().expect("process list poisoned");
    for &pid in running.iter() {
        kill_group(pid);
    }
}

/// Kills every process whose environment holds `variable` (`WINEPREFIX=/path/to/prefix`):
/// how an unsandboxed run ends Wine's services, which outlive their wineserver, and how the
/// next run ends what a killed unsandboxed run left. Only the caller's own processes can be
/// read, and the machine lock says that every process of that prefix is the caller's run's.
pub fn kill_by_environment(variable: &str) {
    #[cfg(target_os = "linux")]
    for entry in std::fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok) {
        let Some(pid) =
            entry.file_name().to_str().and_then(|name| name.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // The harness itself, should the user have set WINEPREFIX to the machine's prefix.
        if u32::try_from(pid).ok() == Some(std::process::id()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|&byte| byte == 0).any(|entry| entry == variable.as_bytes()) {
            // SAFETY: kill has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = variable;
}

/// Kills `child` and, on Linux, the process group it leads (a host entered into the sandbox
/// through nsenter is nsenter's child in the same group), then reaps it.
fn kill_tree(child: &mut Child) {
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill has no memory effects; a negative id names the group this child leads
    // (every child here starts its own session, so its group is its own).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {
    // On Windows the job object ends the whole tree when the harness ends; a single child is
    // killed through its handle by the caller.
}

fn read_prefix(path: &Path, limit: u64) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(limit).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[expect(clippy::disallowed_methods, reason = "this is the one place that builds commands")]
fn command(launch: &Launch, confinement: Option<&Confinement>) -> anyhow::Result<Command> {
    let mut command = Command::new(&launch.program);
    command.args(&launch.args);
    if confinement.is_some_and(|confinement| confinement.clean_env) {
        command.env_clear();
    }
    for (key, value) in &launch.env {
        command.env(key, value);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let steps = confinement.map(PreExec::prepare).transpose()?;
        // SAFETY: between fork and exec only async-signal-safe system calls are made (setsid,
        // prctl, write, setrlimit, setgroups, setresuid, seccomp, and the mount calls of
        // `private_mounts`, whose contract says the same), on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                // A session of its own: no controlling terminal to inject input into or to
                // receive the terminal's Ctrl-C, and a process group the harness can end whole.
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Ends with the harness, even when the harness is killed with SIGKILL.
                #[cfg(target_os = "linux")]
                die_with_parent()?;
                if let Some(steps) = &steps {
                    steps.apply()?;
                }
                Ok(())
            });
        }
    }
    #[cfg(not(unix))]
    let _ = confinement;
    Ok(command)
}

#[cfg(target_os = "linux")]
fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with plain integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A [`Confinement`] made ready before the fork: files opened, the filter laid out, so that
/// the child only makes system calls.
#[cfg(unix)]
struct PreExec {
    confinement: Confinement,
    cgroups: Vec<std::fs::File>,
}

#[cfg(unix)]
impl PreExec {
    fn prepare(confinement: &Confinement) -> anyhow::Result<PreExec> {
        let cgroups = confinement
            .cgroups
            .iter()
            .map(|path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open the cgroup file `{}`", path.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(PreExec { confinement: confinement.clone(), cgroups })
    }

    fn apply(&self) -> std::io::Result<()> {
        let check = |result: libc::c_int| {
            if result < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
        };
        for file in &self.cgroups {
            use std::os::fd::AsRawFd;
            // SAFETY: a write of two bytes from a static buffer to an open descriptor.
            let written = unsafe { libc::write(file.as_raw_fd(), b"0\n".as_ptr().cast(), 2) };
            if written < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(max) = self.confinement.max_processes {
            let limit = libc::rlimit { rlim_cur: max, rlim_max: max };
            // SAFETY: setrlimit reads the local struct.
            check(unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit) })?;
        }
        if let Some(mounts) = &self.confinement.private_mounts {
            mounts()?;
        }
        if let Some((uid, gid)) = self.confinement.user {
            // SAFETY: credential calls with plain integer arguments; no supplementary groups
            // (root's would otherwise stay).
            unsafe {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setresgid(gid, gid, gid))?;
                check(libc::setresuid(uid, uid, uid))?;
            }
            // The kernel forgets the parent-death signal when the user changes.
            #[cfg(target_os = "linux")]
            die_with_parent()?;
        }
        #[cfg(target_os = "linux")]
        if self.confinement.no_new_privs || self.confinement.syscall_filter.is_some() {
            // SAFETY: prctl with plain integer arguments.
            check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        }
        #[cfg(target_os = "linux")]
        if let Some(program) = &self.confinement.syscall_filter {
            let program = libc::sock_fprog {
                len: u16::try_from(program.len())
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?,
                // SockFilter has sock_filter's layout (repr(C), same fields in the same order).
                filter: program.as_ptr().cast_mut().cast(),
            };
            // SAFETY: the kernel copies the program it is given; both live until the call ends.
            let result = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &raw const program,
                )
            };
            if result < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// An exit status in words: `1`, or `killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return code.to_string();
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

fn describe(launch: &Launch) -> String {
    std::iter::once(launch.program.as_os_str())
        .chain(launch.args.iter().map(OsString::as_os_str))
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The memory (bytes) and the number of processes that the job object every child of the
/// harness joins on Windows may hold at once; None is no limit. Read when the job is made, at
/// the first start.
static JOB_LIMITS: Mutex<(Option<u64>, Option<u64>)> = Mutex::new((None, None));

/// Sets the job object's limits (Windows); call before the first process starts. Elsewhere
/// the sandbox keeps the limits (`machine/limits.rs`).
pub fn set_job_limits(memory: Option<u64>, processes: Option<u64>) {
    *JOB_LIMITS.lock().expect("job limits poisoned") = (memory, processes);
}

/// The job object every child joins on Windows, so that none outlives the harness, and which
/// bounds what they may hold together: `JOB_OBJECT_LIMIT_JOB_MEMORY` (the committed memory of
/// every process in the job) and `JOB_OBJECT_LIMIT_ACTIVE_PROCESS` (a start past the limit
/// fails). A process that reaches the memory limit gets an allocation failure, not a kill.
#[cfg(windows)]
mod job {
    use std::os::windows::io::AsRawHandle;
    use std::sync::OnceLock;

    use windows_sys::Win32::Foundation::{GetLastError, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_ACTIVE_PROCESS,
        JOB_OBJECT_LIMIT_JOB_MEMORY, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject,
    };

    /// The job's handle as an integer (a raw handle is not `Sync`), or the error that kept it
    /// from being made. The handle is never closed by the harness: the system closes it when
    /// the harness process ends, however it ends, and the job then kills every process in it.
    static JOB: OnceLock<Result<usize, u32>> = OnceLock::new();

    fn job() -> Result<HANDLE, u32> {
        let job = JOB.get_or_init(|| {
            // SAFETY: plain Win32 calls with valid (null or local) arguments.
            unsafe {
                let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if job.is_null() {
                    return Err(GetLastError());
                }
                let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                let (memory, processes) = *super::JOB_LIMITS.lock().expect("job limits poisoned");
                if let Some(bytes) = memory {
                    limits.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
                    limits.JobMemoryLimit = usize::try_from(bytes).unwrap_or(usize::MAX);
                }
                if let Some(count) = processes {
                    limits.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
                    limits.BasicLimitInformation.ActiveProcessLimit =
                        u32::try_from(count).unwrap_or(u32::MAX);
                }
                let ok = SetInformationJobObject(
                    job,
                    JobObjectExtendedLimitInformation,
                    (&raw const limits).cast(),
                    std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                );
                if ok == 0 {
                    return Err(GetLastError());
                }
                Ok(job as usize)
            }
        });
        job.map(|handle| handle as HANDLE)
    }

    pub fn assign(child: &std::process::Child) -> anyhow::Result<()> {
        let job = job().map_err(|code| {
            anyhow::anyhow!(
                "cannot create the job object that ends the harness's processes with it (Win32 error {code})"
            )
        })?;
        // SAFETY: both handles are valid for the duration of the call.
        let ok = unsafe { AssignProcessToJobObject(job, child.as_raw_handle() as HANDLE) };
        if ok == 0 {
            // SAFETY: no arguments.
            let code = unsafe { GetLastError() };
            anyhow::bail!(
                "cannot put process {} in the harness's job object (Win32 error {code})",
                child.id()
            );
        }
        Ok(())
    }
}
