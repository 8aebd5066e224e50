//! The regression matrix: scenarios on disk, each a metabase in IIS's own format beside a JSON
//! file with the OS, the images and the expected outcome; run in parallel on one machine.
//!
//! A case `NAME` is `NAME.xml` (the metabase) and `NAME.json`:
//!
//! ```json
//! { "os": "x64", "images": ["C:\\Filters\\x86\\filter.dll=x86"],
//!   "expected": { "started": false, "process": "inetinfo.exe", "bits": 64,
//!                 "loaded": false, "win32_error": 193, "status": null } }
//! ```
//!
//! `process`, `bits`, `loaded` and `win32_error` describe the first configured filter in the
//! first host process that tried it; `status` is the first request's HTTP status (null when no
//! request could be served). An optional `"events": [2274, 2268]` lists the event ids expected,
//! in order. An optional `"requests": [{"url": "http://shop.example.com/", "status": 503}]`
//! sends those requests instead of one `GET /` to each started site, and pins each answer.
//! An optional `"images": {"C:\\Filters\\mine.dll": {"loaded": false, "win32_error": 193}}`
//! pins facts per image, by its configured name or Windows path, at every place it was loaded
//! (see [`ExpectedImage`]); only the fields given are checked there. An optional
//! `"windows": "2019"` and `"installed": ["vc2015+-x64"]` say what the server holds, as
//! `--windows` and `--installed` do for `start`, and `"path": ["C:\\Vendor\\bin"]` the folders
//! its PATH adds, as `--path` does. An optional `"server": "copy"` names a copy of a
//! server (a folder, relative to the JSON; see `server_copy.rs`), run as `start --server` runs
//! it: the scenario's own keys, its configuration file and its images win over what the copy
//! says, and with a copy both the configuration beside the JSON and `os` may be left out.
//!
//! Both halves are required: a JSON without its configuration (`NAME.xml`, or `NAME.config` for
//! an applicationHost.config) and without a server copy, or a configuration without its JSON, is
//! an error rather than a case skipped in silence. An image given as a relative file path is
//! found beside the JSON, and an image file, like a server copy's folder, must lie in the
//! scenario's folder or under a folder allowed with `--image-root` (see `confine_image`).
//!
//! A scenario is a unit of failure: whatever goes wrong while it runs (a host that cannot start,
//! a report that does not parse, a wineserver a DLL ended) fails that scenario with its reason,
//! and the others run on a machine it cannot have spoiled (see [`run`]). With a sandbox every
//! scenario with a DLL of unknown origin has a pristine machine of its own, so nothing such a
//! DLL does reaches another scenario.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::arch::Os;
use crate::machine::{BackendChoice, Machine, Seed};
use crate::report::{HostOutcome, ImageOutcome, StartReport};
use crate::scenario::{ImageSpec, Scenario};
use crate::vocab::ImageKind;
use crate::winpath::WinPath;

mod expect;

use crate::report::matrix::server_ended;
pub use crate::report::matrix::{
    CaseResult, Difference, ExpectedImage, ExpectedRequest, Outcome, junit,
};
pub use expect::differences;

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub scenario: Scenario,
    pub expected: Outcome,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// Required unless a server copy says it.
    #[serde(default)]
    os: Option<Os>,
    /// A copy of a server, relative to the JSON (`start --server`).
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    images: Vec<String>,
    /// The server's Windows (`--windows`); the configuration kind's default when absent.
    #[serde(default)]
    windows: Option<crate::windows_loader::WindowsVersion>,
    /// The redistributables installed on the server (`--installed`).
    #[serde(default)]
    installed: Vec<crate::windows_loader::Redistributable>,
    /// The folders the server's PATH adds (`--path`), Windows paths.
    #[serde(default)]
    path: Vec<String>,
    expected: Outcome,
}

/// Loads every case under `dir`, checking each completely before anything runs. A scenario's
/// own files may lie in its folder or under one of `image_roots` (see [`load_case_allowing`]).
pub fn load(dir: &Path, image_roots: &[PathBuf]) -> anyhow::Result<Vec<Case>> {
    let mut files = Vec::new();
    collect_case_files(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!("no scenarios (NAME.json beside NAME.xml) under `{}`", dir.display());
    }
    let image_roots = resolve_image_roots(image_roots)?;
    files.iter().map(|json_path| load_case_allowing(dir, json_path, &image_roots)).collect()
}

