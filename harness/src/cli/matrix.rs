//! `isapi-harness matrix` (the regression table) and the hidden `bench` behind `cargo xtask bench`
//! (parse speed, from `parse_bench`, then the matrix against its bare host starts).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::arch::Bits;
use crate::host::{HostPlan, PlannedImage};
use crate::machine::{Machine, WinPath};
use crate::matrix::{self, CaseResult, Machines, Outcome};
use crate::report::{Printer, StepKind};
use crate::vocab::ImageKind;

pub fn run(args: super::MatrixArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.scenarios {
        Some(dir) => dir,
        None => crate::artifacts::Artifacts::locate()?.default_scenarios(),
    };
    let mut cases = matrix::load(&dir, &args.image_roots)?;
    if let Some(timeout_ms) = args.timeout_ms {
        for case in &mut cases {
            case.scenario.host_timeout = std::time::Duration::from_millis(timeout_ms);
        }
    }
    if let Some(filter) = &args.filter {
        let all = cases.len();
        cases.retain(|case| case.name.contains(filter.as_str()));
        // Running nothing would pass; a CI whose filter has a typo must not go green.
        if cases.is_empty() {
            anyhow::bail!(
                "--filter `{filter}` selects none of the {all} scenarios under `{}`; check the spelling (names look like matrix/x64-iis5-... or quirks/...)",
                dir.display()
            );
        }
    }
    let selected = cases.len();
    if let Some(shard) = args.shard {
        cases = shard.select(cases);
        if cases.is_empty() {
            // A shard of a suite smaller than the shard count: nothing to run is the right
            // answer here, unlike a --filter that matches nothing.
            eprintln!(
                "matrix: shard {shard} holds none of the {selected} scenarios; nothing to run"
            );
            if let Some(junit) = &args.junit {
                std::fs::write(junit, matrix::junit(&[], Duration::ZERO)).with_context(|| {
                    format!("cannot write the JUnit report `{}`", junit.display())
                })?;
            }
            if args.json {
                println!("{}", serde_json::json!({ "scenarios": [] }));
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some(junit) = &args.junit {
        // Fail on an unwritable report path now, not after the whole run.
        std::fs::write(junit, b"")
            .with_context(|| format!("cannot write the JUnit report `{}`", junit.display()))?;
    }
    let machine = Machine::open(args.backend)?;
    let backend = machine.backend();
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let total = cases.len();
    let printer = Printer::stdout();
    let started = Instant::now();
    let machines = matrix::Machines::Owned(Box::new(machine), args.backend);
    let results = matrix::run(machines, &cases, jobs, &|done, result| {
        // Progress goes to stderr so that --json output stays one clean object.
        let mark = if result.pass { "pass" } else { "FAIL" };
        eprintln!(
            "[{done:>3}/{total}] {mark} {} ({:.2} s)",
            result.name,
            result.elapsed.as_secs_f64()
        );
    });
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
            "matrix: {} scenarios in {:.2} s on {jobs} jobs ({backend} backend)",
            results.len(),
            elapsed.as_secs_f64(),
        );
        // The summary stays plain, one line, last: the form test-result readers look for.
        println!("matrix: {passed} passed, {} failed", results.len() - passed);
    }
    Ok(if passed == results.len() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_table(printer: &Printer, results: &[CaseResult]) {
    let width = results.iter().map(|result| result.name.len()).max().unwrap_or(10);
    for result in results {
        let Some(observed) = &result.observed else {
            let reason = result.failure().unwrap_or_default();
            printer.line(StepKind::Fail, &format!("{:<width$}  {reason}", result.name));
            continue;
        };
        let observed = Outcome::of(observed, &result.expected);
        let mut line = format!(
            "{:<width$}  {:<7}  {:<13} {:>6}  {:<10}  {}",
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
        // A failing row says why, fact by fact, so that nobody has to diff JSON to find it.
        if let Some(reason) = result.failure() {
            line.push_str(&format!("  ({reason})"));
        }
        printer.line(if result.pass { StepKind::Info } else { StepKind::Fail }, &line);
    }
}

/// Two scenarios per core: a host process spends much of its short life waiting (on the
/// wineserver, which serves one request at a time, or on the disk), so one per core leaves the
/// cores idle half the time; measured with `cargo xtask bench`.
fn default_jobs() -> usize {
    2 * std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// Times the matrix on one job and on every core, and the bare host starts it needed (the same
/// process kinds with no filter), all in this one run, and prints the ratios.
pub fn bench(args: super::BenchArgs) -> anyhow::Result<ExitCode> {
    // Parsing first: it needs no machine, and its figures are the same with or without one.
    for line in super::parse_bench::run()? {
        println!("{line}");
    }
    if args.parse_only {
        return Ok(ExitCode::SUCCESS);
    }
    let dir = match args.scenarios {
        Some(dir) => dir,
        None => crate::artifacts::Artifacts::locate()?.default_scenarios(),
    };
    let cases = matrix::load(&dir, &[])?;
    let backend = crate::machine::BackendChoice::Auto;
    let quiet = |_: usize, _: &CaseResult| {};
    // Each pass runs as `matrix` does (see matrix::run: a scenario with a DLL of unknown
    // origin would get a machine of its own, whose opening is timed); opening the run's first
    // machine, which `start` pays too, is not.
    let pass = |jobs: usize| -> anyhow::Result<(Duration, Vec<CaseResult>)> {
        let machine = Machine::open(backend)?;
        let started = Instant::now();
        let results = matrix::run(Machines::Owned(Box::new(machine), backend), &cases, jobs, &quiet);
        Ok((started.elapsed(), results))
    };
    // One warm-up pass: the first copy of each image and of Wine's files fills the page cache.
    pass(default_jobs())?;

    let mut figures = Vec::new();
    let mut one_job_results = Vec::new();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    for jobs in [1, cores, default_jobs()] {
        let (wall, results) = pass(jobs)?;
        let failed = results.iter().filter(|result| !result.pass).count();
        figures.push((jobs, wall, failed));
        if jobs == 1 {
            one_job_results = results;
        }
    }
    let machine = Machine::open(backend)?;

    // The baseline: the very host processes the matrix started, with the same filters and
    // flags, one after another, with their files already in place. What the matrix costs
    // beyond it is the harness (model, layout, reports) and what parallel runs win back.
    let mut same_hosts = Duration::ZERO;
    let mut bare_by_bits = [(Bits::B32, Duration::ZERO, 0u32), (Bits::B64, Duration::ZERO, 0u32)];
    let mut n_hosts = 0u32;
    for (case, result) in cases.iter().zip(&one_job_results) {
        for host in result.observed.iter().flat_map(|observed| &observed.hosts) {
            let paths: Vec<WinPath> = host
                .filters
                .iter()
                .map(|filter| WinPath::parse(&filter.path))
                .collect::<anyhow::Result<_>>()?;
            let layout = case.scenario.layout(machine.artifacts(), &paths)?;
            let _guard = machine.acquire(&layout)?;
            let plan = HostPlan {
                bits: host.bits,
                process: host.process,
                probes: Vec::new(),
                images: paths
                    .iter()
                    .map(|path| PlannedImage { kind: ImageKind::Filter, path: path.clone() })
                    .collect(),
                stop_at_first_failure: true,
                probe_before_load: true,
                request: true,
                timeout: case.scenario.host_timeout,
            };
            let started = Instant::now();
            machine.run_host(&plan)?;
            same_hosts += started.elapsed();
            n_hosts += 1;
            // And the same process with nothing to load: the floor a backend sets.
            let bare = HostPlan { images: Vec::new(), request: false, ..plan };
            let started = Instant::now();
            machine.run_host(&bare)?;
            for (bits, total, count) in &mut bare_by_bits {
                if *bits == host.bits {
                    *total += started.elapsed();
                    *count += 1;
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "bench: {} scenarios, {n_hosts} host starts ({} 32-bit, {} 64-bit), {} backend, {} cores",
        cases.len(),
        bare_by_bits[0].2,
        bare_by_bits[1].2,
        machine.backend(),
        cores
    )?;
    for (bits, total, count) in bare_by_bits.iter().filter(|(_, _, count)| *count > 0) {
        writeln!(
            out,
            "bench: a bare {bits} host start (nothing loaded): {:.1} ms on average",
            total.as_secs_f64() * 1000.0 / f64::from(*count)
        )?;
    }
    writeln!(
        out,
        "bench: the same host starts with the same loads, one after another: {:.3} s",
        same_hosts.as_secs_f64()
    )?;
    for (jobs, wall, failed) in figures {
        writeln!(
            out,
            "bench: matrix on {jobs} job(s): {:.3} s, ratio to the host starts alone {:.2}{}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / same_hosts.as_secs_f64().max(1e-9),
            if failed > 0 { format!(" ({failed} scenarios FAILED)") } else { String::new() }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
