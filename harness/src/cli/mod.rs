//! The command line of `isapi-harness`: argument definitions and dispatch.
//!
//! Each subcommand lives in its own module with one `run` function. A `run` returns the exit
//! code for what it observed (0 all good, 1 a failure was observed and reported); any error it
//! returns is bad input or a broken environment, which `main` prints on one line and turns into
//! exit code 2.

mod adsutil;
mod appcmd;
mod aspnet_regiis;
mod bench;
mod collect;
mod diagnose;
mod doctor;
mod inspect;
mod matrix;
mod parse_bench;
mod repro;
mod schema;
pub(crate) mod start;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "isapi-harness",
    about = "Reproduces IIS 6.0's ISAPI filter bitness failures (Win32 error 193) with real loads",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ISAPI_HARNESS_COMMIT"), ")")
)]
pub struct Cli {
    /// Load DLLs of your own even where Wine cannot be sandboxed (no bubblewrap, or user
    /// namespaces refused): they then run with your rights.
    #[arg(long, global = true)]
    pub unsandboxed: bool,
    /// Keep the simulated machines (Wine prefix, sandbox) in DIR instead of `machine/` beside
    /// the host programs.
    #[arg(long, global = true, value_name = "DIR")]
    pub machine_dir: Option<PathBuf>,
    /// The memory every sandboxed run, or each matrix scenario on a machine of its own, may use in all (e.g. 2G,
    /// 512M; 0 for no limit).
    #[arg(long, global = true, value_name = "SIZE", default_value = "2G", value_parser = crate::machine::limits::size_argument)]
    pub memory_limit: crate::machine::limits::Limit,
    /// How many processes (threads count) a sandboxed run, or each matrix scenario on a machine of its own,
    /// have at once (0 for no limit).
    #[arg(long, global = true, value_name = "N", default_value = "256", value_parser = crate::machine::limits::count_argument)]
    pub process_limit: crate::machine::limits::Limit,
    /// How much a sandboxed run, or each matrix scenario on a machine of its own, may write to its machine's disks
    /// (e.g. 1G; 0 for no limit).
    #[arg(long, global = true, value_name = "SIZE", default_value = "1G", value_parser = crate::machine::limits::size_argument)]
    pub disk_limit: crate::machine::limits::Limit,
    #[command(subcommand)]
    pub command: Command,
}

