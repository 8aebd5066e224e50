//! `cargo xtask stress [SCALE]`: thousands of host starts, to catch what fails one time in
//! thousands (Wine failing a process start before the program runs, a race between runs).
//!
//! Hundreds of back-to-back `start` runs, dozens of `matrix` runs, a few `bench` runs, and then
//! runs two at a time on two machines (a second artifacts folder whose `hosts`, `filters` and `extensions`
//! are links to the first, so it has a Wine prefix and a sandbox of its own). Every run's exit
//! code is checked against what it should be; every failure is printed with its reason, and
//! the totals at the end say how many host starts there were, how many Wine had to start again
//! (`start_attempts` above 1 in the JSON), and how many runs failed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use xshell::{Shell, cmd};

/// One run of the harness and what it should exit with.
#[derive(Clone)]
struct Run {
    args: Vec<String>,
    expect: i32,
}

#[derive(Default)]
struct Totals {
    runs: u64,
    failed_runs: u64,
    /// Host starts a JSON report counted (each host's `start_attempts`, summed).
    host_starts: u64,
    /// Starts beyond the first for a host (Wine failed the start before the host ran).
    restarts: u64,
    /// Starts the JSON does not show: each run's warm-up host, and a bench's own starts.
    other_starts: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.runs += other.runs;
        self.failed_runs += other.failed_runs;
        self.host_starts += other.host_starts;
        self.restarts += other.restarts;
        self.other_starts += other.other_starts;
    }
}

pub fn run(sh: &Shell, args: &[String]) -> anyhow::Result<()> {
    let scale: u64 = match args.first() {
        Some(scale) => scale
            .parse()
            .context("usage: cargo xtask stress [SCALE] (a whole number, default 1)")?,
        None => 1,
    };
    let cargo = crate::cargo();
    cmd!(sh, "{cargo} build --quiet --release --package harness --bin isapi-harness").run()?;
    let bin = crate::project_root().join("target/release/isapi-harness");
    let first = crate::artifacts::dir();
    let second = second_machine(&first)?;
    let scenarios = crate::project_root().join("tests/scenarios");
    let metabase = |name: &str| scenarios.join(name).display().to_string();
    let start = |name: &str, extra: &[&str], expect: i32| Run {
        args: ["start", "--metabase", &metabase(name), "--json"]
            .iter()
            .chain(extra)
            .map(|arg| arg.to_string())
            .collect(),
        expect,
    };
    // A 32-bit worker that loads, the seed's failing 64-bit inetinfo (exit 1), a 64-bit
    // inetinfo that loads, and a worker that is started once per request.
    let starts = [
        start("quirks/lowercase-key-paths.xml", &[], 0),
        start("quirks/bom-crlf-v64-namespace.xml", &[], 1),
        start(
            "matrix/x64-iis5-true-e32-absent-amd64.xml",
            &[r"--image", r"C:\Filters\amd64\mockfilter.dll=amd64"],
            0,
        ),
        start(
            "matrix/x64-iis5-false-e32-apppools-x86.xml",
            &["--image", r"C:\Filters\x86\mockfilter.dll=x86", "--requests", "5"],
            0,
        ),
    ];
    let matrix = Run { args: vec!["matrix".into(), "--json".into()], expect: 0 };
    let bench = Run { args: vec!["bench".into()], expect: 0 };

    let began = Instant::now();
    let mut totals = Totals::default();
    println!("stress: {} back-to-back start runs", 300 * scale);
    for round in 0..300 * scale {
        let run = &starts[usize::try_from(round).unwrap_or(0) % starts.len()];
        totals.add(execute(&bin, &first, run));
    }
    println!("stress: {} back-to-back matrix runs", 30 * scale);
    for _ in 0..30 * scale {
        totals.add(execute(&bin, &first, &matrix));
    }
    println!("stress: {} bench runs", 3 * scale);
    for _ in 0..3 * scale {
        totals.add(execute(&bin, &first, &bench));
    }
    println!(
        "stress: {} pairs of start runs and {} pairs of matrix runs, two machines at once",
        60 * scale,
        10 * scale
    );
    for round in 0..60 * scale {
        let run = &starts[usize::try_from(round).unwrap_or(0) % starts.len()];
        totals.add(pair(&bin, &first, &second, run));
    }
    for _ in 0..10 * scale {
        totals.add(pair(&bin, &first, &second, &matrix));
    }
    println!(
        "stress: {} runs in {:.0} s: {} host starts reported ({} of them starts again after Wine failed one), \
         about {} more (warm-up and bench starts), {} failed runs",
        totals.runs,
        began.elapsed().as_secs_f64(),
        totals.host_starts,
        totals.restarts,
        totals.other_starts,
        totals.failed_runs
    );
    if totals.failed_runs > 0 {
        anyhow::bail!(
            "stress: {} of {} runs failed (reasons above)",
            totals.failed_runs,
            totals.runs
        );
    }
    Ok(())
}

