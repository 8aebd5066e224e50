//! The project's build system: `cargo xtask <command>`.
//!
//! - `setup`: install what a fresh machine lacks (mingw-w64, Wine with its 32-bit modules, the
//!   Rust Windows targets), or say exactly what to run where it cannot act.
//! - `build`: the host programs and the mock filters, for x86 and AMD64, under
//!   `target/isapi-harness/`.
//! - `repro`: the main job, the seed case replayed with real loads.
//! - `test`: the test suite, against real builds.
//! - `bench`: the matrix's wall time against the bare cost of the host starts it needed, then
//!   one `start` beside one cold Wine process and their ratio.
//! - `stress [SCALE]`: thousands of host starts (back-to-back and two runs at a time), with
//!   every failure and its reason, and the totals.
//! - `dist [DIR]`: one self-contained folder (the binary, the hosts, the mock filters, the
//!   scenarios) that runs wherever it is moved; `target/dist/isapi-harness` by default.
//!   `dist --check` is `release --check`.
//! - `release [DIR]`: this platform's release archive with its `.sha256`
//!   (`isapi-harness-X.Y.Z-x86_64-linux.tar.gz`; the zip on Windows); `release --check` builds
//!   it, unpacks it in a temporary folder and runs the seed replay, a matrix shard and `doctor`
//!   from there.
//! - `schema`: the JSON Schema of every command's `--json` document, generated from the types
//!   that serialise it, written into `schema/` (a test of the harness fails while they differ).
//! - `windows-gnu`: the harness and its tests built for both `*-pc-windows-gnu` targets and run
//!   under Wine on the windows backend (Linux only).
//! - `ci`: everything CI checks, in order.
//!
//! Every command that needs a toolchain calls `setup` first, so a newcomer's first command works.

mod artifacts;
mod ci;
mod dist;
mod fixed_cost;
mod mock_deps;
mod odd_images;
mod release;
mod setup;
mod stress;
mod windows_gnu;

use std::path::{Path, PathBuf};

use anyhow::bail;
use xshell::{Shell, cmd};

fn main() -> anyhow::Result<()> {
    let sh = project_shell()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!(
            "usage: cargo xtask <setup|build|repro|test|bench|stress|dist|release|schema|windows-gnu|ci>"
        );
    };
    match command.as_str() {
        "setup" => setup::run(&sh),
        "build" => build(&sh),
        "repro" => {
            // The harness compiles while the mock DLLs do: on a fresh clone the two are most of
            // the wait, and neither needs the other. It is the dev build `cargo xtask test`
            // builds and tests too (see the dev profile in Cargo.toml): from nothing it takes
            // 60 s on 2 cores, the release build 130 s, and the seed replay starts a few hosts,
            // not hundreds.
            setup::ensure(&sh)?;
            artifacts::build_with(
                &sh,
                vec![Box::new(|| {
                    let sh = project_shell()?;
                    let cargo = cargo();
                    cmd!(sh, "{cargo} build --quiet --package harness --bin isapi-harness")
                        .run()?;
                    Ok(())
                })],
            )?;
            let repro = |extra: &[String]| tested_harness(&sh, "repro", extra);
            // Without --iis, both seeds: the IIS 6.0 case and its IIS 10 twin.
            if rest.iter().any(|arg| arg.starts_with("--iis")) {
                repro(rest)
            } else {
                let iis6 = repro(rest);
                let mut iis10 = rest.to_vec();
                iis10.extend(["--iis".to_owned(), "10".to_owned()]);
                iis6.and(repro(&iis10))
            }
        }
        "test" => {
            build(&sh)?;
            test(&sh, rest)
        }
        "bench" => {
            build(&sh)?;
            harness(&sh, "bench", rest)?;
            if rest.iter().any(|arg| arg == "--parse-only") || cfg!(windows) {
                return Ok(());
            }
            fixed_cost::run(&sh)
        }
        "stress" => {
            build(&sh)?;
            stress::run(&sh, rest)
        }
        "dist" => match rest.first().map(String::as_str) {
            Some("--check") => release::check(&sh),
            Some(dir) => dist::write(&sh, &std::path::absolute(dir)?),
            None => dist::write(&sh, &dist::default_dir()),
        },
        "release" => match rest.first().map(String::as_str) {
            Some("--check") => release::check(&sh),
            Some(dir) => release::write(&sh, &std::path::absolute(dir)?).map(drop),
            None => release::write(&sh, &release::default_dir()).map(drop),
        },
        "ci" => ci::run(&sh),
        "schema" => schema(&sh),
        "windows-gnu" => {
            build(&sh)?;
            windows_gnu::run(&sh)
        }
        // How the windows-gnu step starts its Windows programs; not meant to be typed.
        "wine-runner" => windows_gnu::run_one(rest),
        other => bail!(
            "unknown xtask command `{other}`: expected setup, build, repro, test, bench, stress, dist, release, schema, windows-gnu or ci"
        ),
    }
}

