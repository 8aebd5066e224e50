//! Wine 8's answers for a filter's dependencies, measured: each test places a `mock-deps/`
//! filter (or pywin32's real `PyISAPI_loader.dll`) with what it imports from in one folder and
//! loads it in a real host process, 32-bit with the x86 builds and 64-bit with the AMD64 ones.
//!
//! Each test is one row of the "Measured" table of `shared/reference/windows-loader-vs-wine.md`
//! and asserts **Wine's** answer as the host reports it. Where Windows answers differently, the
//! doc comment says what Windows answers; these tests do not assert it (the dependency
//! resolver's tests do, from the same sheet). A future Wine that changes a row fails its test
//! here, which is how a rule that corrects Wine's answer learns that it no longer applies.
//!
//! Only on the Wine backend: on the windows backend the loader is Windows's own, whose answers
//! are the other column.

use std::path::PathBuf;

use harness::arch::{Arch, Bits};
use harness::host::ImageLoad;
use harness::scenario::ImageSpec;
use harness::vocab::{HostEnd, Win32Error};
use rstest::rstest;

use crate::support::{load_in_host, machine, tests_dir};

/// What dep.dll's DllMain prints (mock-deps/dep.c).
const DEP_ATTACHED: &str = "mock-deps dep.dll attached";
/// What the vendor's msvcr100.dll prints when its own code runs (mock-deps/msvcr100.c).
const VENDOR_CRT_ATTACHED: &str = "mock-deps vendor msvcr100.dll attached";

/// A file `cargo xtask build` made from `mock-deps/` for `arch`.
fn fixture(arch: Arch, name: &str) -> ImageSpec {
    let path = machine().artifacts().root().join("deps").join(arch.dir_name()).join(name);
    assert!(path.is_file(), "`{}` is not built: run `cargo xtask build`", path.display());
    ImageSpec::File(path)
}

/// The other architecture, for a dependency of the wrong bitness.
fn other(arch: Arch) -> Arch {
    match arch {
        Arch::X86 => Arch::Amd64,
        _ => Arch::X86,
    }
}

/// Places the filter `filter` of the host's architecture in `C:\it\deps\<case>-<bits>\`, with
/// `beside` (file name, content) in the same folder, loads the filter as IIS does and returns
/// its story.
fn load_beside(bits: Bits, case: &str, filter: &str, beside: &[(&str, ImageSpec)]) -> ImageLoad {
    let folder = format!(r"C:\it\deps\{case}-{}", bits.number());
    let path = format!(r"{folder}\{filter}");
    let mut images = vec![(path.clone(), fixture(bits.host_arch(), filter))];
    images.extend(beside.iter().map(|(name, spec)| (format!(r"{folder}\{name}"), spec.clone())));
    let images: Vec<(&str, ImageSpec)> =
        images.iter().map(|(path, spec)| (path.as_str(), spec.clone())).collect();
    let run = load_in_host(bits, &images, &[&path]);
    assert_eq!(run.end, HostEnd::Completed, "{run:?}");
    assert_eq!(run.bits, bits);
    run.images.into_iter().next().expect("the host reported the filter")
}

/// The filter loaded and GetFilterVersion ran: the mock's own description proves it.
fn assert_loaded_and_ran(filter: &ImageLoad, bits: Bits, name: &str) {
    assert_eq!(filter.load, Some(Ok(())), "{filter:?}");
    let version = filter.version.as_ref().expect("GetFilterVersion was called");
    assert!(version.accepted, "{filter:?}");
    let variant = name.trim_end_matches(".dll");
    assert_eq!(version.description, format!("Mock ISAPI filter ({}, {variant})", bits.host_arch()));
    assert_eq!(filter.terminated, Some(true), "{filter:?}");
}

fn assert_refused(filter: &ImageLoad, error: Win32Error) {
    assert_eq!(filter.load, Some(Err(error)), "{filter:?}");
    assert!(filter.exports.is_none() && filter.version.is_none(), "{filter:?}");
}

fn printed(filter: &ImageLoad, line: &str) -> bool {
    filter.output.iter().any(|printed| printed.trim_end() == line)
}

/// Row "a dependency is missing"'s good twin: dep.dll beside the filter exports `dep_fn`, so
/// the filter loads, on Windows and on Wine, and dep.dll's own DllMain ran.
#[rstest]
fn a_dependency_that_exports_the_import_loads(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let arch = bits.host_arch();
    let filter =
        load_beside(bits, "present", "imports_dep.dll", &[("dep.dll", fixture(arch, "dep.dll"))]);
    assert_loaded_and_ran(&filter, bits, "imports_dep");
    assert!(printed(&filter, DEP_ATTACHED), "dep.dll's DllMain ran: {filter:?}");
}

