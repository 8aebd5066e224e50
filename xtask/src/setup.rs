//! `cargo xtask setup`: provisions the toolchains the harness needs, idempotently.
//!
//! On Linux that is mingw-w64 (the C compilers and linkers for both Windows targets), Wine 8 with
//! its 32-bit PE modules (the real loader, for 64-bit and WoW64 processes), bubblewrap (the
//! sandbox every Wine process of a run lives in), hivexregedit (the registry hives of
//! `collect`'s tests) and the Rust `*-pc-windows-gnu` targets. On Windows it is the `*-pc-windows-msvc` targets and a check that
//! the MSVC x86 and x64 toolsets are installed.

use std::path::Path;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::artifacts::{Arch, Toolchain};

/// Where Debian and Ubuntu put the 64-bit Wine loader; there is no `wine` on PATH without the
/// `wine` package, which would also pull in the 32-bit `wine32:i386` that cannot be installed
/// on a machine whose security mirror is ahead of its i386 index.
pub const WINE64: &str = "/usr/lib/wine/wine64";
/// Wine's 32-bit PE modules must sit beside its `x86_64-unix` folder for WoW64 mode to work;
/// pointing WINEDLLPATH elsewhere was tried and fails inside ws2_32.
const WINE_I386_MODULES: &str = "/usr/lib/x86_64-linux-gnu/wine/i386-windows";

/// One thing the machine lacks, and how it is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Mingw,
    Wine,
    WineI386Modules,
    Bubblewrap,
    /// `hivexregedit` (Debian's `libwin-hivex-perl`, beside `libhivex-bin`'s hivexsh), which
    /// the tests of `collect --from` make registry hives with from `.reg` text.
    Hivex,
    RustTarget(Arch),
}

/// `cargo xtask setup`: reports what is there and installs what is not.
pub fn run(sh: &Shell) -> anyhow::Result<()> {
    let missing = missing(sh)?;
    if missing.is_empty() {
        println!("setup: everything is in place ({})", describe_present());
    } else {
        install(sh, &missing)?;
    }
    ensure_cargo_deny(sh)?;
    check_sandbox(sh)
}

/// cargo-deny checks the dependencies' licences in CI (`deny.toml`). It is installed once per
/// machine, by `setup` and by `ci` before its check, and never by the commands that build or
/// run: a cold `cargo install` compiles for about three minutes, which a first `repro` should
/// not wait for.
pub fn ensure_cargo_deny(sh: &Shell) -> anyhow::Result<()> {
    let cargo = crate::cargo();
    let installed =
        cmd!(sh, "{cargo} deny --version").quiet().ignore_stdout().ignore_stderr().run().is_ok();
    if installed {
        return Ok(());
    }
    println!(
        "setup: installing cargo-deny with `cargo install --locked cargo-deny` (about 3 minutes, once per machine)"
    );
    cmd!(sh, "{cargo} install --locked cargo-deny").run().context(
        "cannot install cargo-deny, which checks the dependencies' licences; the errors above say why (it needs crates.io)",
    )?;
    Ok(())
}

/// bubblewrap needs user namespaces, which some systems restrict (Ubuntu 24.04 through
/// AppArmor, as on GitHub's ubuntu-latest runners). Without them the harness runs Wine
/// unsandboxed and refuses DLLs of the user's own; this says how to allow them.
fn check_sandbox(sh: &Shell) -> anyhow::Result<()> {
    if cfg!(windows) {
        return Ok(());
    }
    let works = cmd!(
        sh,
        "bwrap --unshare-user --unshare-pid --unshare-net --ro-bind / / --proc /proc -- true"
    )
    .quiet()
    .ignore_stdout()
    .ignore_stderr()
    .run()
    .is_ok();
    if works {
        return Ok(());
    }
    let apparmor = Path::new("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let restricted = std::fs::read_to_string(apparmor).is_ok_and(|value| value.trim() == "1");
    let allow = "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
    // On a CI runner (GitHub's ubuntu-latest sets CI=true) the machine is the project's to
    // configure; on a person's machine the choice is theirs, so setup only says what to run.
    if restricted && std::env::var_os("CI").is_some() && (is_root(sh) || which("sudo").is_some()) {
        println!("setup: allowing user namespaces for bubblewrap (AppArmor restricts them here)");
        let args: Vec<&str> = allow.split(' ').skip(1).collect();
        as_root(sh, !is_root(sh), "sysctl", &args).run()?;
        return Ok(());
    }
    bail!(
        "setup: bubblewrap cannot create user namespaces here, so the harness cannot sandbox \
         Wine (it will refuse DLLs of your own without --unsandboxed). Allow them (on Ubuntu \
         24.04: `sudo {allow}`, or an AppArmor profile for /usr/bin/bwrap), then run \
         `cargo xtask setup` again"
    )
}

/// Called by every command that builds or runs: quiet when nothing is missing.
pub fn ensure(sh: &Shell) -> anyhow::Result<()> {
    let missing = missing(sh)?;
    if missing.is_empty() {
        Ok(())
    } else {
        install(sh, &missing)?;
        check_sandbox(sh)
    }
}

fn describe_present() -> &'static str {
    if cfg!(windows) {
        "Rust *-pc-windows-msvc targets, MSVC x86 and x64 toolsets"
    } else {
        "mingw-w64, Wine 64-bit with its 32-bit modules, bubblewrap, hivexregedit, Rust *-pc-windows-gnu targets"
    }
}

