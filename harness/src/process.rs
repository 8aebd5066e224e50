//! The one module that starts processes.
//!
//! Host processes are the place where filters crash and hang, so every start here is bounded in
//! time and killed when the bound passes, and nothing is read through a pipe: under Wine the
//! first program in a prefix starts Wine's own services, which inherit the standard handles and
//! would hold a pipe open long after the host has gone. Output goes to files instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A program with the arguments and environment a backend needs to start it.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// How a bounded run ended.
#[derive(Debug)]
pub struct Finished {
    /// None when the process was killed for running past its time.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Killed for writing more than [`OUTPUT_LIMIT`] bytes.
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

/// Runs a helper command (wineboot, wineserver) to completion; fails on a non-zero exit.
pub fn run_to_end(launch: &Launch) -> anyhow::Result<()> {
    let mut command = command(launch);
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot start `{}`", launch.program.display()))?;
    if !output.success() {
        anyhow::bail!("`{}` failed ({output})", describe(launch));
    }
    Ok(())
}

/// Runs `launch` with `extra_args`, for at most `timeout`, capturing its output through files in
/// `scratch` (removed afterwards).
pub fn run_bounded(
    launch: &Launch,
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
    let mut child = command(launch)
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(launch)))?;
    // Polling keeps this free of threads and signals; the first checks come quickly because
    // most hosts are done within a few tens of milliseconds.
    let mut pause = Duration::from_micros(200);
    let mut flooded = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        flooded = std::fs::metadata(&stdout_path).is_ok_and(|meta| meta.len() > OUTPUT_LIMIT);
        if flooded || started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause);
        // At most a millisecond late: a 64-bit host takes about 25 ms in all, so a coarser
        // poll would show up in every figure the benchmark reports.
        pause = (pause * 2).min(Duration::from_millis(1));
    };
    let elapsed = started.elapsed();
    // Only the beginning is read: the report comes first, whatever a flooding filter wrote
    // after it is noise.
    let stdout = read_prefix(&stdout_path, OUTPUT_LIMIT);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stdout_path);
    let _ = std::fs::remove_file(&stderr_path);
    Ok(Finished { status, stdout, stderr, elapsed, flooded })
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
fn command(launch: &Launch) -> Command {
    let mut command = Command::new(&launch.program);
    command.args(&launch.args);
    for (key, value) in &launch.env {
        command.env(key, value);
    }
    command
}

fn describe(launch: &Launch) -> String {
    std::iter::once(launch.program.as_os_str())
        .chain(launch.args.iter().map(OsString::as_os_str))
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