/// The folders `matrix --image-root` allows, with their links resolved, as the images in them
/// will be.
pub fn resolve_image_roots(roots: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    roots
        .iter()
        .map(|root| match std::fs::canonicalize(root) {
            Ok(resolved) if resolved.is_dir() => Ok(resolved),
            Ok(_) => bail!("--image-root `{}` is not a folder; give a folder", root.display()),
            Err(error) => {
                bail!("--image-root `{}`: {error}; give a folder that exists", root.display())
            }
        })
        .collect()
}

/// Where a scenario's own file may come from: its folder, or a folder the user allowed.
/// Scenario folders come from other people (a pull request in a CI), and an image is copied
/// into the machine, where the DLL that reads it can hand it back in its report: an image path
/// such as `../secret` or `/proc/self/environ` would carry any file the harness can read into
/// `--json` and the JUnit report. Links are resolved first, so a link in the folder that points
/// out of it is out of it. Returns the resolved path, which is the one copied.
fn confine_image(
    name: &str,
    json_path: &Path,
    source: &Path,
    image_roots: &[PathBuf],
) -> anyhow::Result<PathBuf> {
    confine(name, json_path, source, image_roots, "image")
}

/// [`confine_image`] for any of a scenario's own files or folders, `what` naming it.
fn confine(
    name: &str,
    json_path: &Path,
    source: &Path,
    image_roots: &[PathBuf],
    what: &str,
) -> anyhow::Result<PathBuf> {
    let folder = json_path.parent().unwrap_or(Path::new("."));
    let folder = std::fs::canonicalize(folder).with_context(|| {
        format!("scenario `{name}`: cannot resolve its folder `{}`", folder.display())
    })?;
    let resolved = std::fs::canonicalize(source).with_context(|| {
        format!("scenario `{name}`: cannot resolve its {what} `{}`", source.display())
    })?;
    if resolved.starts_with(&folder) || image_roots.iter().any(|root| resolved.starts_with(root)) {
        return Ok(resolved);
    }
    bail!(
        "scenario `{name}` (`{}`): its {what} `{}` is outside the scenario's folder `{}`; move it into that folder, or allow its folder with `matrix --image-root DIR`",
        json_path.display(),
        resolved.display(),
        folder.display()
    )
}

