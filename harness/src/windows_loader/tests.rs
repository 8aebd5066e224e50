//! The rules on a disk held in memory. Each expected answer is Windows's, as the row of
//! `windows-loader-vs-wine.md` (or the source) named beside it says.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::pe::test_image::TestImage;
use crate::pe::{ExportedAs, ImportedDll, inspect_bytes};

#[derive(Default)]
struct MemoryDisk {
    files: HashMap<WinPath, Arc<DiskFile>>,
}

fn path(text: &str) -> WinPath {
    WinPath::parse(text).expect("a test path")
}

fn imports(dll: &str, functions: &[&str]) -> ImportedDll {
    ImportedDll {
        name: dll.to_owned(),
        functions: functions
            .iter()
            .map(|name| ImportedFunction::Name((*name).to_owned()))
            .collect(),
    }
}

impl MemoryDisk {
    fn put(&mut self, at: &str, bytes: Vec<u8>, linkage: Linkage) -> &mut Self {
        let path = path(at);
        let file =
            DiskFile { path: path.clone(), info: inspect_bytes(&bytes), linkage, os_own: false };
        self.files.insert(path, Arc::new(file));
        self
    }

    fn image(
        &mut self,
        at: &str,
        bits: Bits,
        imports: Vec<ImportedDll>,
        exports: &[&str],
    ) -> &mut Self {
        let bytes = match bits {
            Bits::B32 => TestImage::x86().build(),
            Bits::B64 => TestImage::amd64().build(),
        };
        let linkage = Linkage {
            imports,
            exports_by_name: exports
                .iter()
                .map(|name| ((*name).to_owned(), ExportedAs::Code))
                .collect(),
            exports_by_ordinal: (1..=exports.len() as u16)
                .map(|ordinal| (ordinal, ExportedAs::Code))
                .collect(),
            ..Linkage::default()
        };
        self.put(at, bytes, linkage)
    }

    fn wine_builtin(&mut self, at: &str, bits: Bits) -> &mut Self {
        self.image(at, bits, Vec::new(), &[]);
        let file = self.files.get_mut(&path(at)).expect("just put");
        Arc::make_mut(file).linkage.wine_builtin = true;
        self
    }
}

impl TargetDisk for MemoryDisk {
    fn file(&self, path: &WinPath) -> Option<Arc<DiskFile>> {
        self.files.get(path).cloned()
    }
}

fn search(windows: WindowsVersion) -> Search {
    Search { os: Os::X64, profile: Profile::new(windows, []), extra_path: Vec::new() }
}

const FILTER: &str = r"C:\Filters\vf.dll";

const WINE: divergence::Loader = divergence::Loader::Wine { major: Some(8) };

fn resolve_filter(disk: &MemoryDisk, bits: Bits) -> Resolution {
    resolve(disk, &search(WindowsVersion::Server2019), &path(FILTER), bits)
}

#[test]
fn a_dependency_beside_the_filter_that_exports_the_import_binds() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &["GetFilterVersion"])
        .image(r"C:\Filters\dep.dll", Bits::B64, Vec::new(), &["dep_fn"]);
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), None);
    let dep = &resolution.dependencies[0];
    assert_eq!(dep.outcome, DependencyOutcome::Loaded);
    assert_eq!(dep.found.as_deref(), Some(r"C:\Filters\dep.dll"));
    assert_eq!(dep.searched, vec![r"C:\Filters".to_owned()], "the image's own folder first");
}

/// Row 1: Windows 127 (STATUS_ENTRYPOINT_NOT_FOUND), naming the function.
#[test]
fn a_name_the_dependency_does_not_export_is_127() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn", "dep_missing"])], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B64,
        Vec::new(),
        &["dep_fn"],
    );
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), Some(Win32Error::PROC_NOT_FOUND));
    let culprit = resolution.culprit().expect("a culprit");
    assert_eq!(culprit.outcome, DependencyOutcome::MissingImport);
    assert_eq!(culprit.missing_functions, vec!["dep_missing".to_owned()]);
    assert_eq!(culprit.imported_by, "vf.dll");
}