/// Row "imports a name its dependency does not export": Windows answers 127
/// (STATUS_ENTRYPOINT_NOT_FOUND). Wine 8 loads the filter, a stub standing in for `dep_missing`.
#[rstest]
fn wine_loads_a_filter_whose_imported_name_is_missing(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let arch = bits.host_arch();
    let filter = load_beside(
        bits,
        "missing-name",
        "imports_dep_missing_name.dll",
        &[("dep.dll", fixture(arch, "dep.dll"))],
    );
    assert_loaded_and_ran(&filter, bits, "imports_dep_missing_name");
}

/// Row "imports an ordinal the dependency lacks": Windows answers 182 (ERROR_INVALID_ORDINAL).
/// Wine 8 loads the filter with a stub for ordinal 77.
#[rstest]
fn wine_loads_a_filter_whose_imported_ordinal_is_missing(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let arch = bits.host_arch();
    let filter = load_beside(
        bits,
        "missing-ordinal",
        "imports_dep_missing_ordinal.dll",
        &[("dep.dll", fixture(arch, "dep.dll"))],
    );
    assert_loaded_and_ran(&filter, bits, "imports_dep_missing_ordinal");
}

/// Row "a dependency is missing": 126 on Windows and on Wine.
#[rstest]
fn a_missing_dependency_is_126(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let filter = load_beside(bits, "dep-missing", "imports_dep.dll", &[]);
    assert_refused(&filter, Win32Error::MOD_NOT_FOUND);
}

/// Row "the only copy of a dependency is the other bitness": Windows answers 193
/// (STATUS_INVALID_IMAGE_FORMAT). Wine 8 answers 126: every failed import becomes
/// STATUS_DLL_NOT_FOUND.
#[rstest]
fn wine_answers_126_for_a_dependency_of_the_other_bitness(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let wrong = other(bits.host_arch());
    let filter = load_beside(
        bits,
        "dep-other-bitness",
        "imports_dep.dll",
        &[("dep.dll", fixture(wrong, "dep.dll"))],
    );
    assert_refused(&filter, Win32Error::MOD_NOT_FOUND);
}

/// Row "a dependency that is not a PE file": Windows answers 193. Wine 8 answers 126. The
/// dependency is the build's text file (`filters/odd/text.dll`) under the name dep.dll.
#[rstest]
fn wine_answers_126_for_a_dependency_that_is_not_an_image(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let text: PathBuf = machine().artifacts().root().join("filters").join("odd").join("text.dll");
    assert!(text.is_file(), "`{}` is not built: run `cargo xtask build`", text.display());
    let filter =
        load_beside(bits, "dep-not-pe", "imports_dep.dll", &[("dep.dll", ImageSpec::File(text))]);
    assert_refused(&filter, Win32Error::MOD_NOT_FOUND);
}

/// Row "a dependency's DllMain returns FALSE": 1114 (ERROR_DLL_INIT_FAILED) on Windows and on
/// Wine.
#[rstest]
fn a_dependency_whose_dllmain_fails_is_1114(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let arch = bits.host_arch();
    let filter = load_beside(
        bits,
        "dep-init-fails",
        "imports_dep_init.dll",
        &[("dep_init_fails.dll", fixture(arch, "dep_init_fails.dll"))],
    );
    assert_refused(&filter, Win32Error::DLL_INIT_FAILED);
}

/// Row "delay-loaded import of something missing": the filter loads on Windows and on Wine;
/// only a call to `dep_fn` would fail (dep_absent.dll never exists).
#[rstest]
fn a_delay_loaded_missing_dependency_loads(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let filter = load_beside(bits, "delay-load", "delay_imports_dep.dll", &[]);
    assert_loaded_and_ran(&filter, bits, "delay_imports_dep");
}

/// Row "imports through a forwarder whose target DLL or function is missing": Windows
/// probably answers 126 here (the forwarder's target DLL, dep_absent.dll, does not exist).
/// Wine 8 loads the filter with a stub.
#[rstest]
fn wine_loads_a_filter_whose_import_forwards_to_nothing(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let arch = bits.host_arch();
    let filter = load_beside(
        bits,
        "forwarder",
        "imports_forwarded.dll",
        &[("dep_forwarder.dll", fixture(arch, "dep_forwarder.dll"))],
    );
    assert_loaded_and_ran(&filter, bits, "imports_forwarded");
}

/// Row "imports `vcruntime140`, `msvcr71/90/100/...` on a server without that
/// redistributable": Windows answers 126. Wine 8 loads the filter through its builtin copy;
/// no file of that name is placed anywhere.
#[rstest]
fn wine_loads_c_runtime_imports_through_its_builtin_copies(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
    #[values("imports_msvcr100.dll", "imports_vcruntime140.dll")] filter: &str,
) {
    let case = filter.trim_end_matches(".dll").replace('_', "-");
    let loaded = load_beside(bits, &case, filter, &[]);
    assert_loaded_and_ran(&loaded, bits, filter);
}