/// One of N disjoint parts of a suite, for CI engines that run shards side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1 to `count`.
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N`, with I from 1 to N.
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: write I/N with I from 1 to N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Scenario number k (0-based) of the name-sorted suite belongs to shard I when
    /// k mod N = I - 1: a stable, disjoint partition whose union is the whole suite, and in
    /// which shards differ in size by one at most.
    pub fn select<T>(self, sorted: Vec<T>) -> Vec<T> {
        sorted
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index - 1)
            .map(|(_, item)| item)
            .collect()
    }
}

/// Loads one case, `json_path` with the metabase beside it; `root` only shortens its name. Its
/// own image files must lie in its folder.
pub fn load_case(root: &Path, json_path: &Path) -> anyhow::Result<Case> {
    load_case_allowing(root, json_path, &[])
}

/// [`load_case`], with image files also allowed under `image_roots` (resolved folders, see
/// [`resolve_image_roots`]). Any other image file is refused, naming the scenario and the path.
pub fn load_case_allowing(
    root: &Path,
    json_path: &Path,
    image_roots: &[PathBuf],
) -> anyhow::Result<Case> {
    let name = json_path
        .strip_prefix(root)
        .unwrap_or(json_path)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    let text = crate::input::read_regular_text(json_path).map_err(|refusal| {
        anyhow::anyhow!(
            "{}: cannot read the scenario: {refusal}; give a JSON file (a regular file, at most 256 MiB)",
            json_path.display()
        )
    })?;
    let case: CaseFile = serde_json::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "{}:{}: {error}; see the case format in harness/src/matrix/mod.rs",
            json_path.display(),
            error.line()
        )
    })?;
    let folder = json_path.parent();
    let server = match &case.server {
        Some(relative) => {
            let at = folder.unwrap_or(Path::new(".")).join(relative);
            let at = confine(&name, json_path, &at, image_roots, "server copy")?;
            Some(
                crate::server_copy::ServerCopy::read(&at)
                    .with_context(|| format!("in `{}`", json_path.display()))?,
            )
        }
        None => None,
    };
    let config = match (partner(json_path)?, &server) {
        (None, None) => bail!(
            "`{}` has no configuration beside it: add `{}` (or `.config`), name a server copy with \"server\", or remove the JSON",
            json_path.display(),
            json_path.with_extension("xml").display()
        ),
        (config, _) => config,
    };
    if case.os.is_none() && server.is_none() {
        bail!(
            "{}: no \"os\": say \"x64\" or \"x86\" (only a scenario with a server copy may leave it to the copy)",
            json_path.display()
        );
    }
    let given = crate::scenario::Given {
        config,
        os: case.os,
        windows: case.windows,
        installed: case.installed.clone(),
    };
    let mut scenario = Scenario::with_server(Some(name.clone()), given, server)?;
    for folder in &case.path {
        let folder = WinPath::parse(folder)
            .with_context(|| format!("in `{}`, `path`", json_path.display()))?;
        scenario.path.push(folder);
    }
    for image in &case.images {
        let (path, mut spec) = crate::scenario::parse_image_arg_in(image, folder)
            .with_context(|| format!("in `{}`", json_path.display()))?;
        if let ImageSpec::File(source) = &spec {
            spec = ImageSpec::File(confine_image(&name, json_path, source, image_roots)?);
        }
        scenario.add_image(path, spec).with_context(|| format!("in `{}`", json_path.display()))?;
    }
    for request in case.expected.requests.iter().flatten() {
        let url = crate::http_sys::RequestUrl::parse(&request.url)
            .map_err(|what| anyhow::anyhow!("{}: {what}", json_path.display()))?;
        scenario.requests.push(url);
    }
    crate::iis::check(&scenario).with_context(|| format!("in scenario `{name}`"))?;
    Ok(Case { name, scenario, expected: case.expected })
}

/// The extensions of a scenario's configuration file: `NAME.xml` (an IIS 6.0 MetaBase.xml) or
/// `NAME.config` (an applicationHost.config), beside `NAME.json`.
const CONFIG_EXTENSIONS: [&str; 2] = ["xml", "config"];

/// The configuration file beside a scenario's JSON: one at most (none only for a scenario whose
/// server copy has it).
fn partner(json_path: &Path) -> anyhow::Result<Option<PathBuf>> {
    let present: Vec<PathBuf> = CONFIG_EXTENSIONS
        .iter()
        .map(|ext| json_path.with_extension(ext))
        .filter(|path| path.exists())
        .collect();
    match present.as_slice() {
        [one] => Ok(Some(one.clone())),
        [] => Ok(None),
        _ => bail!(
            "`{}` has both `{}` and `{}` beside it; a scenario has one configuration, keep one",
            json_path.display(),
            present[0].display(),
            present[1].display()
        ),
    }
}

/// Finds the scenarios' JSON files, refusing a configuration file without its JSON (or a JSON
/// without its configuration): a half of a scenario skipped in silence would let a suite pass
/// that never ran the case.
fn collect_case_files(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the scenarios folder `{}`", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the scenarios folder `{}`", dir.display()))?
            .path();
        let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or_default();
        if path.is_dir() {
            // A server copy's folder (it holds server.json) is a scenario's data: its JSON and
            // its configuration files are no scenarios.
            if !path.join(crate::server_copy::MANIFEST).is_file() {
                collect_case_files(&path, files)?;
            }
        } else if extension == "json" {
            partner(&path)?;
            files.push(path);
        } else if CONFIG_EXTENSIONS.contains(&extension) && !path.with_extension("json").exists() {
            bail!(
                "`{}` has no `{}` beside it: a scenario is a configuration and its expectation; add the JSON or remove the file",
                path.display(),
                path.with_extension("json").display()
            );
        }
    }
    Ok(())
}

/// Where a matrix's scenarios run.
pub enum Machines<'a> {
    /// A machine the caller keeps (the test suite's shared one): it is never
    /// replaced, so a scenario that ends its wineserver fails, and so does every later one.
    Borrowed(&'a Machine),
    /// A machine the matrix owns, opened with this backend. The scenarios whose images are
    /// all the harness's own share it: after a scenario that ends with an error, or that
    /// leaves the machine without its wineserver, it is closed and a fresh one is opened for
    /// the next scenario. With a sandbox, a scenario with any other image (a DLL of unknown
    /// origin) runs on a pristine machine of its own that its [`Seed`] opens, closed when the
    /// scenario is done, so it never touches the shared one.
    Owned(Box<Machine>, BackendChoice),
}

/// The machine the scenarios share, and whether it is still fit to run the next one.
struct Slot<'a> {
    /// None when opening a fresh machine failed; the next scenario tries again.
    machine: Option<Held<'a>>,
    /// Counts the machines opened, so that a scenario replaces only the machine it ran on.
    generation: u64,
    fit: bool,
    /// Why the last machine could not be opened, for the scenario that needed it.
    open_error: Option<String>,
}

enum Held<'a> {
    Borrowed(&'a Machine),
    Owned(Box<Machine>),
}

impl Held<'_> {
    fn get(&self) -> &Machine {
        match self {
            Held::Borrowed(machine) => machine,
            Held::Owned(machine) => machine,
        }
    }
}

impl Slot<'_> {
    /// Closes the machine and opens a fresh one with `backend`. The old one is dropped first:
    /// a machine holds its folder's lock until it is closed.
    fn renew(&mut self, backend: BackendChoice) {
        self.machine = None;
        self.generation += 1;
        match Machine::open(backend) {
            Ok(machine) => {
                self.machine = Some(Held::Owned(Box::new(machine)));
                self.fit = true;
                self.open_error = None;
            }
            Err(error) => {
                self.fit = false;
                self.open_error = Some(format!("cannot open a fresh machine: {error:#}"));
            }
        }
    }
}

/// One run of a scenario on one machine: the report, or why there is none, and whether the
/// machine's wineserver outlived it.
struct Attempt {
    report: Option<StartReport>,
    error: Option<String>,
    server_survived: bool,
}

fn attempt(slot: &Slot<'_>, case: &Case) -> Attempt {
    let Some(machine) = slot.machine.as_ref().map(Held::get) else {
        let error = slot.open_error.clone().unwrap_or_else(|| "no machine to run on".to_owned());
        return Attempt { report: None, error: Some(error), server_survived: true };
    };
    attempt_on(machine, case)
}

fn attempt_on(machine: &Machine, case: &Case) -> Attempt {
    let (report, error) = match crate::iis::start(machine, &case.scenario) {
        Ok(report) => (Some(report), None),
        Err(error) => (None, Some(format!("{error:#}"))),
    };
    Attempt { report, error, server_survived: machine.server_running() }
}

/// Runs the cases on `jobs` threads; `progress` hears of each result as it arrives. Results
/// come back in the cases' order.
///
/// A scenario is a unit of failure: an error while it runs (a host that cannot start, a
/// report line that does not parse) fails that scenario with its reason, and the others go on.
/// On an owned machine the scenario that failed so leaves a fresh machine to the next one. When
/// the wineserver ends during a scenario, every scenario that shared it is run again, alone, on
/// a fresh machine: the one that ends the server again is the one that failed, and the others
/// get the result of their own run. With a sandbox, a scenario with a DLL of unknown origin
/// never shares: it runs on a pristine machine of its own ([`run_alone`]).
pub fn run(
    machines: Machines<'_>,
    cases: &[Case],
    jobs: usize,
    progress: &(dyn Fn(usize, &CaseResult) + Sync),
) -> Vec<CaseResult> {
    let (held, backend) = match machines {
        Machines::Borrowed(machine) => (Held::Borrowed(machine), None),
        Machines::Owned(machine, backend) => (Held::Owned(machine), Some(backend)),
    };
    // With a sandbox, a scenario with a DLL of unknown origin gets a machine of its own.
    let seed = match (&held, backend) {
        (Held::Owned(machine), Some(_)) => machine.seed(),
        _ => None,
    };
    let slot =
        RwLock::new(Slot { machine: Some(held), generation: 0, fit: true, open_error: None });
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CaseResult>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(cases.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let result = match &seed {
                        Some(seed) if !only_own_images(case, seed) => run_alone(seed, case),
                        _ => run_case(&slot, backend, case),
                    };
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, &result);
                    results.lock().expect("results lock poisoned")[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock poisoned")
        .into_iter()
        .map(|result| result.expect("every case ran"))
        .collect()
}

/// Runs `case` on a machine of its own, opened from `seed` and closed when it is done, so
/// whatever its DLLs wrote to the disk or the registry, or left running, ends with it. A
/// scenario that ends its wineserver here ran alone, so it is the one that fails.
fn run_alone(seed: &Seed, case: &Case) -> CaseResult {
    let started = Instant::now();
    let outcome = match seed.open() {
        Ok(machine) => attempt_on(&machine, case),
        Err(error) => Attempt {
            report: None,
            error: Some(format!("cannot open a machine for the scenario: {error:#}")),
            server_survived: true,
        },
    };
    case_result(case, outcome, started)
}

/// Whether every image `case` places is one of the harness's own builds (a mock, a synthetic
/// image, or a file among the built ones): those write nothing on the machine and leave
/// nothing running, so the scenario may share the run's machine. Any other file is a DLL of
/// unknown origin.
fn only_own_images(case: &Case, seed: &Seed) -> bool {
    // A server copy's files are someone's real DLLs.
    case.scenario.server.is_none()
        && case.scenario.images.iter().all(|(_, spec)| match spec {
            ImageSpec::File(source) => seed.artifacts().is_own(source),
            ImageSpec::Mock { .. } | ImageSpec::Synthetic(_) | ImageSpec::Missing => true,
        })
}

fn run_case(slot: &RwLock<Slot<'_>>, backend: Option<BackendChoice>, case: &Case) -> CaseResult {
    let started = Instant::now();
    let (generation, mut outcome) = loop {
        let shared = slot.read().expect("machine lock poisoned");
        if shared.fit || backend.is_none() {
            break (shared.generation, attempt(&shared, case));
        }
        drop(shared);
        let mut own = slot.write().expect("machine lock poisoned");
        if let (false, Some(backend)) = (own.fit, backend) {
            own.renew(backend);
            // Opening failed: this scenario fails with the reason rather than trying forever.
            if own.machine.is_none() {
                break (own.generation, attempt(&own, case));
            }
        }
    };
    if let Some(backend) = backend
        && (!outcome.server_survived || outcome.error.is_some())
    {
        let mut own = slot.write().expect("machine lock poisoned");
        let mut ran_on = generation;
        if !outcome.server_survived {
            // Any scenario that ran beside the one that ended the server saw it end too; run
            // this one again with the machine to itself to learn which it was.
            if own.generation == generation || !own.fit {
                own.renew(backend);
            }
            ran_on = own.generation;
            outcome = attempt(&own, case);
        }
        // What the scenario's DLLs did to the machine stays out of the next scenario; a
        // machine another scenario has already replaced is left alone.
        if (!outcome.server_survived || outcome.error.is_some()) && own.generation == ran_on {
            own.fit = false;
        }
    }
    case_result(case, outcome, started)
}

/// What a scenario's run comes to: its report checked against its expectation, or why it
/// could not be run.
fn case_result(case: &Case, outcome: Attempt, started: Instant) -> CaseResult {
    let error = match (outcome.error, outcome.server_survived) {
        (Some(error), true) => Some(error),
        (Some(error), false) => Some(server_ended(Some(&error))),
        (None, false) => Some(server_ended(None)),
        (None, true) => None,
    };
    let differences = match (&error, &outcome.report) {
        (None, Some(report)) => differences(&case.expected, report),
        _ => Vec::new(),
    };
    CaseResult {
        name: case.name.clone(),
        expected: case.expected.clone(),
        pass: error.is_none() && differences.is_empty(),
        observed: outcome.report,
        error,
        differences,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    #[test]
    fn shards_partition_the_suite() {
        for count in 1..=7 {
            for len in 0..=20 {
                let suite: Vec<usize> = (0..len).collect();
                let mut union: Vec<usize> = (1..=count)
                    .flat_map(|index| Shard { index, count }.select(suite.clone()))
                    .collect();
                union.sort();
                assert_eq!(union, suite, "{count} shards of {len}");
            }
        }
        assert_eq!(Shard { index: 2, count: 3 }.select((0..7).collect::<Vec<_>>()), [1, 4]);
    }

    #[test]
    fn shards_parse_as_i_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