/// Row 2: Windows 182 (STATUS_ORDINAL_NOT_FOUND).
#[test]
fn an_ordinal_the_dependency_does_not_export_is_182() {
    let mut disk = MemoryDisk::default();
    let by_ordinal =
        ImportedDll { name: "dep.dll".to_owned(), functions: vec![ImportedFunction::Ordinal(77)] };
    disk.image(FILTER, Bits::B32, vec![by_ordinal], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B32,
        Vec::new(),
        &["dep_fn"],
    );
    let resolution = resolve_filter(&disk, Bits::B32);
    assert_eq!(resolution.error(), Some(Win32Error::INVALID_ORDINAL));
    assert_eq!(
        resolution.culprit().map(|d| d.missing_functions.clone()),
        Some(vec!["ordinal 77".to_owned()])
    );
}

/// Row 4: a missing dependency is 126, and the search went through every folder.
#[test]
fn a_missing_dependency_is_126_after_the_whole_search() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B32, vec![imports("python311.dll", &["Py_Initialize"])], &[]);
    let resolution = resolve_filter(&disk, Bits::B32);
    assert_eq!(resolution.error(), Some(Win32Error::MOD_NOT_FOUND));
    let culprit = resolution.culprit().expect("a culprit");
    assert_eq!(culprit.outcome, DependencyOutcome::Missing);
    assert_eq!(
        culprit.searched,
        vec![
            r"C:\Filters",
            r"C:\Windows\SysWOW64",
            r"C:\Windows\System",
            r"C:\Windows",
            r"C:\Windows\SysWOW64\Wbem",
        ],
        "a 32-bit process on x64: SysWOW64 for the system folder and PATH's system32"
    );
}

/// Row 5: the only copy is the other bitness: 193.
#[test]
fn a_dependency_only_of_the_other_bitness_is_193() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B32,
        Vec::new(),
        &["dep_fn"],
    );
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), Some(Win32Error::BAD_EXE_FORMAT));
    let culprit = resolution.culprit().expect("a culprit");
    assert_eq!(culprit.outcome, DependencyOutcome::WrongBitness);
    assert_eq!(culprit.machine, Some(Machine::X86));
}

/// Row 6: a wrong-bitness copy first, a good one later on the path: the good one loads.
#[test]
fn a_wrong_bitness_copy_is_passed_over_for_a_good_one_further_on() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &[])
        .image(r"C:\Filters\dep.dll", Bits::B32, Vec::new(), &["dep_fn"])
        .image(r"C:\Windows\System32\dep.dll", Bits::B64, Vec::new(), &["dep_fn"]);
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), None);
    assert_eq!(resolution.dependencies[0].found.as_deref(), Some(r"C:\Windows\System32\dep.dll"));
}

/// Rows 7-8: a file that is no image: 193 on Windows 7 and later (the search stops), and on
/// Server 2003 the valid copy further on.
#[test]
fn a_dependency_that_is_no_image_stops_the_search_from_windows_7_on() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &[])
        .put(r"C:\Filters\dep.dll", b"not a DLL".to_vec(), Linkage::default())
        .image(r"C:\Windows\System32\dep.dll", Bits::B64, Vec::new(), &["dep_fn"]);
    let on_2019 = resolve(&disk, &search(WindowsVersion::Server2019), &path(FILTER), Bits::B64);
    assert_eq!(on_2019.error(), Some(Win32Error::BAD_EXE_FORMAT));
    assert_eq!(on_2019.culprit().map(|d| d.outcome), Some(DependencyOutcome::NotAnImage));
    let on_2003 = resolve(&disk, &search(WindowsVersion::Server2003), &path(FILTER), Bits::B64);
    assert_eq!(on_2003.error(), None);
    assert!(on_2003.dependencies[0].passed_non_image);
}