fn missing(sh: &Shell) -> anyhow::Result<Vec<Missing>> {
    let mut missing = Vec::new();
    let installed_targets = cmd!(sh, "rustup target list --installed")
        .read()
        .context("cannot ask rustup which targets are installed: is rustup on PATH?")?;
    for arch in Arch::ALL {
        if !installed_targets
            .lines()
            .any(|line| line.trim() == arch.rust_target(Toolchain::current()))
        {
            missing.push(Missing::RustTarget(arch));
        }
    }
    if cfg!(windows) {
        return Ok(missing);
    }
    if Arch::ALL.iter().any(|arch| which(&format!("{}-gcc", arch.mingw_prefix())).is_none()) {
        missing.push(Missing::Mingw);
    }
    if !Path::new(WINE64).exists() {
        missing.push(Missing::Wine);
    }
    if which("bwrap").is_none() {
        missing.push(Missing::Bubblewrap);
    }
    if which("hivexregedit").is_none() {
        missing.push(Missing::Hivex);
    }
    // A single file from the package proves the folder was filled, not just created: Wine's own
    // package already ships that folder with one DLL in it.
    if !Path::new(WINE_I386_MODULES).join("kernel32.dll").exists() {
        missing.push(Missing::WineI386Modules);
    }
    Ok(missing)
}

fn install(sh: &Shell, missing: &[Missing]) -> anyhow::Result<()> {
    for &item in missing {
        if let Missing::RustTarget(arch) = item {
            let target = arch.rust_target(Toolchain::current());
            println!("setup: adding the Rust target {target}");
            cmd!(sh, "rustup target add {target}").run()?;
        }
    }
    if cfg!(windows) {
        return check_msvc();
    }
    let system: Vec<Missing> =
        missing.iter().copied().filter(|item| !matches!(item, Missing::RustTarget(_))).collect();
    if system.is_empty() {
        return Ok(());
    }
    let can_act =
        Path::new("/etc/debian_version").exists() && (is_root(sh) || which("sudo").is_some());
    if !can_act {
        bail!(
            "setup: this machine lacks {system:?} and I can only install them on Debian or Ubuntu as \
             root or with sudo. Run these commands as root, then run `cargo xtask setup` again:\n{}",
            manual_commands()
        );
    }
    let sudo = !is_root(sh);
    // The i386 index of the security mirror is sometimes out of step and makes `apt-get update`
    // exit with 100 although every list we need arrived; what matters is whether the installs
    // below then work, and they say so clearly when they do not.
    let apt_update = |sh: &Shell| -> anyhow::Result<()> {
        let status =
            as_root(sh, sudo, "apt-get", &["update", "-qq"]).quiet().ignore_status().output()?;
        if !status.status.success() {
            println!(
                "setup: apt-get update reported errors (tolerated; checking the installs instead)"
            );
        }
        Ok(())
    };
    if system.contains(&Missing::Mingw) || system.contains(&Missing::Wine) {
        println!("setup: installing mingw-w64 and wine64 with apt-get (about 30 s)");
        apt_update(sh)?;
        let packages = ["install", "-y", "-qq", "--no-install-recommends", "mingw-w64", "wine64"];
        as_root(sh, sudo, "apt-get", &packages).env("DEBIAN_FRONTEND", "noninteractive").run()?;
    }
    if system.contains(&Missing::Bubblewrap) {
        println!("setup: installing bubblewrap with apt-get");
        apt_update(sh)?;
        let packages = ["install", "-y", "-qq", "--no-install-recommends", "bubblewrap"];
        as_root(sh, sudo, "apt-get", &packages).env("DEBIAN_FRONTEND", "noninteractive").run()?;
    }
    if system.contains(&Missing::Hivex) {
        println!(
            "setup: installing libhivex-bin and libwin-hivex-perl (hivexregedit) with apt-get"
        );
        apt_update(sh)?;
        let packages = [
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "libhivex-bin",
            "libwin-hivex-perl",
        ];
        as_root(sh, sudo, "apt-get", &packages).env("DEBIAN_FRONTEND", "noninteractive").run()?;
    }
    if system.contains(&Missing::WineI386Modules) {
        install_wine_i386_modules(sh, sudo, apt_update)?;
    }
    Ok(())
}