/// `collect`: the server's drives (its live disks on Windows, else `--from`) and the folder to
/// write.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// The folder to write: new, or empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The server's system drive C:, mounted here (a VM disk, a backup); read, never written.
    /// Without it, the Windows build reads the machine it runs on.
    #[arg(long, value_name = "ROOT")]
    pub from: Option<PathBuf>,
    /// Another drive of the server the configuration names, mounted here (`D=/mnt/d`).
    /// Repeatable.
    #[arg(long = "drive", value_name = "LETTER=DIR", value_parser = crate::collect::drive::drive_argument)]
    pub drives: Vec<(char, PathBuf)>,
    /// The server's Windows, in place of what its registry says (or where it has none).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub windows: Option<crate::windows_loader::WindowsVersion>,
    /// The server's bitness, in place of what its registry says.
    #[arg(long, value_enum)]
    pub os: Option<crate::arch::Os>,
    /// A redistributable installed on the server, in place of the registry's list (as
    /// `start --installed`). Repeatable.
    #[arg(long, value_name = "NAME")]
    pub installed: Vec<crate::windows_loader::Redistributable>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start W3SVC on a simulated machine and load every filter for real.
    Start(StartArgs),
    /// Replay the seed case: reproduce W3SVC's error 193, then verify fixes A and B.
    Repro(ReproArgs),
    /// Predict each filter's fate from the configuration and headers; --verify proves it.
    Diagnose(DiagnoseArgs),
    /// Run the regression matrix: every configuration against its expected outcome.
    Matrix(MatrixArgs),
    /// Measure the matrix against the bare cost of the host processes it starts.
    #[command(hide = true)]
    Bench(BenchArgs),
    /// Edit or read a metabase the way adsutil.vbs does.
    Adsutil(AdsutilArgs),
    /// Edit or list an applicationHost.config the way appcmd.exe does (IIS 7+).
    Appcmd(AppcmdArgs),
    /// Register ASP.NET (its filter, script maps and Web Service Extension) the way aspnet_regiis -i does.
    #[command(name = "aspnet-regiis")]
    AspnetRegiis(AspnetRegiisArgs),
    /// Print what a DLL's headers say: architecture, code, ISAPI exports, .NET flags.
    Inspect(InspectArgs),
    /// Copy a server's configuration, its filters, extensions and modules and their
    /// dependencies into a folder that `start --server` runs (OS files recorded, not copied).
    Collect(CollectArgs),
    /// Say what this machine lacks to run the harness (Wine, bubblewrap, the built files) and
    /// the commands that install it.
    Doctor(DoctorArgs),
    /// Write the JSON Schema of every `--json` document into DIR (`cargo xtask schema`).
    #[command(hide = true)]
    Schema(SchemaArgs),
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The folder to write `start.json`, `repro.json`, ... into (the repository's `schema/`).
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The image file to read.
    pub dll: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What describes a simulated machine: shared by `start` and `diagnose`.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// The configuration of the simulated server: an IIS 6.0 MetaBase.xml or an IIS 7+
    /// applicationHost.config, told apart by content (`--metabase` is the same option).
    /// Required unless --server names a copy of the server, whose configuration it replaces.
    #[arg(long = "config", visible_alias = "metabase", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A copy of a real server: a folder with server.json and disk/<drive>/<path> (README, "A
    /// copy of your server"). Its files are placed at their Windows paths; --config, --os,
    /// --windows, --installed and --image win over what it says.
    #[arg(long, value_name = "DIR")]
    pub server: Option<PathBuf>,
    /// The bitness of the simulated Windows (default: the server copy's, else x64).
    #[arg(long, value_enum)]
    pub os: Option<crate::arch::Os>,
    /// Place an image at a Windows path: WINPATH=x86, WINPATH=amd64, WINPATH=x86:VARIANT,
    /// WINPATH=odd:NAME, or WINPATH=FILE (your own DLL). Repeatable.
    #[arg(long = "image", value_name = "WINPATH=SPEC")]
    pub images: Vec<String>,
    /// Which real loader to use.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: crate::machine::BackendChoice,
    /// A request to send: `http://host[:port]/path`, routed to a site by its bindings, or
    /// `/path` for the started site with the lowest id. Repeatable; without it, one `GET /`
    /// goes to each started site.
    #[arg(long = "request", value_name = "URL")]
    pub request_urls: Vec<String>,
    /// How many times each request is sent (rapid-fail protection needs repetition).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub requests: u32,
    /// How long a host process may run before it is ended, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub timeout_ms: u64,
    /// The server's Windows, which decides what its disk holds for Windows's loader rules
    /// (default: 2003 for a MetaBase.xml; 2019 for an applicationHost.config, 2008 with
    /// `--os x86`).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub windows: Option<crate::windows_loader::WindowsVersion>,
    /// A redistributable installed on the server: vc2005, vc2008, vc2010, vc2012, vc2013 or
    /// vc2015+, each with -x86 or -x64, or msxml4. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub installed: Vec<crate::windows_loader::Redistributable>,
    /// A folder of the server's PATH, after Windows's default system PATH
    /// (`%SystemRoot%\system32;%SystemRoot%;%SystemRoot%\System32\Wbem`): searched last for
    /// an image's dependencies. A Windows path, e.g. `C:\Program Files\Vendor\bin`.
    /// Repeatable, in order.
    #[arg(long = "path", value_name = "FOLDER", value_parser = crate::winpath::WinPath::parse)]
    pub path: Vec<crate::winpath::WinPath>,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Print one JSON object instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Print every loaded image on its own line (IIS 7+'s stock modules read as one line
    /// otherwise).
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Also load every filter for real, compare, and try each remedy on a copy.
    #[arg(long)]
    pub verify: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReproArgs {
    /// Which seed to replay: 6, the IIS 6.0 case (the default), or 10, its IIS 10 twin.
    #[arg(long, value_enum, default_value = "6")]
    pub iis: crate::repro::Seed,
    /// Print one JSON object instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Print every loaded image on its own line (IIS 7+'s stock modules read as one line
    /// otherwise).
    #[arg(long)]
    pub verbose: bool,
    /// How long a host process may run before it is ended, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub timeout_ms: u64,
    /// Which real loader to use.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: crate::machine::BackendChoice,
}

#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report (one test case per scenario) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The folder of scenarios (a metabase file and an expectation per case).
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Run only the scenarios whose name contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Run only shard I of N (I from 1 to N): scenario k of the name-sorted list when
    /// k mod N = I - 1, after --filter.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::matrix::Shard>,
    /// How many scenarios run at once (default: three per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Which real loader to use.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: crate::machine::BackendChoice,
    /// Also allow scenarios' image files under this folder (repeatable); by default a
    /// scenario's own DLL must lie in the scenario's folder.
    #[arg(long = "image-root", value_name = "DIR")]
    pub image_roots: Vec<PathBuf>,
    /// How long a host process may run before it is ended, in milliseconds, for every
    /// scenario (a scenario's own timeout otherwise, 10 s unless it says).
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The folder of scenarios to time.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Only time reading big metabases (100,000 keys; 200,000 attributes): needs no machine.
    #[arg(long)]
    pub parse_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct AdsutilArgs {
    /// The metabase.xml to read or edit.
    #[arg(long)]
    pub metabase: PathBuf,
    #[command(subcommand)]
    pub action: AdsutilAction,
}

#[derive(Debug, Subcommand)]
pub enum AdsutilAction {
    /// Print one property, e.g. `W3SVC/AppPools/Enable32BitAppOnWin64`.
    Get { path: String },
    /// Set one property, e.g. `W3SVC/IIs5IsolationModeEnabled 0`.
    Set { path: String, value: String },
    /// Delete one property or key.
    Delete { path: String },
    /// List the properties and subkeys of a key, e.g. `W3SVC/Filters`.
    Enum { path: String },
}

#[derive(Debug, clap::Args)]
pub struct AppcmdArgs {
    /// The applicationHost.config to read or edit.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The command as on Windows, e.g. `set apppool "DefaultAppPool" /enable32BitAppOnWin64:false`
    /// or `list apppool`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AspnetRegiisArgs {
    /// The metabase.xml to edit.
    #[arg(long)]
    pub metabase: PathBuf,
    /// Which Framework folder aspnet_regiis.exe is run from: `x86` (Framework) or `amd64`
    /// (Framework64).
    #[arg(long)]
    pub framework: crate::arch::Arch,
    /// The Windows folder the Framework lives under.
    #[arg(long, default_value = r"C:\WINDOWS")]
    pub windir: String,
    /// The bitness of the Windows the tool runs on: on x64 each tool runs only while IIS runs
    /// worker processes of its own bitness.
    #[arg(long, value_enum, default_value = "x64")]
    pub os: crate::arch::Os,
    /// Install this version of ASP.NET (required; the only action modelled).
    #[arg(short = 'i', required = true)]
    pub install: bool,
    /// Also allow ASP.NET in the Web Service Extension list.
    #[arg(long = "enable", short = 'e')]
    pub enable: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.unsandboxed {
        crate::machine::allow_unsandboxed();
    }
    if let Some(dir) = &cli.machine_dir {
        crate::artifacts::set_machine_dir(dir)?;
    }
    crate::machine::set_limits(crate::machine::limits::Requested {
        memory: cli.memory_limit.0,
        processes: cli.process_limit.0,
        disk: cli.disk_limit.0,
    });
    match cli.command {
        Command::Start(args) => start::run(args),
        Command::Repro(args) => repro::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Matrix(args) => matrix::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Adsutil(args) => adsutil::run(args),
        Command::Appcmd(args) => appcmd::run(args),
        Command::AspnetRegiis(args) => aspnet_regiis::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Schema(args) => schema::run(args),
    }
}
