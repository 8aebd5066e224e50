//! The fixed cost of one `isapi-harness start` beside that of one cold Wine process, measured
//! side by side in one run (the second half of `cargo xtask bench`).
//!
//! A `start` of the seed scenario (one 64-bit `inetinfo.exe`) opens the machine (its lock, the
//! prefix's repair, the sandbox with its wineserver, a warm-up host), runs the host and ends
//! everything. The cold Wine process is the bare floor: `wine64` starting the same host
//! program with no server running, in a prefix of its own (`target/windows-gnu/prefix`), server
//! start included; its server is stopped by its prefix after each run, untimed, so that every
//! run is cold. The two alternate, so that a machine busy with something else weighs on both.

use std::time::{Duration, Instant};

use anyhow::Context;
use xshell::{Shell, cmd};

const RUNS: usize = 7;

pub fn run(sh: &Shell) -> anyhow::Result<()> {
    crate::windows_gnu::ensure_prefix(sh)?;
    let cargo = crate::cargo();
    cmd!(sh, "{cargo} build --quiet --release --package harness --bin isapi-harness").run()?;
    let target = crate::artifacts::dir().parent().expect("inside target").to_owned();
    let harness = target.join("release").join("isapi-harness");
    let seed = crate::project_root().join("tests/scenarios/quirks/bom-crlf-v64-namespace.xml");
    let host = crate::artifacts::dir().join("hosts/amd64/inetinfo.exe");
    let wine64 = crate::setup::WINE64;
    let mut starts = Vec::new();
    let mut colds = Vec::new();
    for _ in 0..RUNS {
        let began = Instant::now();
        // Exit code 1: the seed's failure was observed, which is what it shows.
        cmd!(sh, "{harness} start --metabase {seed}")
            .env("ISAPI_HARNESS_DIR", crate::artifacts::dir())
            .ignore_status()
            .ignore_stdout()
            .ignore_stderr()
            .quiet()
            .run()
            .context("cannot run isapi-harness start")?;
        starts.push(began.elapsed());

        let mut cold = cmd!(sh, "{wine64} {host}").ignore_stdout().ignore_stderr().quiet();
        for (key, value) in crate::windows_gnu::wine_env() {
            cold = cold.env(key, value);
        }
        let began = Instant::now();
        cold.run().context("cannot run the host under a cold Wine")?;
        colds.push(began.elapsed());
        crate::windows_gnu::stop_server(sh);
    }
    let start = median(&mut starts);
    let cold = median(&mut colds);
    println!(
        "bench: one `start` (one 64-bit host): {:.3} s; one cold Wine process (server start \
         included): {:.3} s; ratio {:.2} (medians of {RUNS}, side by side)",
        start.as_secs_f64(),
        cold.as_secs_f64(),
        start.as_secs_f64() / cold.as_secs_f64()
    );
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