/// Raymond Chen (2013): a dependency's own failure is the caller's answer, and the one named
/// is the one at fault.
#[test]
fn a_failure_two_levels_down_is_the_filters_answer_and_names_the_deepest_dll() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("python311.dll", &["Py_Initialize"])], &[]).image(
        r"C:\Filters\python311.dll",
        Bits::B64,
        vec![imports("vcruntime140.dll", &["memcpy"])],
        &["Py_Initialize"],
    );
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), Some(Win32Error::MOD_NOT_FOUND));
    let culprit = resolution.culprit().expect("a culprit");
    assert_eq!(culprit.name, "vcruntime140.dll");
    assert_eq!(culprit.imported_by, "python311.dll");
    assert_eq!(
        culprit.outcome,
        DependencyOutcome::NotInstalled,
        "a VC++ runtime a bare 2019 lacks"
    );
}

/// The first failing import in table order is the one Windows's loader stops at.
#[test]
fn the_first_failing_import_in_table_order_is_named() {
    let mut disk = MemoryDisk::default();
    disk.image(
        FILTER,
        Bits::B64,
        vec![imports("first_missing.dll", &["a"]), imports("second_missing.dll", &["b"])],
        &[],
    );
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.culprit().map(|d| d.name.as_str()), Some("first_missing.dll"));
}

/// Rows 11-12: Wine's builtin C runtime does not count on a server without the
/// redistributable; a vendor's app-local copy does; `--installed` makes the system's count.
#[test]
fn a_wine_builtin_runtime_counts_only_when_the_profile_has_it() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("msvcr100.dll", &["strlen"])], &[])
        .wine_builtin(r"C:\Windows\System32\msvcr100.dll", Bits::B64);
    let bare = resolve_filter(&disk, Bits::B64);
    assert_eq!(bare.error(), Some(Win32Error::MOD_NOT_FOUND));
    assert_eq!(bare.culprit().map(|d| d.outcome), Some(DependencyOutcome::NotInstalled));

    let installed = Search {
        profile: Profile::new(WindowsVersion::Server2019, ["vc2010-x64".parse().expect("a name")]),
        ..search(WindowsVersion::Server2019)
    };
    let with_runtime = resolve(&disk, &installed, &path(FILTER), Bits::B64);
    assert_eq!(with_runtime.error(), None);
    assert!(with_runtime.dependencies[0].wine_builtin);

    disk.image(r"C:\Filters\msvcr100.dll", Bits::B64, Vec::new(), &["strlen"]);
    let app_local = resolve_filter(&disk, Bits::B64);
    assert_eq!(app_local.error(), None);
    assert_eq!(app_local.dependencies[0].found.as_deref(), Some(r"C:\Filters\msvcr100.dll"));
}

/// Microsoft Learn, Universal CRT deployment: part of Server 2016 and later, not of 2003.
#[test]
fn the_ucrt_is_there_from_server_2016_on() {
    let mut disk = MemoryDisk::default();
    disk.image(
        FILTER,
        Bits::B32,
        vec![imports("api-ms-win-crt-runtime-l1-1-0.dll", &["_initterm"])],
        &[],
    )
    .wine_builtin(r"C:\Windows\SysWOW64\api-ms-win-crt-runtime-l1-1-0.dll", Bits::B32);
    let on_2003 = resolve(&disk, &search(WindowsVersion::Server2003), &path(FILTER), Bits::B32);
    assert_eq!(on_2003.error(), Some(Win32Error::MOD_NOT_FOUND));
    let on_2016 = resolve(&disk, &search(WindowsVersion::Server2016), &path(FILTER), Bits::B32);
    assert_eq!(on_2016.error(), None);
}

