//! `cargo xtask build`: the host programs, the mock filters and the mock extensions for x86
//! and AMD64.
//!
//! Everything lands in a fixed layout that the harness reads:
//!
//! ```text
//! target/isapi-harness/hosts/<arch>/inetinfo.exe, w3wp.exe, dllhost.exe, iisexpress.exe
//!                                                             the host, once per process name
//! target/isapi-harness/hosts/<arch>/bcryptprimitives.dll      only where the loader lacks it
//! target/isapi-harness/hosts/amd64/start-wow64.exe             mingw only: starts 32-bit hosts
//! target/isapi-harness/filters/<arch>/<variant>.dll           mock-filters/variants.txt
//! target/isapi-harness/filters/<arch>/module.dll              the mock IIS 7+ native module
//! target/isapi-harness/extensions/<arch>/<variant>.dll        mock-extensions/variants.txt
//! target/isapi-harness/deps/<arch>/<name>.dll                  mock-deps/ (mock_deps.rs)
//! ```
//!
//! The `cc` crate only makes static libraries, so it is used to find the right compiler for each
//! Windows target, and the DLL link step (with the `.def` file that keeps x86 exports
//! undecorated) is added here. A second run with nothing changed does no work.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

/// The two architectures every artifact is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86,
    Amd64,
}

/// Which family of Windows targets this machine builds with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// mingw-w64 and the `*-pc-windows-gnu` targets, for Wine on Linux.
    Gnu,
    /// Visual C++ and the `*-pc-windows-msvc` targets, on Windows.
    Msvc,
}

impl Toolchain {
    pub fn current() -> Toolchain {
        if cfg!(windows) { Toolchain::Msvc } else { Toolchain::Gnu }
    }
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86, Arch::Amd64];

    /// The folder name under `hosts/` and `filters/`; the harness uses the same names.
    pub fn dir_name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Amd64 => "amd64",
        }
    }

    pub fn rust_target(self, toolchain: Toolchain) -> &'static str {
        match (self, toolchain) {
            (Arch::X86, Toolchain::Gnu) => "i686-pc-windows-gnu",
            (Arch::Amd64, Toolchain::Gnu) => "x86_64-pc-windows-gnu",
            (Arch::X86, Toolchain::Msvc) => "i686-pc-windows-msvc",
            (Arch::Amd64, Toolchain::Msvc) => "x86_64-pc-windows-msvc",
        }
    }

    pub fn mingw_prefix(self) -> &'static str {
        match self {
            Arch::X86 => "i686-w64-mingw32",
            Arch::Amd64 => "x86_64-w64-mingw32",
        }
    }

    fn msvc_machine(self) -> &'static str {
        match self {
            Arch::X86 => "X86",
            Arch::Amd64 => "X64",
        }
    }
}

/// The process names the host plays: IIS 6.0 loads filters in inetinfo.exe or w3wp.exe, and
/// extensions there or, for an out-of-process application in IIS 5.0 isolation mode, in
/// dllhost.exe; IIS 7+ loads everything in w3wp.exe, IIS Express in iisexpress.exe.
const HOST_PROCESS_NAMES: [&str; 4] = ["inetinfo.exe", "w3wp.exe", "dllhost.exe", "iisexpress.exe"];

/// The file name the harness looks for beside the 64-bit hosts (`machine/wine.rs`).
const WOW64_STARTER: &str = "start-wow64.exe";

/// A family of mock images: one C source with its `.def` files and its list of variants.
struct MockFamily {
    /// What the build says it is making.
    noun: &'static str,
    folder: &'static str,
    source: &'static str,
    def: &'static str,
    decorated_def: &'static str,
    /// The folder under `target/isapi-harness` the DLLs go to.
    out: &'static str,
}

const MOCK_FAMILIES: [MockFamily; 2] = [
    MockFamily {
        noun: "mock filter",
        folder: "mock-filters",
        source: "filter.c",
        def: "filter.def",
        decorated_def: "filter-decorated.def",
        out: "filters",
    },
    MockFamily {
        noun: "mock extension",
        folder: "mock-extensions",
        source: "extension.c",
        def: "extension.def",
        decorated_def: "extension-decorated.def",
        out: "extensions",
    },
];

/// What both families' sources include: the architecture's name and the DllMain variants.
const SHARED_HEADER: &str = "mock-filters/mock_image.h";

/// The import library of a DLL that never exists, shared by both families' `missing_dependency`.
const ABSENT_DEF: &str = "mock-filters/absent.def";

/// The temporary folder for the mingw-w64 tools, under `target/`: binutils 2.40's dlltool,
/// which the build runs for import libraries and rustc runs for the windows-gnu targets,
/// leaves two empty `ccXXXXXX` files in the temporary folder each time it runs, about 150 a
/// fresh build, which would pile up in the machine's `/tmp`.
pub fn tools_tmp() -> anyhow::Result<PathBuf> {
    let tmp = dir().parent().expect("artifacts live inside the target folder").join("tools-tmp");
    std::fs::create_dir_all(&tmp)?;
    Ok(tmp)
}