/// Wine runs 32-bit programs in its WoW64 mode once its i386 PE modules are beside the 64-bit
/// ones. They come from the `libwine:i386` package, unpacked rather than installed: installing
/// it would drag in the whole i386 dependency tree, which the mirrors here cannot satisfy.
fn install_wine_i386_modules(
    sh: &Shell,
    sudo: bool,
    apt_update: impl Fn(&Shell) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    println!("setup: adding Wine's 32-bit modules from the libwine:i386 package (about 95 MB)");
    let architectures = cmd!(sh, "dpkg --print-foreign-architectures").read()?;
    if !architectures.lines().any(|line| line.trim() == "i386") {
        as_root(sh, sudo, "dpkg", &["--add-architecture", "i386"]).run()?;
    }
    apt_update(sh)?;
    let work = crate::artifacts::dir().join("setup");
    if work.exists() {
        sh.remove_path(&work)?;
    }
    sh.create_dir(&work)?;
    {
        let _dir = sh.push_dir(&work);
        cmd!(sh, "apt-get download libwine:i386").run().context(
            "cannot download libwine:i386; check `apt-cache policy libwine:i386` after `apt-get update`",
        )?;
    }
    let deb = std::fs::read_dir(&work)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .context("apt-get download left no .deb file")?;
    let unpacked = work.join("unpacked");
    cmd!(sh, "dpkg-deb -x {deb} {unpacked}").run()?;
    let modules = unpacked.join("usr/lib/i386-linux-gnu/wine/i386-windows");
    if !modules.join("kernel32.dll").exists() {
        bail!(
            "the libwine:i386 package has no {}/kernel32.dll; its layout changed",
            modules.display()
        );
    }
    // `cp -n` keeps whatever the 64-bit package already put there; `DIR/.` copies the folder's
    // contents without naming its 750 files on the command line.
    println!("setup: copying {} into {WINE_I386_MODULES}", modules.display());
    as_root(sh, sudo, "cp", &["-r", "-n"])
        .arg(modules.join("."))
        .arg(format!("{WINE_I386_MODULES}/"))
        .quiet()
        .run()?;
    sh.remove_path(&work)?;
    Ok(())
}

fn manual_commands() -> String {
    format!(
        "  apt-get update\n  apt-get install -y --no-install-recommends mingw-w64 wine64 bubblewrap libhivex-bin libwin-hivex-perl\n  \
         dpkg --add-architecture i386 && apt-get update\n  apt-get download libwine:i386\n  \
         dpkg-deb -x libwine_*_i386.deb unpacked\n  \
         cp -n unpacked/usr/lib/i386-linux-gnu/wine/i386-windows/* {WINE_I386_MODULES}/\n  \
         rustup target add i686-pc-windows-gnu x86_64-pc-windows-gnu"
    )
}

/// A command run as root: directly when we are root, through sudo otherwise.
fn as_root<'a>(sh: &'a Shell, sudo: bool, program: &str, args: &[&str]) -> xshell::Cmd<'a> {
    if sudo { sh.cmd("sudo").arg(program).args(args) } else { sh.cmd(program).args(args) }
}

fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u").quiet().read().is_ok_and(|uid| uid.trim() == "0")
}

/// Checks that cc can find an MSVC compiler for both architectures, the way the build will.
fn check_msvc() -> anyhow::Result<()> {
    for arch in Arch::ALL {
        let target = arch.rust_target(Toolchain::Msvc);
        if cc::windows_registry::find_tool(target, "cl.exe").is_none() {
            bail!(
                "setup: no MSVC compiler for {target}. Install Visual Studio Build Tools with the \
                 \"Desktop development with C++\" workload (component \
                 Microsoft.VisualStudio.Component.VC.Tools.x86.x64), then run `cargo xtask setup` again"
            );
        }
    }
    Ok(())
}

pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// Adds the MSVC target `cargo xtask ci` type-checks the harness for on every machine (see
/// `ci::check_msvc`). `cargo check` needs only the target's standard library: no MSVC, no linker.
pub fn ensure_check_target(sh: &Shell, target: &str) -> anyhow::Result<()> {
    let installed = installed_targets(sh)?;
    if !installed.iter().any(|line| line == target) {
        println!("setup: adding the Rust target {target} (for `cargo check`)");
        cmd!(sh, "rustup target add {target}")
            .run()
            .with_context(|| format!("cannot add the Rust target {target} with rustup"))?;
    }
    Ok(())
}

/// The targets rustup has installed for the toolchain in use here.
fn installed_targets(sh: &Shell) -> anyhow::Result<Vec<String>> {
    let list = cmd!(sh, "rustup target list --installed")
        .read()
        .context("cannot ask rustup which targets are installed: is rustup on PATH?")?;
    Ok(list.lines().map(|line| line.trim().to_owned()).collect())
}