/// Row 11 (kernel32/tests/actctx.c): a VC90 manifest without the VC++ 2008 runtime is 14001.
#[test]
fn a_manifest_needing_vc90_without_its_runtime_is_14001() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B32, Vec::new(), &[]);
    let file = disk.files.get_mut(&path(FILTER)).expect("put");
    Arc::make_mut(file).linkage.manifest_dependencies = vec![crate::pe::AssemblyDependency {
        name: "Microsoft.VC90.CRT".to_owned(),
        version: Some("9.0.21022.8".to_owned()),
        processor_architecture: Some("x86".to_owned()),
    }];
    let resolution = resolve_filter(&disk, Bits::B32);
    assert_eq!(resolution.error(), Some(Win32Error::SXS_CANT_GEN_ACTCTX));
    assert_eq!(resolution.culprit().map(|d| d.name.as_str()), Some("Microsoft.VC90.CRT"));
}

/// Row 10: delay-loaded imports are not resolved at load time.
#[test]
fn a_delay_loaded_dll_that_is_missing_does_not_stop_the_load() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, Vec::new(), &[]);
    let file = disk.files.get_mut(&path(FILTER)).expect("put");
    Arc::make_mut(file).linkage.delay_imports = vec!["dep_absent.dll".to_owned()];
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), None);
    assert_eq!(resolution.dependencies[0].outcome, DependencyOutcome::DelayLoad);
}

/// Row 3: a forwarder is followed; its missing target DLL is 126.
#[test]
fn a_forwarder_to_a_missing_dll_is_126_naming_that_dll() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep_forwarder.dll", &["fwd_missing"])], &[]);
    let mut forwarder = Linkage::default();
    forwarder.exports_by_name.insert(
        "fwd_missing".to_owned(),
        ExportedAs::Forward {
            dll: "dep_absent".to_owned(),
            function: ImportedFunction::Name("absent_fn".to_owned()),
        },
    );
    disk.put(r"C:\Filters\dep_forwarder.dll", TestImage::amd64().build(), forwarder);
    let resolution = resolve_filter(&disk, Bits::B64);
    assert_eq!(resolution.error(), Some(Win32Error::MOD_NOT_FOUND));
    let culprit = resolution.culprit().expect("a culprit");
    assert_eq!(culprit.name, "dep_absent");
    assert!(culprit.through_forwarder);
}

/// Row 14: mfc42 ships with Windows, not with Wine 8: Windows loads it.
#[test]
fn mfc42_is_windows_own_though_no_disk_here_has_it() {
    let mut disk = MemoryDisk::default();
    let by_ordinal =
        ImportedDll { name: "MFC42.DLL".to_owned(), functions: vec![ImportedFunction::Ordinal(1)] };
    disk.image(FILTER, Bits::B32, vec![by_ordinal], &[]);
    let resolution = resolve_filter(&disk, Bits::B32);
    assert_eq!(resolution.error(), None);
    assert!(resolution.dependencies[0].windows_only);
}

/// Wine's own DLLs count as present with no export check: their exports are Wine's.
#[test]
fn a_wine_builtin_dll_binds_every_import() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("kernel32.dll", &["NoSuchFunctionInWine"])], &[])
        .wine_builtin(r"C:\Windows\System32\kernel32.dll", Bits::B64);
    assert_eq!(resolve_filter(&disk, Bits::B64).error(), None);
}

#[test]
fn the_divergence_rules_apply_only_to_the_answers_they_describe() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_missing"])], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B64,
        Vec::new(),
        &["dep_fn"],
    );
    let windows = resolve_filter(&disk, Bits::B64);
    assert_eq!(
        reconcile(WineAnswer::Loaded, &windows, WINE),
        Reconciled::WindowsRefuses {
            error: Win32Error::PROC_NOT_FOUND,
            rule: divergence::MISSING_IMPORT
        }
    );
    // Wine refused it for a reason of its own: no rule explains that, so Wine's stands.
    assert_eq!(
        reconcile(WineAnswer::Refused(Win32Error::DLL_INIT_FAILED), &windows, WINE),
        Reconciled::LoaderStands
    );

    let mut wrong = MemoryDisk::default();
    wrong.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B32,
        Vec::new(),
        &["dep_fn"],
    );
    let windows = resolve_filter(&wrong, Bits::B64);
    assert_eq!(
        reconcile(WineAnswer::Refused(Win32Error::MOD_NOT_FOUND), &windows, WINE),
        Reconciled::WindowsRefuses {
            error: Win32Error::BAD_EXE_FORMAT,
            rule: divergence::DEPENDENCY_WRONG_BITNESS
        }
    );
    // The same answer on both sides needs no rule.
    assert_eq!(
        reconcile(WineAnswer::Refused(Win32Error::BAD_EXE_FORMAT), &windows, WINE),
        Reconciled::LoaderStands
    );
}