/// `target/isapi-harness`, where every artifact and the simulated machines live.
pub fn dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    let target = if target.is_absolute() { target } else { crate::project_root().join(target) };
    target.join("isapi-harness")
}

pub fn build(sh: &Shell) -> anyhow::Result<()> {
    build_with(sh, Vec::new())
}

/// The build, with `first` run beside the mock images (after the hosts, whose cargo build
/// holds the target folder's lock).
pub fn build_with<'a>(sh: &Shell, first: Vec<Job<'a>>) -> anyhow::Result<()> {
    build_hosts(sh)?;
    // About a hundred small DLLs, each a compiler and a linker run: they are independent, so they
    // are built side by side, one per core, and an up-to-date one is skipped.
    let families: Vec<(&MockFamily, Vec<Variant>)> = MOCK_FAMILIES
        .iter()
        .map(|family| Ok((family, read_variants(family)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut jobs: Vec<Job<'_>> = first;
    for (family, variants) in &families {
        for arch in Arch::ALL {
            for variant in variants {
                jobs.push(Box::new(move || build_mock(family, arch, variant)));
            }
        }
    }
    for arch in Arch::ALL {
        jobs.push(Box::new(move || build_module(arch)));
    }
    jobs.extend(crate::mock_deps::jobs());
    run_side_by_side(jobs)?;
    // Images no compiler makes: no code, other machines, not a PE at all, cut short.
    let odd = dir().join("filters").join("odd");
    crate::odd_images::write_all(&odd)?;
    let amd64_filter = dir().join("filters").join(Arch::Amd64.dir_name()).join("filter.dll");
    crate::odd_images::truncate(&amd64_filter, &odd.join("truncated_headers.dll"), 100)?;
    crate::odd_images::truncate(&amd64_filter, &odd.join("truncated.dll"), 1024)?;
    Ok(())
}

fn build_hosts(sh: &Shell) -> anyhow::Result<()> {
    let toolchain = Toolchain::current();
    let cargo = crate::cargo();
    let targets: Vec<String> = Arch::ALL
        .iter()
        .flat_map(|arch| ["--target".to_owned(), arch.rust_target(toolchain).to_owned()])
        .collect();
    let mut build = cmd!(sh, "{cargo} build --quiet --release --package isapi-host {targets...}");
    if toolchain == Toolchain::Gnu {
        build = build.env("TMPDIR", tools_tmp()?);
        // Rust's windows-gnu targets link with gcc; name the mingw driver for each explicitly so
        // that a machine with several cross compilers cannot pick the wrong one.
        for arch in Arch::ALL {
            let variable = format!(
                "CARGO_TARGET_{}_LINKER",
                arch.rust_target(toolchain).to_uppercase().replace('-', "_")
            );
            build = build.env(variable, format!("{}-gcc", arch.mingw_prefix()));
        }
    }
    build.run()?;

    let target_dir = dir().parent().expect("artifacts live inside the target folder").to_owned();
    for arch in Arch::ALL {
        let built = target_dir.join(arch.rust_target(toolchain)).join("release/isapi-host.exe");
        let hosts = dir().join("hosts").join(arch.dir_name());
        std::fs::create_dir_all(&hosts)?;
        for name in HOST_PROCESS_NAMES {
            copy_if_newer(&built, &hosts.join(name))?;
        }
        let shim = hosts.join("bcryptprimitives.dll");
        if loader_lacks_bcryptprimitives(arch) {
            let sources = [
                project_file("harness/host/compat/bcryptprimitives.c"),
                project_file("harness/host/compat/bcryptprimitives.def"),
            ];
            if is_stale(&shim, &sources)? {
                println!("build: bcryptprimitives.dll compatibility shim for {}", arch.dir_name());
                link_dll(arch, &sources[0], &sources[1], &[], &["advapi32"], &shim)?;
            }
        } else if shim.exists() {
            std::fs::remove_file(&shim)?;
        }
    }
    if toolchain == Toolchain::Gnu {
        build_wow64_starter()?;
    }
    Ok(())
}

/// One independent step of the build, run on one of the build's threads.
pub type Job<'a> = Box<dyn FnOnce() -> anyhow::Result<()> + Send + 'a>;

/// Runs `jobs` on as many threads as the machine has cores; the first error (in job order)
/// is the build's.
fn run_side_by_side(jobs: Vec<Job<'_>>) -> anyhow::Result<()> {
    let threads =
        std::thread::available_parallelism().map_or(2, usize::from).min(jobs.len().max(1));
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let mut errors: Vec<(usize, anyhow::Error)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut errors = Vec::new();
                    loop {
                        let next = queue.lock().expect("no build job panics").next();
                        let Some((index, job)) = next else { break };
                        if let Err(error) = job() {
                            errors.push((index, error));
                        }
                    }
                    errors
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("no build job panics")).collect()
    });
    errors.sort_by_key(|(index, _)| *index);
    match errors.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

/// Wine 8.0 ships no bcryptprimitives.dll, which Rust's std for windows-gnu imports; real
/// Windows 10 and later have it. Only Wine's own module folders say which case we are in.
fn loader_lacks_bcryptprimitives(arch: Arch) -> bool {
    if cfg!(windows) {
        return false;
    }
    let folder = match arch {
        Arch::X86 => "i386-windows",
        Arch::Amd64 => "x86_64-windows",
    };
    !Path::new("/usr/lib/x86_64-linux-gnu/wine").join(folder).join("bcryptprimitives.dll").exists()
}

/// One line of a family's `variants.txt`.
#[derive(Debug)]
struct Variant {
    name: String,
    decorated: bool,
    defines: Vec<String>,
}

fn read_variants(family: &MockFamily) -> anyhow::Result<Vec<Variant>> {
    let path = project_file(&format!("{}/variants.txt", family.folder));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut variants = Vec::new();
    for (line_idx, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, exports, defines] = fields[..] else {
            bail!(
                "{}:{}: expected `name exports defines`, got `{line}`",
                path.display(),
                line_idx + 1
            );
        };
        let decorated = match exports {
            "def" => false,
            "decorated" => true,
            other => bail!(
                "{}:{}: exports must be `def` or `decorated`, not `{other}`",
                path.display(),
                line_idx + 1
            ),
        };
        let defines =
            if defines == "-" { vec![] } else { defines.split(',').map(str::to_owned).collect() };
        variants.push(Variant { name: name.to_owned(), decorated, defines });
    }
    Ok(variants)
}

