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
    let pass = |jobs: usize| -> anyhow::Result<(Duration, CpuTime, Vec<CaseResult>)> {
        let machine = Machine::open(backend)?;
        let cpu = CpuTime::now();
        let started = Instant::now();
        let results =
            matrix::run(Machines::Owned(Box::new(machine), backend), &cases, jobs, &quiet);
        Ok((started.elapsed(), CpuTime::now() - cpu, results))
    };
    // One warm-up pass: the first copy of each image and of Wine's files fills the page cache.
    pass(super::matrix::default_jobs())?;

    let mut figures = Vec::new();
    let mut one_job_results = Vec::new();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    for jobs in [1, cores, super::matrix::default_jobs()] {
        let (wall, cpu, results) = pass(jobs)?;
        let failed = results.iter().filter(|result| !result.pass).count();
        figures.push((jobs, wall, cpu, failed));
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
    let mut same_hosts_cpu = CpuTime::default();
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
            let cpu = CpuTime::now();
            let started = Instant::now();
            machine.run_host(&plan)?;
            same_hosts += started.elapsed();
            same_hosts_cpu = same_hosts_cpu + (CpuTime::now() - cpu);
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
        "bench: the same host starts with the same loads, one after another: {:.3} s{}",
        same_hosts.as_secs_f64(),
        same_hosts_cpu.busy_cores()
    )?;
    // A run on every core with no cost of its own would take the CPU time the host starts
    // need, spread over all cores: the lowest ratio the matrix could reach on this machine.
    if let Some(busy) = same_hosts_cpu.busy_seconds() {
        writeln!(
            out,
            "bench: the lowest ratio a matrix on {cores} cores could reach (the host starts' CPU time spread over every core): {:.2}",
            busy / cores as f64 / same_hosts.as_secs_f64().max(1e-9)
        )?;
    }
    let bare_total: Duration = bare_by_bits.iter().map(|(_, total, _)| *total).sum();
    writeln!(
        out,
        "bench: Windows's loader rules for the same images (files read afresh per start): {:.1} ms in all, {:.1}% of the bare host starts",
        resolving.as_secs_f64() * 1000.0,
        100.0 * resolving.as_secs_f64() / bare_total.as_secs_f64().max(1e-9)
    )?;
    for (jobs, wall, cpu, failed) in figures {
        writeln!(
            out,
            "bench: matrix on {jobs} job(s): {:.3} s{}, ratio to the host starts alone {:.2}{}",
            wall.as_secs_f64(),
            cpu.busy_cores(),
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

/// The whole machine's CPU time, busy and in all, from the kernel's counters (`/proc/stat`,
/// in clock ticks), where there are such counters. The host processes are not all the
/// harness's children (the wineserver is the sandbox's), so only the machine's counters see
/// all of their work; the bench runs on a quiet machine.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTime {
    ticks: Option<(u64, u64)>,
}

impl CpuTime {
    fn now() -> Self {
        let ticks = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            // The first line sums every CPU of the machine.
            let line = stat.lines().next()?;
            let fields: Vec<u64> =
                line.split_whitespace().skip(1).map_while(|field| field.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
            let total: u64 = fields.iter().take(8).sum();
            let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
            Some((total - idle, total))
        });
        CpuTime { ticks }
    }

    fn busy_seconds(self) -> Option<f64> {
        // Linux reports these counters in USER_HZ, 100 a second on every architecture.
        self.ticks.map(|(busy, _)| busy as f64 / 100.0)
    }

    /// ", N.NN of C cores busy", or nothing where the counters are missing. C is the
    /// machine's CPUs that the counters sum (`cpuN` lines), which a run restricted to fewer
    /// cores would not use all of.
    fn busy_cores(self) -> String {
        let cpus = std::fs::read_to_string("/proc/stat").map_or(0, |stat| {
            stat.lines()
                .filter(|line| {
                    line.strip_prefix("cpu")
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                })
                .count()
        });
        match self.ticks {
            Some((busy, total)) if total > 0 && cpus > 0 => {
                format!(", {:.2} of {cpus} cores busy", cpus as f64 * busy as f64 / total as f64)
            }
            _ => String::new(),
        }
    }
}

impl std::ops::Sub for CpuTime {
    type Output = CpuTime;
    fn sub(self, earlier: CpuTime) -> CpuTime {
        let ticks = match (self.ticks, earlier.ticks) {
            (Some((busy, total)), Some((was_busy, was_total))) => {
                Some((busy.saturating_sub(was_busy), total.saturating_sub(was_total)))
            }
            _ => None,
        };
        CpuTime { ticks }
    }
}

impl std::ops::Add for CpuTime {
    type Output = CpuTime;
    fn add(self, other: CpuTime) -> CpuTime {
        let ticks = match (self.ticks, other.ticks) {
            (Some((busy, total)), Some((more_busy, more_total))) => {
                Some((busy + more_busy, total + more_total))
            }
            (Some(ticks), None) | (None, Some(ticks)) => Some(ticks),
            (None, None) => None,
        };
        CpuTime { ticks }
    }
}

fn print_parse_figures() -> anyhow::Result<ExitCode> {
    for line in super::parse_bench::run()? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
