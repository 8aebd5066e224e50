//! `isapi-harness matrix`: the regression table.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::machine::Machine;
use crate::matrix;
use crate::report::{self, Printer};

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
            eprintln!("{}", report::matrix::empty_shard(shard, selected));
            if let Some(junit) = &args.junit {
                write_junit(junit, &matrix::junit(&[], Duration::ZERO))?;
            }
            if args.json {
                println!(
                    "{}",
                    report::json::render(&report::matrix::MatrixReport { scenarios: &[] })?
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some(junit) = &args.junit {
        // Fail on an unwritable report path now, not after the whole run.
        write_junit(junit, "")?;
    }
    let machine = Machine::open(args.backend)?;
    let backend = machine.backend();
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let total = cases.len();
    let started = Instant::now();
    let machines = matrix::Machines::Owned(Box::new(machine), args.backend);
    let results = matrix::run(machines, &cases, jobs, &|done, result| {
        // Progress goes to stderr so that --json output stays one clean object.
        eprintln!("{}", report::matrix::progress(done, total, result));
    });
    let elapsed = started.elapsed();
    if let Some(junit) = &args.junit {
        write_junit(junit, &matrix::junit(&results, elapsed))?;
    }
    let all_passed = results.iter().all(|result| result.pass);
    if args.json {
        println!(
            "{}",
            report::json::render(&report::matrix::MatrixReport { scenarios: &results })?
        );
    } else {
        Printer::stdout().steps(&report::matrix::table(&results));
        eprintln!("{}", report::matrix::timing(results.len(), elapsed, jobs, backend));
        // The summary stays plain, one line, last: the form test-result readers look for.
        println!("{}", report::matrix::summary(&results));
    }
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_junit(path: &std::path::Path, xml: &str) -> anyhow::Result<()> {
    let shown = path.display();
    std::fs::write(path, xml).with_context(|| format!("cannot write the JUnit report `{shown}`"))
}

/// Three scenarios per core: a host process spends much of its short life waiting (on the
/// wineserver, which serves one request at a time, or on the disk), so one per core leaves the
/// cores idle much of the time. Measured on 2 cores (`matrix --jobs N`, release build): the
/// default scenarios took 4.9 s on 4 jobs, 4.3 s on 6 and 4.4 s on 8.
pub(super) fn default_jobs() -> usize {
    3 * std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}