fn build_mock(family: &MockFamily, arch: Arch, variant: &Variant) -> anyhow::Result<()> {
    let file = |name: &str| project_file(&format!("{}/{name}", family.folder));
    let source = file(family.source);
    // x86 stdcall names are decorated (`GetFilterVersion@4`) unless a .def says otherwise; the
    // `decorated` variants export them that way on purpose. AMD64 has no decoration at all.
    let def = if variant.decorated && arch == Arch::X86 {
        file(family.decorated_def)
    } else {
        file(family.def)
    };
    let out = dir().join(family.out).join(arch.dir_name()).join(format!("{}.dll", variant.name));
    let mut inputs =
        vec![source.clone(), def.clone(), file("variants.txt"), project_file(SHARED_HEADER)];
    let imports_absent = variant.defines.iter().any(|d| d == "MOCK_IMPORT_ABSENT");
    if imports_absent {
        inputs.push(project_file(ABSENT_DEF));
    }
    if !is_stale(&out, &inputs)? {
        return Ok(());
    }
    println!("build: {} {} for {}", family.noun, variant.name, arch.dir_name());
    let mut defines = variant.defines.clone();
    defines.push(format!("MOCK_VARIANT=\"{}\"", variant.name));
    link_dll(arch, &source, &def, &defines, &[], &out)
}

/// The mock native module (`mock-filters/module.c`), placed as `ARCH:module`.
fn build_module(arch: Arch) -> anyhow::Result<()> {
    let source = project_file("mock-filters/module.c");
    let def = project_file("mock-filters/module.def");
    let out = dir().join("filters").join(arch.dir_name()).join("module.dll");
    if !is_stale(&out, &[source.clone(), def.clone()])? {
        return Ok(());
    }
    println!("build: mock native module for {}", arch.dir_name());
    link_dll(arch, &source, &def, &[], &[], &out)
}

/// Makes an import library from a `.def` file, for a DLL that need not exist.
#[expect(
    clippy::disallowed_methods,
    reason = "the xtask runs build tools; the rule is for host processes"
)]
fn import_library(arch: Arch, def: &Path) -> anyhow::Result<PathBuf> {
    let out_dir = dir().join("obj").join(arch.dir_name());
    std::fs::create_dir_all(&out_dir)?;
    let stem = def.file_stem().unwrap().to_string_lossy();
    match Toolchain::current() {
        Toolchain::Gnu => {
            let lib = out_dir.join(format!("lib{stem}.a"));
            let dlltool = format!("{}-dlltool", arch.mingw_prefix());
            run(std::process::Command::new(&dlltool)
                .env("TMPDIR", tools_tmp()?)
                .arg("-d")
                .arg(def)
                .arg("-l")
                .arg(&lib))?;
            Ok(lib)
        }
        Toolchain::Msvc => {
            let lib = out_dir.join(format!("{stem}.lib"));
            let tool =
                cc::windows_registry::find_tool(arch.rust_target(Toolchain::Msvc), "lib.exe")
                    .context("cannot find lib.exe for the MSVC toolset")?;
            let mut command = tool.to_command();
            command
                .arg("/nologo")
                .arg(format!("/def:{}", def.display()))
                .arg(format!("/machine:{}", arch.msvc_machine()))
                .arg(format!("/out:{}", lib.display()));
            run(&mut command)?;
            Ok(lib)
        }
    }
}