/// The same run on both machines at once.
fn pair(bin: &Path, first: &Path, second: &Path, run: &Run) -> Totals {
    std::thread::scope(|scope| {
        let other = scope.spawn(|| execute(bin, second, run));
        let mut totals = execute(bin, first, run);
        totals.add(other.join().unwrap_or_else(|_| Totals {
            runs: 1,
            failed_runs: 1,
            ..Totals::default()
        }));
        totals
    })
}

/// Runs the harness once on the machine under `artifacts` and checks its exit code.
fn execute(bin: &Path, artifacts: &Path, run: &Run) -> Totals {
    let mut totals = Totals { runs: 1, other_starts: 1, ..Totals::default() };
    let outcome = Shell::new().and_then(|sh| {
        let args = &run.args;
        cmd!(sh, "{bin} {args...}")
            .env("ISAPI_HARNESS_DIR", artifacts)
            .env("NO_COLOR", "1")
            .quiet()
            .ignore_status()
            .output()
    });
    let output = match outcome {
        Ok(output) => output,
        Err(error) => {
            println!("stress: FAILED `{}`: cannot run it: {error}", run.args.join(" "));
            totals.failed_runs = 1;
            return totals;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    for attempts in stdout.split("\"start_attempts\":").skip(1) {
        let number: String =
            attempts.trim_start().chars().take_while(char::is_ascii_digit).collect();
        let attempts: u64 = number.parse().unwrap_or(1);
        totals.host_starts += attempts;
        totals.restarts += attempts.saturating_sub(1);
    }
    // bench prints "N host starts"; it starts them about six times over (four matrix passes,
    // then each host twice more for the baseline).
    if let Some(line) = stdout.lines().find(|line| line.contains(" host starts (")) {
        let n: u64 = line
            .split(", ")
            .nth(1)
            .and_then(|part| part.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        totals.other_starts += 6 * n;
    }
    // What Wine said when it failed a start that the harness then made again.
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        if line.contains("starting it again") {
            println!("stress: {line}");
        }
    }
    let code = output.status.code().unwrap_or(-1);
    if code != run.expect {
        totals.failed_runs = 1;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|line| !line.starts_with('['))
            .unwrap_or("it printed nothing on stderr");
        println!(
            "stress: FAILED `isapi-harness {}` on `{}`: exit {code} (expected {}): {reason}",
            run.args.join(" "),
            artifacts.display(),
            run.expect
        );
    }
    totals
}

/// A second artifacts folder whose programs are the first's, with a machine of its own.
fn second_machine(first: &Path) -> anyhow::Result<PathBuf> {
    let second = first.join("stress-machine");
    std::fs::create_dir_all(&second)?;
    for part in ["hosts", "filters", "extensions"] {
        let link = second.join(part);
        if std::fs::symlink_metadata(&link).is_err() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(first.join(part), &link)
                .with_context(|| format!("cannot link `{}`", link.display()))?;
            #[cfg(windows)]
            std::os::windows::fs::symlink_dir(first.join(part), &link)
                .with_context(|| format!("cannot link `{}`", link.display()))?;
        }
    }
    Ok(second)
}
