//! The dependency fixtures of `mock-deps/`: small DLLs that other DLLs import, and mock filters
//! whose one extra import is what the loader is tested on (a name or ordinal the dependency
//! lacks, a dependency that fails its DllMain, a forwarder to nothing, a delay-load, a C
//! runtime, mfc42, mscoree, a VC90 manifest). Each reproduces a row of the reference sheet
//! `windows-loader-vs-wine.md`; `mock-deps/imports.c` lists them with their import tables.
//!
//! ```text
//! target/isapi-harness/deps/<arch>/<name>.dll     every entry of FIXTURES, x86 and AMD64
//! ```
//!
//! Every import is linked against an import library made from a `.def` file, never against a
//! real DLL, so the import table names exactly the DLL and function (or ordinal) a row needs.
//! They are built with mingw-w64 only: the tests that use them measure Wine's loader, and the
//! recipe (dlltool's delay-load libraries, windres) is mingw-w64's.

use std::path::{Path, PathBuf};

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::artifacts::{Arch, Job, Toolchain, is_stale, project_file};

/// How a fixture imports from the DLL its `.def` describes.
#[derive(Debug, Clone, Copy)]
enum Import {
    /// An ordinary import: resolved when the DLL loads.
    Load(&'static str),
    /// A delay-load import (`dlltool --output-delaylib`): resolved at the first call.
    Delay(&'static str),
}

/// One DLL of `mock-deps/`.
struct Fixture {
    /// The file name without `.dll`; the tests (and the dependency resolver's) use these names.
    name: &'static str,
    /// The C source, relative to the project.
    source: &'static str,
    /// The `.def` that sets its exports, relative to the project.
    def: &'static str,
    /// The `-D` switch of `mock-deps/imports.c` that adds the filter's import.
    define: Option<&'static str>,
    /// The import library, from a `.def` in `mock-deps/`.
    import: Option<Import>,
    /// An `.rc` in `mock-deps/` compiled into the DLL.
    resource: Option<&'static str>,
}

const FILTER_SOURCE: &str = "mock-deps/imports.c";
const FILTER_DEF: &str = "mock-filters/filter.def";

/// A dependency: its own source and exports, no extra import.
const fn dependency(name: &'static str, source: &'static str, def: &'static str) -> Fixture {
    Fixture { name, source, def, define: None, import: None, resource: None }
}

/// A mock filter with one import added by `define`, linked against `import`.
const fn filter(name: &'static str, define: &'static str, import: Import) -> Fixture {
    Fixture {
        name,
        source: FILTER_SOURCE,
        def: FILTER_DEF,
        define: Some(define),
        import: Some(import),
        resource: None,
    }
}

const FIXTURES: [Fixture; 15] = [
    dependency("dep", "mock-deps/dep.c", "mock-deps/dep.def"),
    dependency("dep_init_fails", "mock-deps/dep_init_fails.c", "mock-deps/dep_init_fails.def"),
    dependency("dep_forwarder", "mock-deps/dep_forwarder.c", "mock-deps/dep_forwarder.def"),
    dependency("msvcr100", "mock-deps/msvcr100.c", "mock-deps/msvcr100.def"),
    filter("imports_dep", "DEPS_IMPORT_DEP_FN", Import::Load("dep.def")),
    filter(
        "imports_dep_missing_name",
        "DEPS_IMPORT_DEP_MISSING",
        Import::Load("import_dep_missing_name.def"),
    ),
    filter(
        "imports_dep_missing_ordinal",
        "DEPS_IMPORT_DEP_BY_ORDINAL",
        Import::Load("import_dep_missing_ordinal.def"),
    ),
    filter("imports_dep_init", "DEPS_IMPORT_INIT_FN", Import::Load("dep_init_fails.def")),
    filter("imports_forwarded", "DEPS_IMPORT_FWD_MISSING", Import::Load("import_forwarded.def")),
    filter("delay_imports_dep", "DEPS_IMPORT_DEP_FN", Import::Delay("import_dep_absent_delay.def")),
    filter("imports_msvcr100", "DEPS_IMPORT_STRLEN", Import::Load("msvcr100.def")),
    filter("imports_vcruntime140", "DEPS_IMPORT_MEMSET", Import::Load("import_vcruntime140.def")),
    Fixture {
        name: "manifest_vc90",
        source: FILTER_SOURCE,
        def: FILTER_DEF,
        define: None,
        import: None,
        resource: Some("manifest_vc90.rc"),
    },
    filter("imports_mfc42", "DEPS_IMPORT_MFC42", Import::Load("import_mfc42.def")),
    filter("imports_mscoree", "DEPS_IMPORT_COR_DLL_MAIN", Import::Load("import_mscoree.def")),
];

/// The fixtures' jobs for both architectures, to run beside the other mocks; none on a machine
/// that builds with MSVC.
pub fn jobs() -> Vec<Job<'static>> {
    if Toolchain::current() != Toolchain::Gnu {
        println!("build: mock-deps/ is built with mingw-w64 only; skipped with MSVC");
        return Vec::new();
    }
    let mut jobs: Vec<Job<'static>> = Vec::new();
    for arch in Arch::ALL {
        for fixture in &FIXTURES {
            jobs.push(Box::new(move || build(fixture, arch)));
        }
    }
    jobs
}

fn build(fixture: &Fixture, arch: Arch) -> anyhow::Result<()> {
    let deps_file = |name: &str| project_file(&format!("mock-deps/{name}"));
    let source = project_file(fixture.source);
    let def = project_file(fixture.def);
    let out = crate::artifacts::dir()
        .join("deps")
        .join(arch.dir_name())
        .join(format!("{}.dll", fixture.name));
    let mut inputs = vec![source.clone(), def.clone()];
    if fixture.source == FILTER_SOURCE {
        inputs.push(project_file("mock-filters/filter.c"));
        inputs.push(project_file("mock-filters/mock_image.h"));
    }
    let import_def = fixture.import.map(|import| match import {
        Import::Load(def) | Import::Delay(def) => deps_file(def),
    });
    inputs.extend(import_def.iter().cloned());
    let resource = fixture.resource.map(deps_file);
    if let Some(rc) = &resource {
        inputs.push(rc.clone());
        for manifest_arch in Arch::ALL {
            inputs.push(deps_file(&format!("manifest_vc90_{}.manifest", manifest_arch.dir_name())));
        }
    }
    if !is_stale(&out, &inputs)? {
        return Ok(());
    }
    println!("build: mock dependency fixture {} for {}", fixture.name, arch.dir_name());

    // One shell per job: the jobs run on several threads.
    let sh = Shell::new()?;
    let prefix = arch.mingw_prefix();
    // Libraries and objects of this folder get a folder of their own, so that no other build
    // job writes a file of the same name at the same time.
    let obj_dir = crate::artifacts::dir().join("obj").join(arch.dir_name()).join("deps");
    std::fs::create_dir_all(&obj_dir)?;
    std::fs::create_dir_all(out.parent().expect("the output has a folder"))?;
    let mut link_inputs: Vec<PathBuf> = Vec::new();
    if let (Some(import), Some(import_def)) = (fixture.import, &import_def) {
        let lib = obj_dir.join(format!("lib{}.a", stem(import_def)));
        let dlltool = format!("{prefix}-dlltool");
        let tmp = crate::artifacts::tools_tmp()?;
        match import {
            Import::Load(_) => {
                cmd!(sh, "{dlltool} -d {import_def} -l {lib}").env("TMPDIR", tmp).quiet().run()?
            }
            Import::Delay(_) => {
                cmd!(sh, "{dlltool} -d {import_def} -y {lib}").env("TMPDIR", tmp).quiet().run()?
            }
        }
        link_inputs.push(lib);
    }
    if let Some(rc) = &resource {
        let object = obj_dir.join(format!("{}.res.o", fixture.name));
        let windres = format!("{prefix}-windres");
        let include = project_file("mock-deps");
        cmd!(sh, "{windres} --include-dir {include} -i {rc} -o {object}").quiet().run()?;
        link_inputs.push(object);
    }
    let gcc = format!("{prefix}-gcc");
    let variant = format!("-DMOCK_VARIANT=\"{}\"", fixture.name);
    let define: Vec<String> = fixture.define.iter().map(|define| format!("-D{define}")).collect();
    // -fno-builtin keeps strlen and memset calls into the runtime DLL the filter imports them
    // from; the other switch keeps the vendor strlen's loop a loop (msvcr100.c).
    let mut link = cmd!(
        sh,
        "{gcc} -shared -s -O2 -fno-builtin -fno-tree-loop-distribute-patterns {variant} {define...} -o {out} {source} {def} {link_inputs...}"
    );
    // As for the mock filters: the .def names `GetFilterVersion`, the object `_GetFilterVersion@4`.
    if arch == Arch::X86 {
        link = link.arg("-Wl,--enable-stdcall-fixup");
    }
    link.quiet().run().with_context(|| format!("cannot link `{}`", out.display()))
}

fn stem(path: &Path) -> String {
    path.file_stem().expect("a .def file has a name").to_string_lossy().into_owned()
}