/// Provisions toolchains if needed, then builds hosts and mock filters.
fn build(sh: &Shell) -> anyhow::Result<()> {
    setup::ensure(sh)?;
    artifacts::build(sh)
}

/// The test command README.md shows. The suite loads real DLLs in real 32- and 64-bit processes.
///
/// The `cli` suite runs the real binary. Built here, in one cargo run with the suites, it gets
/// their feature resolution (their dev-dependencies turn on more of syn's features, which
/// reaches serde and clap); built by the suite itself (`cargo build -p harness`), it was a
/// second build of the harness and half its dependencies. CI's later steps run it too.
fn test(sh: &Shell, extra: &[String]) -> anyhow::Result<()> {
    let cargo = cargo();
    // Another profile or target than the plain one: the suite builds what it needs itself.
    let plain =
        !extra.iter().any(|arg| ["--release", "--profile", "--target"].contains(&arg.as_str()));
    let mut test =
        cmd!(sh, "{cargo} test --workspace {extra...}").env("ISAPI_HARNESS_DIR", artifacts::dir());
    // Two tests per core: the suites' tests spend most of their time waiting on Wine's
    // processes. On 2 cores the `it` suite took 80 s on 2 threads and 62 s on 4, the `cli`
    // suite 61-82 s and 53 s; 6 threads were no faster. A thread count of the caller's wins.
    if std::env::var_os("RUST_TEST_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        test = test.env("RUST_TEST_THREADS", (2 * cores).to_string());
    }
    if plain {
        cmd!(sh, "{cargo} build --quiet --workspace --tests --bin isapi-harness").run()?;
        test = test.env("ISAPI_HARNESS_BIN", tested_binary());
    }
    test.run()?;
    Ok(())
}

/// The binary `test` builds beside the suites, which CI's seed replay and matrix run as well.
pub fn tested_binary() -> PathBuf {
    artifacts::dir()
        .with_file_name("debug")
        .join(format!("isapi-harness{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the harness CLI (release build: the matrix and the benchmark start many processes).
fn harness(sh: &Shell, subcommand: &str, extra: &[String]) -> anyhow::Result<()> {
    let cargo = cargo();
    cmd!(sh, "{cargo} run --quiet --release --package harness --bin isapi-harness -- {subcommand} {extra...}")
        .env("ISAPI_HARNESS_DIR", artifacts::dir())
        .run()?;
    Ok(())
}

/// Writes `schema/` from the types (a debug build: it only serialises schemas; no toolchain for
/// Windows is needed, so no setup either).
fn schema(sh: &Shell) -> anyhow::Result<()> {
    let cargo = cargo();
    let dir = project_root().join("schema");
    cmd!(sh, "{cargo} run --quiet --package harness --bin isapi-harness -- schema {dir}").run()?;
    println!("schema: wrote `{}`", dir.display());
    Ok(())
}

/// Runs the dev build of the binary (`tested_binary`): the one the test step tests, and `repro`'s.
fn tested_harness(sh: &Shell, subcommand: &str, extra: &[String]) -> anyhow::Result<()> {
    let binary = tested_binary();
    cmd!(sh, "{binary} {subcommand} {extra...}")
        .env("ISAPI_HARNESS_DIR", artifacts::dir())
        .run()?;
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// A shell in the workspace's root: the xtask's own, and one per thread that runs commands
/// beside it (a `Shell` keeps its folder and environment for one thread).
fn project_shell() -> anyhow::Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}