#[test]
fn redistributable_names_need_their_bitness_and_say_the_known_ones() {
    assert!("vc2015+-x64".parse::<Redistributable>().is_ok());
    assert!("msxml4".parse::<Redistributable>().is_ok());
    let error = "vc2010".parse::<Redistributable>().unwrap_err();
    assert!(error.contains("vc2010-x86"), "{error}");
    let error = "vc6-x86".parse::<Redistributable>().unwrap_err();
    assert!(error.contains("vc2005-x86|-x64"), "{error}");
}

/// The simulated machine is a 64-bit Windows: an x86 server's System32 is its SysWOW64.
#[test]
fn an_x86_servers_system32_is_read_from_the_machines_syswow64() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B32, vec![imports("kernel32.dll", &["LoadLibraryA"])], &[])
        .wine_builtin(r"C:\Windows\SysWOW64\kernel32.dll", Bits::B32)
        .wine_builtin(r"C:\Windows\System32\kernel32.dll", Bits::B64);
    let x86 = Search { os: Os::X86, ..search(WindowsVersion::Server2003) };
    let resolution = resolve(&disk, &x86, &path(FILTER), Bits::B32);
    assert_eq!(resolution.error(), None, "{resolution:?}");
    assert_eq!(resolution.dependencies[0].searched[1], r"C:\Windows\System32");
    // Found where the server has it, not where the machine keeps it.
    assert_eq!(
        resolution.dependencies[0].found.as_deref(),
        Some(r"C:\Windows\System32\kernel32.dll")
    );
}

/// The windows backend: a 64-bit computer's System32 and SysWOW64, by name.
fn this_windows() -> OsFiles {
    let names = |list: &[&str]| list.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    OsFiles::new(
        names(&["KERNEL32.dll", "ntdll.dll", "vcruntime140.dll", "ucrtbase.dll", "msvcr100.dll"]),
        Some(names(&["kernel32.dll", "vcruntime140.dll"])),
    )
}

/// The running Windows's system files are the target's: present by name, of their folder's
/// machine, never read; the machine's own files come first.
#[test]
fn on_this_windows_the_system_folders_are_the_computers_and_count_as_the_servers() {
    let os = this_windows();
    let mut own = MemoryDisk::default();
    own.image(FILTER, Bits::B64, vec![imports("kernel32.dll", &["Sleep"])], &[]);
    let disk = OnThisWindows { machine: &own, os: &os };
    let loads = resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64);
    assert_eq!(loads.error(), None, "{loads:#?}");
    let kernel32 = &loads.dependencies[0];
    assert_eq!(kernel32.found.as_deref(), Some(r"C:\Windows\System32\kernel32.dll"));
    assert_eq!(kernel32.machine, Some(Machine::Amd64));
    assert!(!kernel32.wine_builtin, "this computer's file, not Wine's");

    // A 32-bit process's system folder is SysWOW64, and its files are x86.
    let mut own32 = MemoryDisk::default();
    own32.image(FILTER, Bits::B32, vec![imports("kernel32.dll", &["Sleep"])], &[]);
    let disk32 = OnThisWindows { machine: &own32, os: &os };
    let loads32 = resolve_filter_on(&disk32, WindowsVersion::Server2019, &[], Bits::B32);
    assert_eq!(loads32.error(), None, "{loads32:#?}");
    assert_eq!(loads32.dependencies[0].machine, Some(Machine::X86));

    // Nothing of that name in either: 126, as on the target.
    let mut missing = MemoryDisk::default();
    missing.image(FILTER, Bits::B64, vec![imports("python311.dll", &["Py_Main"])], &[]);
    let disk = OnThisWindows { machine: &missing, os: &os };
    let refused = resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64);
    assert_eq!(refused.error(), Some(Win32Error::MOD_NOT_FOUND));
    assert_eq!(refused.culprit().map(|d| d.outcome), Some(DependencyOutcome::Missing));

    // Only direct children of the two folders are the computer's.
    assert!(os.file(&path(r"C:\Windows\System32\drivers\kernel32.dll")).is_none());
    assert!(os.file(&path(r"D:\Windows\System32\kernel32.dll")).is_none());
    assert!(os.file(&path(r"C:\Windows\SysWOW64\ntdll.dll")).is_none());
}

