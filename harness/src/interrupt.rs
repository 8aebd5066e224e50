//! SIGINT, SIGTERM and SIGHUP: an interrupted run ends every process it started and removes
//! the files it placed, then exits with 128 + the signal (130, 143, 129) and says
//! "interrupted". Nothing a host did is blamed for it.
//!
//! The signals are blocked in every thread and taken by one thread with `sigwait`, so no code
//! runs in a signal handler. That thread marks the run as interrupted (from then on
//! `process.rs` starts nothing and ends the hosts it is waiting for), kills every child,
//! waits for file placements under way to finish, runs the clean-ups the machine registered
//! (stop the wineserver and the sandbox, remove placed files) and exits.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The signal that interrupted the run; 0 while it runs.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// File placements under way (see [`placing`]).
static PLACING: AtomicUsize = AtomicUsize::new(0);
/// What to undo when the run is interrupted, registered by the machine.
type Cleanup = Box<dyn Fn() + Send>;
static CLEANUPS: Mutex<Vec<(u64, Cleanup)>> = Mutex::new(Vec::new());

/// How to end every child of the run, handed over by `process.rs` (which lists them) when it
/// starts its first one; kept here as a function so that this module stays below it.
static KILL_CHILDREN: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Tells the interruption how to end every child process; the first call wins.
pub fn set_child_killer(kill: fn()) {
    let _ = KILL_CHILDREN.set(kill);
}

/// The error of anything cut short by an interruption.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", signal_name(self.0))
    }
}

impl std::error::Error for Interrupted {}

impl Interrupted {
    /// The exit code of a run ended by this signal, as shells report it.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(130)
    }
}

/// The signal that interrupted the run, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Marks a file placement as under way for as long as the guard lives, or refuses it when the
/// run is already interrupted, so that the clean-up never runs while a file is half-placed.
pub fn placing() -> anyhow::Result<PlacingGuard> {
    PLACING.fetch_add(1, Ordering::SeqCst);
    let guard = PlacingGuard;
    if let Some(signal) = requested() {
        return Err(Interrupted(signal).into());
    }
    Ok(guard)
}

pub struct PlacingGuard;

impl Drop for PlacingGuard {
    fn drop(&mut self) {
        PLACING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Registers what to undo if the run is interrupted; dropping the registration withdraws it.
pub fn on_interrupt(cleanup: impl Fn() + Send + 'static) -> Registration {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    CLEANUPS.lock().expect("clean-up list poisoned").push((id, Box::new(cleanup)));
    Registration(id)
}

#[derive(Debug)]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut cleanups) = CLEANUPS.lock() {
            cleanups.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Ends the run after `signal`: what the signal thread does, and never returns.
#[cfg_attr(not(unix), allow(dead_code))]
fn interrupt(signal: i32) -> ! {
    SIGNAL.store(signal, Ordering::SeqCst);
    if let Some(kill_children) = KILL_CHILDREN.get() {
        kill_children();
    }
    let started = Instant::now();
    while PLACING.load(Ordering::SeqCst) > 0 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(2));
    }
    if let Ok(cleanups) = CLEANUPS.lock() {
        for (_, cleanup) in cleanups.iter() {
            cleanup();
        }
    }
    eprintln!(
        "isapi-harness: interrupted by {}: every process of the run was ended and the placed files were removed",
        signal_name(signal)
    );
    std::process::exit(i32::from(Interrupted(signal).exit_code()));
}

fn signal_name(signal: i32) -> String {
    #[cfg(unix)]
    match signal {
        libc::SIGINT => return "SIGINT".into(),
        libc::SIGTERM => return "SIGTERM".into(),
        libc::SIGHUP => return "SIGHUP".into(),
        _ => {}
    }
    format!("signal {signal}")
}

/// Takes SIGINT, SIGTERM and SIGHUP for the whole process. Call it first thing in `main`,
/// before any thread starts: threads inherit the blocked signal mask. (Children do not: the
/// standard library resets the mask of every process it starts.)
#[cfg(unix)]
pub fn install() -> anyhow::Result<()> {
    // SAFETY: sigset operations on a local set, and a mask change for the calling thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        let code = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if code != 0 {
            anyhow::bail!(
                "cannot block SIGINT and SIGTERM: {}",
                std::io::Error::from_raw_os_error(code)
            );
        }
        set
    };
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        loop {
            let mut signal = 0;
            // SAFETY: `set` is a valid, initialised signal set; `signal` is a local out-value.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                interrupt(signal);
            }
        }
    })?;
    Ok(())
}

/// On Windows the job object ends every host when the harness ends (Ctrl-C included); the
/// placed files are removed by the next run.
#[cfg(not(unix))]
pub fn install() -> anyhow::Result<()> {
    Ok(())
}
