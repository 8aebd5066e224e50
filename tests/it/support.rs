//! What every test module shares: the one simulated machine of this test binary, and helpers to
//! run a host or a scenario on it.
//!
//! The machine is opened once and shared by every test thread, as the matrix shares it: one
//! Wine prefix, one wineserver. Each test places its images at paths of its own, so tests in
//! parallel never wait for each other's files. The machine is never dropped (statics are not);
//! its sandbox (with the wineserver) and the machine lock end with this process.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use harness::arch::Bits;
use harness::arch::Os;
use harness::host::{HostPlan, HostRun, PlannedImage};
use harness::machine::{BackendChoice, Content, Layout, Machine, WinPath};
use harness::metabase::Metabase;
use harness::scenario::{ImageSpec, Scenario};
use harness::vocab::{ImageKind, ProcessName};

static MACHINE: LazyLock<Machine> = LazyLock::new(|| {
    Machine::open(BackendChoice::Auto).unwrap_or_else(|error| {
        panic!(
            "cannot open the simulated machine: {error:#}\n\
             The suite loads real DLLs in real 32- and 64-bit processes and needs the toolchains \
             and the built artifacts: run `cargo xtask test` (it runs `cargo xtask setup` and \
             `cargo xtask build` first)."
        )
    })
});

pub fn machine() -> &'static Machine {
    &MACHINE
}

/// The folder of this crate, where the scenario files are.
pub fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn win(path: &str) -> WinPath {
    WinPath::parse(path).unwrap_or_else(|error| panic!("bad test path `{path}`: {error}"))
}

/// A dependency fixture of `mock-deps/` (`cargo xtask build` puts them in `deps/<arch>/`).
pub fn dependency_fixture(arch: harness::arch::Arch, name: &str) -> ImageSpec {
    let path = machine().artifacts().root().join("deps").join(arch.dir_name()).join(name);
    assert!(path.is_file(), "`{}` is not built: run `cargo xtask build`", path.display());
    ImageSpec::File(path)
}

/// Places `images` on the machine and loads `load` (in order) as filters in one host process.
pub fn load_in_host(bits: Bits, images: &[(&str, ImageSpec)], load: &[&str]) -> HostRun {
    load_kind_in_host(bits, ImageKind::Filter, images, load)
}

/// [`load_in_host`] for images of any kind.
pub fn load_kind_in_host(
    bits: Bits,
    kind: ImageKind,
    images: &[(&str, ImageSpec)],
    load: &[&str],
) -> HostRun {
    let machine = machine();
    let mut layout = Layout::default();
    for (path, spec) in images {
        let source: PathBuf = spec.source(machine.artifacts()).expect("the image is built");
        layout.set(win(path), Content::Copy(source));
    }
    let paths: Vec<WinPath> = load.iter().map(|path| win(path)).collect();
    for path in &paths {
        layout.require_nothing_unless_set(path.clone());
    }
    let _guard = machine.acquire(&layout).expect("the layout can be placed");
    let plan = HostPlan {
        bits,
        process: ProcessName::W3wp,
        probes: Vec::new(),
        images: paths.into_iter().map(|path| PlannedImage { kind, path }).collect(),
        stop_at_first_failure: false,
        // The loader's own answer, also for a file that is not there.
        probe_before_load: false,
        request: true,
        timeout: Duration::from_secs(30),
    };
    machine.run_host(&plan).expect("the host program runs")
}

/// A server with one global filter at `C:\it\<name>\filter.dll` holding `image` (or nothing),
/// in IIS 5.0 isolation mode or worker process isolation mode, with `Enable32BitAppOnWin64` set
/// at AppPools or absent. Host processes get two seconds, so a hang costs little.
pub fn one_filter_server(
    name: &str,
    os: Os,
    iis5: bool,
    enable_32bit: bool,
    image: Option<ImageSpec>,
) -> Scenario {
    let path = format!(r"C:\it\{name}\filter.dll");
    let pools = if enable_32bit {
        "<IIsApplicationPools\tLocation =\"/LM/W3SVC/AppPools\"\r\n\t\tEnable32BitAppOnWin64=\"TRUE\"\r\n\t>\r\n</IIsApplicationPools>\r\n"
    } else {
        ""
    };
    let text = format!(
        "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n\
         <IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tIIs5IsolationModeEnabled=\"{}\"\r\n\t>\r\n</IIsWebService>\r\n{pools}\
         <IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t\tFilterLoadOrder=\"TestFilter\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/Filters/TestFilter\"\r\n\t\tFilterPath=\"{path}\"\r\n\t>\r\n</IIsFilter>\r\n\
         </MBProperty>\r\n</configuration>\r\n",
        if iis5 { "TRUE" } else { "FALSE" }
    );
    let metabase = Metabase::parse(&text, Path::new(&format!("{name}.xml")))
        .expect("the test metabase parses");
    let mut scenario = Scenario::new(name, os, metabase);
    if let Some(image) = image {
        scenario.images.push((win(&path), image));
    }
    scenario.host_timeout = Duration::from_secs(2);
    scenario
}