/// Item "the computer is not the target": a runtime this computer has and the profile lacks
/// counts as absent (126, runtime not installed) unless installed on the server; the UCRT is
/// absent on Server 2003 and there on 2019.
#[test]
fn on_this_windows_the_runtimes_the_profile_lacks_are_absent() {
    let os = this_windows();
    let mut own = MemoryDisk::default();
    own.image(FILTER, Bits::B64, vec![imports("vcruntime140.dll", &["memset"])], &[]);
    let disk = OnThisWindows { machine: &own, os: &os };
    let bare = resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64);
    assert_eq!(bare.error(), Some(Win32Error::MOD_NOT_FOUND), "{bare:#?}");
    let culprit = bare.culprit().expect("the runtime");
    assert_eq!(culprit.outcome, DependencyOutcome::NotInstalled);
    assert_eq!(culprit.lack, Some(Lack::NotInstalled(Some(profile::Runtime::Vc2015Plus))));
    let installed =
        resolve_filter_on(&disk, WindowsVersion::Server2019, &["vc2015+-x64"], Bits::B64);
    assert_eq!(installed.error(), None, "{installed:#?}");
    // The other bitness's redistributable is not this process's.
    let other = resolve_filter_on(&disk, WindowsVersion::Server2019, &["vc2015+-x86"], Bits::B64);
    assert_eq!(other.error(), Some(Win32Error::MOD_NOT_FOUND));

    let mut ucrt = MemoryDisk::default();
    ucrt.image(FILTER, Bits::B64, vec![imports("ucrtbase.dll", &["strlen"])], &[]);
    let disk = OnThisWindows { machine: &ucrt, os: &os };
    let on_2003 = resolve_filter_on(&disk, WindowsVersion::Server2003, &[], Bits::B64);
    assert_eq!(on_2003.culprit().and_then(|d| d.lack), Some(Lack::NoUcrt));
    assert_eq!(resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64).error(), None);

    // A vendor's copy beside the filter is found first and loads.
    own.image(r"C:\Filters\vcruntime140.dll", Bits::B64, Vec::new(), &["memset"]);
    let disk = OnThisWindows { machine: &own, os: &os };
    let app_local = resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64);
    assert_eq!(app_local.error(), None);
    assert_eq!(app_local.dependencies[0].found.as_deref(), Some(r"C:\Filters\vcruntime140.dll"));
}

