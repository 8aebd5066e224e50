//! `isapi-harness matrix` (the regression table) and the hidden `bench` behind `cargo xtask bench`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::arch::Bits;
use crate::artifacts::ProcessName;
use crate::host::HostRequest;
use crate::machine::Machine;
use crate::matrix::{self, CaseResult, Outcome};
use crate::report::{Printer, StepKind};

pub fn run(args: super::MatrixArgs) -> anyhow::Result<ExitCode> {
    let dir = args.scenarios.unwrap_or_else(|| PathBuf::from(matrix::DEFAULT_SCENARIOS));
    let mut cases = matrix::load(&dir)?;
    if let Some(filter) = &args.filter {
        cases.retain(|case| case.name.contains(filter.as_str()));
    }
    if let Some(junit) = &args.junit {
        // Fail on an unwritable report path now, not after the whole run.
        std::fs::write(junit, b"")
            .with_context(|| format!("cannot write the JUnit report `{}`", junit.display()))?;
    }
    let machine = Machine::open(args.backend)?;
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let total = cases.len();
    let printer = Printer::stdout();
    let started = Instant::now();
    let results = matrix::run(&machine, &cases, jobs, &|done, result| {
        // Progress goes to stderr so that --json output stays one clean object.
        let mark = if result.pass { "pass" } else { "FAIL" };
        eprintln!(
            "[{done:>3}/{total}] {mark} {} ({:.2} s)",
            result.name,
            result.elapsed.as_secs_f64()
        );
    })?;
    let elapsed = started.elapsed();
    if let Some(junit) = &args.junit {
        std::fs::write(junit, matrix::junit(&results, elapsed))
            .with_context(|| format!("cannot write the JUnit report `{}`", junit.display()))?;
    }
    let passed = results.iter().filter(|result| result.pass).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "scenarios": results }))?);
    } else {
        print_table(&printer, &results);
        eprintln!(
            "matrix: {} scenarios in {:.2} s on {jobs} jobs ({} backend)",
            results.len(),
            elapsed.as_secs_f64(),
            machine.backend_name()
        );
        // The summary stays plain, one line, last: the form test-result readers look for.
        println!("matrix: {passed} passed, {} failed", results.len() - passed);
    }
    Ok(if passed == results.len() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_table(printer: &Printer, results: &[CaseResult]) {
    let width = results.iter().map(|result| result.name.len()).max().unwrap_or(10);
    for result in results {
        let observed = Outcome::of(&result.observed, false);
        let line = format!(
            "{:<width$}  {:<7}  {:<13} {:>2}  {:<10}  {}",
            result.name,
            if observed.started { "started" } else { "failed" },
            observed.process.as_deref().unwrap_or("-"),
            observed.bits.map(|bits| bits.to_string()).unwrap_or_else(|| "-".into()),
            match (observed.loaded, observed.win32_error) {
                (Some(true), _) => "loaded".to_owned(),
                (_, Some(error)) => format!("error {error}"),
                _ => "-".to_owned(),
            },
            observed
                .status
                .map(|status| format!("HTTP {status}"))
                .unwrap_or_else(|| "no request".into()),
        );
        printer.line(if result.pass { StepKind::Info } else { StepKind::Fail }, &line);
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// Times the matrix on one job and on every core, and the bare host starts it needed (the same
/// process kinds with no filter), all in this one run, and prints the ratios.
pub fn bench(args: super::BenchArgs) -> anyhow::Result<ExitCode> {
    let dir = args.scenarios.unwrap_or_else(|| PathBuf::from(matrix::DEFAULT_SCENARIOS));
    let cases = matrix::load(&dir)?;
    let machine = Machine::open(crate::machine::BackendChoice::Auto)?;
    let quiet = |_: usize, _: &CaseResult| {};
    // One warm-up pass: the first host in a fresh wineserver also starts Wine's own services.
    matrix::run(&machine, &cases[..1], 1, &quiet)?;

    let mut figures = Vec::new();
    let mut host_starts: Vec<(Bits, ProcessName)> = Vec::new();
    for jobs in [1, default_jobs()] {
        let started = Instant::now();
        let results = matrix::run(&machine, &cases, jobs, &quiet)?;
        let wall = started.elapsed();
        if jobs == 1 {
            host_starts = results
                .iter()
                .flat_map(|r| r.observed.hosts.iter().map(|h| (h.bits, h.process)))
                .collect();
        }
        let failed = results.iter().filter(|result| !result.pass).count();
        figures.push((jobs, wall, failed));
    }

    let mut bare = Duration::ZERO;
    let mut bare_by_bits = [(Bits::B32, Duration::ZERO, 0u32), (Bits::B64, Duration::ZERO, 0u32)];
    for &(bits, process) in &host_starts {
        let request = HostRequest {
            bits,
            process,
            stop_at_first_failure: true,
            request: false,
            timeout: Duration::from_secs(30),
        };
        let started = Instant::now();
        machine.run_host(&request, &[])?;
        let took = started.elapsed();
        bare += took;
        for (kind, total, count) in &mut bare_by_bits {
            if *kind == bits {
                *total += took;
                *count += 1;
            }
        }
    }
    let n32 = bare_by_bits[0].2;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "bench: {} scenarios, {} host starts ({} 32-bit, {} 64-bit), {} backend, {} cores",
        cases.len(),
        host_starts.len(),
        n32,
        host_starts.len() as u32 - n32,
        machine.backend_name(),
        default_jobs()
    )?;
    for (bits, total, count) in bare_by_bits.iter().filter(|(_, _, count)| *count > 0) {
        writeln!(
            out,
            "bench: a bare {bits} host start: {:.1} ms on average",
            total.as_secs_f64() * 1000.0 / f64::from(*count)
        )?;
    }
    writeln!(out, "bench: bare host starts, one after another: {:.3} s", bare.as_secs_f64())?;
    for (jobs, wall, failed) in figures {
        writeln!(
            out,
            "bench: matrix on {jobs} job(s): {:.3} s, ratio to bare starts {:.2}{}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / bare.as_secs_f64().max(1e-9),
            if failed > 0 { format!(" ({failed} scenarios FAILED)") } else { String::new() }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
