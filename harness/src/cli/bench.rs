//! The hidden `bench` behind `cargo xtask bench`: parse speed (from `parse_bench`), then the
//! matrix against its bare host starts. Its figures are for whoever tunes the harness, not a
//! user's words, so they are written here and not under `report/`.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::arch::Bits;
use crate::host::{HostPlan, PlannedImage};
use crate::machine::{Machine, WinPath};
use crate::matrix::{self, CaseResult, Machines};
use crate::vocab::ImageKind;

/// Times the matrix on one job and on every core, and the bare host starts it needed (the same
/// process kinds with no filter), all in this one run, and prints the ratios.
pub fn run(args: super::BenchArgs) -> anyhow::Result<ExitCode> {
    if args.parse_only {
        return print_parse_figures();
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
        let results =
            matrix::run(Machines::Owned(Box::new(machine), backend), &cases, jobs, &quiet);
        Ok((started.elapsed(), results))
    };
    // One warm-up pass: the first copy of each image and of Wine's files fills the page cache.
    pass(super::matrix::default_jobs())?;

    let mut figures = Vec::new();
    let mut one_job_results = Vec::new();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    for jobs in [1, cores, super::matrix::default_jobs()] {
        let (wall, results) = pass(jobs)?;
        let failed = results.iter().filter(|result| !result.pass).count();
        figures.push((jobs, wall, failed));
        if jobs == 1 {
            one_job_results = results;
        }
    }
    let machine = Machine::open(backend)?;

    // The baseline: the very host processes the matrix started, with the same images (each
    // loaded as its kind) and flags, one after another, with their files already in place.
    // What the matrix costs beyond it is the harness (model, layout, reports) and what
    // parallel runs win back.
    let mut same_hosts = Duration::ZERO;
    // Windows's loader rules for the same images, each start with a fresh read of the files,
    // as a start does: what the rules add to a start.
    let mut resolving = Duration::ZERO;
    let mut bare_by_bits = [(Bits::B32, Duration::ZERO, 0u32), (Bits::B64, Duration::ZERO, 0u32)];
    let mut n_hosts = 0u32;
    for (case, result) in cases.iter().zip(&one_job_results) {
        for host in result.observed.iter().flat_map(|observed| &observed.hosts) {
            // Every image the process was asked for, each as its kind: modules, filters and
            // extensions, in load order.
            let kinds = [
                (ImageKind::Module, &host.modules),
                (ImageKind::Filter, &host.filters),
                (ImageKind::Extension, &host.extensions),
            ];
            let images: Vec<PlannedImage> = kinds
                .into_iter()
                .flat_map(|(kind, outcomes)| outcomes.iter().map(move |image| (kind, image)))
                .map(|(kind, image)| Ok(PlannedImage { kind, path: WinPath::parse(&image.path)? }))
                .collect::<anyhow::Result<_>>()?;
            let paths: Vec<WinPath> = images.iter().map(|image| image.path.clone()).collect();
            let layout = case.scenario.layout(machine.artifacts(), &paths)?;
            let _guard = machine.acquire(&layout)?;
            let started = Instant::now();
            let disk = machine.loader_disk();
            let search = case.scenario.loader_search();
            for path in &paths {
                crate::windows_loader::resolve(&disk, &search, path, host.bits);
            }
            resolving += started.elapsed();
            let plan = HostPlan {
                bits: host.bits,
                process: host.process,
                probes: Vec::new(),
                images,
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
    let bare_total: Duration = bare_by_bits.iter().map(|(_, total, _)| *total).sum();
    writeln!(
        out,
        "bench: Windows's loader rules for the same images (files read afresh per start): {:.1} ms in all, {:.1}% of the bare host starts",
        resolving.as_secs_f64() * 1000.0,
        100.0 * resolving.as_secs_f64() / bare_total.as_secs_f64().max(1e-9)
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
    drop(out);
    // Parsing last: its large configurations leave this process a heap of a few hundred MB,
    // and every host start forks this process (the sandbox's set-up runs between fork and
    // exec), so parsing first made each later fork copy that much more and the matrix figures
    // slower than a `matrix` run's.
    print_parse_figures()
}

fn print_parse_figures() -> anyhow::Result<ExitCode> {
    for line in super::parse_bench::run()? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