/// On the windows backend only the rows about what the server holds apply: this computer's
/// loader is Windows's, so a missing import it loaded is not Wine's stub.
#[test]
fn on_this_windows_only_the_servers_holdings_correct_the_answer() {
    let os = this_windows();
    let mut own = MemoryDisk::default();
    own.image(FILTER, Bits::B64, vec![imports("vcruntime140.dll", &["memset"])], &[]);
    let disk = OnThisWindows { machine: &own, os: &os };
    let windows = resolve_filter_on(&disk, WindowsVersion::Server2019, &[], Bits::B64);
    let this = divergence::Loader::ThisWindows;
    assert_eq!(
        reconcile(WineAnswer::Loaded, &windows, this),
        Reconciled::WindowsRefuses {
            error: Win32Error::MOD_NOT_FOUND,
            rule: divergence::RUNTIME_NOT_INSTALLED
        }
    );

    let mut stub = MemoryDisk::default();
    stub.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_missing"])], &[]).image(
        r"C:\Filters\dep.dll",
        Bits::B64,
        Vec::new(),
        &["dep_fn"],
    );
    let windows = resolve_filter(&stub, Bits::B64);
    assert_eq!(reconcile(WineAnswer::Loaded, &windows, this), Reconciled::LoaderStands);
    assert!(matches!(
        reconcile(WineAnswer::Loaded, &windows, WINE),
        Reconciled::WindowsRefuses { .. }
    ));
    // Every row says what it is about on either loader.
    for rule in divergence::RULES {
        let applies = this.may_differ_by(&rule);
        assert_eq!(applies, rule.runner_does.is_some(), "{}", rule.id);
    }
}

/// PATH: the folders a scenario names are searched after Windows's default system PATH.
#[test]
fn extra_path_folders_are_searched_last() {
    let mut disk = MemoryDisk::default();
    disk.image(FILTER, Bits::B64, vec![imports("dep.dll", &["dep_fn"])], &[]).image(
        r"C:\Libs\dep.dll",
        Bits::B64,
        Vec::new(),
        &["dep_fn"],
    );
    let without = resolve_filter(&disk, Bits::B64);
    assert_eq!(without.error(), Some(Win32Error::MOD_NOT_FOUND));
    let with = Search { extra_path: vec![path(r"C:\Libs")], ..search(WindowsVersion::Server2019) };
    let found = resolve(&disk, &with, &path(FILTER), Bits::B64);
    assert_eq!(found.error(), None, "{found:#?}");
    assert_eq!(found.dependencies[0].found.as_deref(), Some(r"C:\Libs\dep.dll"));
    assert_eq!(found.dependencies[0].searched.last().map(String::as_str), Some(r"C:\Libs"));
}

fn resolve_filter_on(
    disk: &dyn TargetDisk,
    windows: WindowsVersion,
    installed: &[&str],
    bits: Bits,
) -> Resolution {
    let profile = Profile::new(
        windows,
        installed.iter().map(|name| name.parse::<Redistributable>().expect("a name")),
    );
    resolve(disk, &Search { profile, ..search(windows) }, &path(FILTER), bits)
}

/// The closure goes past the first failure (what a copy of the server must carry), while the
/// loader's answer still names the first one.
#[test]
fn the_closure_goes_past_the_first_failure_and_resolve_does_not() {
    let mut disk = MemoryDisk::default();
    disk.image(
        FILTER,
        Bits::B64,
        vec![imports("absent.dll", &["f"]), imports("dep.dll", &["dep_fn"])],
        &[],
    )
    .image(r"C:\Filters\dep.dll", Bits::B64, vec![imports("inner.dll", &["g"])], &["dep_fn"])
    .image(r"C:\Windows\System32\inner.dll", Bits::B64, Vec::new(), &["g"]);
    let search = search(WindowsVersion::Server2019);
    let stopped = resolve(&disk, &search, &path(FILTER), Bits::B64);
    assert_eq!(stopped.dependencies.len(), 1);
    let closure = closure(&disk, &search, &path(FILTER), Bits::B64);
    assert_eq!(closure.error(), Some(Win32Error::MOD_NOT_FOUND));
    assert_eq!(closure.culprit().map(|d| d.name.as_str()), Some("absent.dll"));
    let found: Vec<Option<&str>> =
        closure.dependencies.iter().map(|d| d.found.as_deref()).collect();
    assert_eq!(found, [None, Some(r"C:\Filters\dep.dll"), Some(r"C:\Windows\System32\inner.dll")]);
}