/// Compiles one C file into a DLL whose exports are exactly those of `def`.
fn link_dll(
    arch: Arch,
    source: &Path,
    def: &Path,
    defines: &[String],
    system_libs: &[&str],
    out: &Path,
) -> anyhow::Result<()> {
    let obj_dir = dir().join("obj").join(arch.dir_name());
    std::fs::create_dir_all(&obj_dir)?;
    std::fs::create_dir_all(out.parent().unwrap())?;
    let compiler = c_compiler(arch, &obj_dir)?;
    let absent_lib = defines
        .iter()
        .any(|d| d == "MOCK_IMPORT_ABSENT")
        .then(|| import_library(arch, &project_file(ABSENT_DEF)))
        .transpose()?;
    let mut command = compiler.to_command();
    if compiler.is_like_msvc() {
        command.arg("/nologo").arg("/LD");
        for define in defines {
            command.arg(format!("/D{define}"));
        }
        command
            .arg(source)
            .arg(format!("/Fe{}", out.display()))
            .arg(format!("/Fo{}\\", obj_dir.display()));
        command.arg("/link").arg(format!("/DEF:{}", def.display()));
        command.args(absent_lib.iter());
        for lib in system_libs {
            command.arg(format!("{lib}.lib"));
        }
    } else {
        command.arg("-shared").arg("-s");
        for define in defines {
            command.arg(format!("-D{define}"));
        }
        command.arg("-o").arg(out).arg(source).arg(def);
        command.args(absent_lib.iter());
        for lib in system_libs {
            command.arg(format!("-l{lib}"));
        }
        // The .def names the undecorated symbols; this tells ld that `GetFilterVersion` in the
        // .def is the stdcall `_GetFilterVersion@4` of the object, without warning about it.
        if arch == Arch::X86 {
            command.arg("-Wl,--enable-stdcall-fixup");
        }
    }
    run(&mut command)
}

/// The C compiler `cc` finds for `arch`'s Windows target, writing objects to `obj_dir`.
fn c_compiler(arch: Arch, obj_dir: &Path) -> anyhow::Result<cc::Tool> {
    let toolchain = Toolchain::current();
    cc::Build::new()
        .target(arch.rust_target(toolchain))
        .host(env!("XTASK_HOST_TRIPLE"))
        .opt_level(2)
        .debug(false)
        .out_dir(obj_dir)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .emit_rerun_if_env_changed(false)
        .try_get_compiler()
        .with_context(|| {
            format!("no C compiler for {}: run `cargo xtask setup`", arch.rust_target(toolchain))
        })
}

/// Under Wine, the 64-bit program that starts the 32-bit hosts (its source says why). mingw
/// only: on Windows the harness starts every host itself.
fn build_wow64_starter() -> anyhow::Result<()> {
    let source = project_file("harness/host/starter/start-wow64.c");
    let out = dir().join("hosts").join(Arch::Amd64.dir_name()).join(WOW64_STARTER);
    if !is_stale(&out, std::slice::from_ref(&source))? {
        return Ok(());
    }
    let obj_dir = dir().join("obj").join(Arch::Amd64.dir_name());
    std::fs::create_dir_all(&obj_dir)?;
    let mut command = c_compiler(Arch::Amd64, &obj_dir)?.to_command();
    command.arg("-s").arg("-o").arg(&out).arg(&source);
    run(&mut command)
}

fn run(command: &mut std::process::Command) -> anyhow::Result<()> {
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let output = command.output().with_context(|| format!("cannot run `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn copy_if_newer(from: &Path, to: &Path) -> anyhow::Result<()> {
    if is_stale(to, &[from.to_owned()])? {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy `{}` to `{}`", from.display(), to.display()))?;
    }
    Ok(())
}

/// True when `out` is missing or older than any of `inputs`.
pub fn is_stale(out: &Path, inputs: &[PathBuf]) -> anyhow::Result<bool> {
    let Ok(built) = std::fs::metadata(out).and_then(|m| m.modified()) else { return Ok(true) };
    for input in inputs {
        let changed: SystemTime = std::fs::metadata(input)
            .and_then(|m| m.modified())
            .with_context(|| format!("cannot read `{}`", input.display()))?;
        if changed > built {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn project_file(relative: &str) -> PathBuf {
    crate::project_root().join(relative)
}