/// Row "the vendor ships an app-local `msvcr100.dll` beside its DLL": Windows runs the vendor's
/// copy. Wine 8 loads the filter and runs its builtin msvcr100 under the vendor's file name:
/// the vendor copy's DllMain, which prints a line, never runs.
#[rstest]
fn wine_runs_its_builtin_c_runtime_over_an_app_local_copy(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let arch = bits.host_arch();
    let filter = load_beside(
        bits,
        "app-local-msvcr100",
        "imports_msvcr100.dll",
        &[("msvcr100.dll", fixture(arch, "msvcr100.dll"))],
    );
    assert_loaded_and_ran(&filter, bits, "imports_msvcr100");
    assert!(!printed(&filter, VENDOR_CRT_ATTACHED), "the vendor's copy ran: {filter:?}");
}

/// Row "a manifest needs `Microsoft.VC90.CRT` and the server has no VC++ 2008 runtime":
/// Windows answers 14001 (ERROR_SXS_CANT_GEN_ACTCTX). Wine 8 loads the filter.
#[rstest]
fn wine_loads_a_filter_whose_manifest_needs_the_vc90_crt(
    #[values(Bits::B32, Bits::B64)] bits: Bits,
) {
    let filter = load_beside(bits, "manifest-vc90", "manifest_vc90.dll", &[]);
    assert_loaded_and_ran(&filter, bits, "manifest_vc90");
}

/// Row "imports `mfc42.dll`": Windows loads the filter (it ships mfc42.dll). Wine 8 has no
/// mfc42 and answers 126.
#[rstest]
fn wine_answers_126_for_an_mfc42_import(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let filter = load_beside(bits, "mfc42", "imports_mfc42.dll", &[]);
    assert_refused(&filter, Win32Error::MOD_NOT_FOUND);
}

/// Row "imports `mscoree.dll` on a server with .NET": Windows loads the filter. The harness's
/// hosts run with `WINEDLLOVERRIDES=mscoree,mshtml=`, which disables Wine's mscoree: 126.
#[rstest]
fn the_hosts_answer_126_for_an_mscoree_import(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let filter = load_beside(bits, "mscoree", "imports_mscoree.dll", &[]);
    assert_refused(&filter, Win32Error::MOD_NOT_FOUND);
}

/// pywin32's real `PyISAPI_loader.dll` (tests/data/real/pywin32/, NOTICE-pywin32.md), alone in
/// its folder. It imports `python311.dll`, which is nowhere: the build of the host's
/// architecture gets 126 (on Windows too, a missing dependency), the other build 193 (the
/// image itself is of the other bitness, which the loader checks before any import).
#[rstest]
#[case::host64_amd64_lacks_python(Bits::B64, Arch::Amd64, Win32Error::MOD_NOT_FOUND)]
#[case::host64_refuses_x86(Bits::B64, Arch::X86, Win32Error::BAD_EXE_FORMAT)]
#[case::host32_x86_lacks_python(Bits::B32, Arch::X86, Win32Error::MOD_NOT_FOUND)]
#[case::host32_refuses_amd64(Bits::B32, Arch::Amd64, Win32Error::BAD_EXE_FORMAT)]
fn pywin32_isapi_loader_without_python(
    #[case] bits: Bits,
    #[case] arch: Arch,
    #[case] error: Win32Error,
) {
    let file =
        tests_dir().join("data/real/pywin32").join(arch.dir_name()).join("PyISAPI_loader.dll");
    let path =
        format!(r"C:\it\deps\pywin32-{}-{}\PyISAPI_loader.dll", bits.number(), arch.dir_name());
    let run = load_in_host(bits, &[(&path, ImageSpec::File(file))], &[&path]);
    assert_eq!(run.end, HostEnd::Completed, "{run:?}");
    assert_refused(&run.images[0], error);
}

/// The rows as `doctor` measures them (`harness::rule_rows`): every row with a crafted case,
/// in both bitnesses, answers on this Wine as the row says; the cases above are the same rows
/// measured one by one.
#[test]
fn every_row_doctor_measures_holds_on_this_wine() {
    let measured = harness::rule_rows::measure(machine()).expect("the fixtures are built");
    assert_eq!(measured.len(), 16, "8 rows with a crafted case, 2 bitnesses: {measured:?}");
    let differing: Vec<_> = measured.iter().filter(|row| !row.holds()).collect();
    assert!(differing.is_empty(), "{differing:#?}");
}
