//! `collect --from`: a server's system drive laid out in a temporary folder (its MetaBase.xml
//! naming a vendor filter that imports a dependency beside it, a script map to an extension
//! that is gone, a `web.config` beside the filter, a few of Wine's DLLs standing for the OS's
//! own, and SOFTWARE and SYSTEM hives made from `.reg` text with `hivexregedit --merge`),
//! collected by the real binary, checked through `ServerCopy::read`, and then started from
//! the files of the copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::arch::Os;
use harness::server_copy::ServerCopy;
use harness::windows_loader::WindowsVersion;

use super::{harness, json, stderr};

const METABASE: &str = r#"<?xml version ="1.0"?>
<configuration xmlns="urn:microsoft-catalog:XML_Metabase_V64_0">
<MBProperty>
<IIsWebService	Location ="/LM/W3SVC"
		AppPoolId="DefaultAppPool"
		ScriptMaps=".xyz,C:\Ext\missing.dll,1"
	>
</IIsWebService>
<IIsApplicationPool	Location ="/LM/W3SVC/AppPools/DefaultAppPool"
	>
</IIsApplicationPool>
<IIsFilters	Location ="/LM/W3SVC/Filters"
		FilterLoadOrder="Vendor"
	>
</IIsFilters>
<IIsFilter	Location ="/LM/W3SVC/Filters/Vendor"
		FilterEnabled="TRUE"
		FilterPath="C:\Filters\vendor.dll"
	>
</IIsFilter>
</MBProperty>
</configuration>
"#;

const SOFTWARE: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentVersion"="5.2"
"CurrentBuildNumber"="3790"
"ProductName"="Microsoft Windows Server 2003 R2"

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node]

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft]

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows]

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion]

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall]

[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\{9BE518E6-ECC6-35A9-88E4-87755C07200F}]
"DisplayName"="Microsoft Visual C++ 2008 Redistributable - x86 9.0.30729.6161"
"#;

const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Session Manager]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Session Manager\Environment]
"PROCESSOR_ARCHITECTURE"="AMD64"
"#;

/// An empty registry hive (a base block, one bin, a root key with a security cell), which
/// `hivexregedit --merge` fills: hivex edits hives and cannot make one. The layout is the one
/// of the "Windows registry file format specification" (regf 1.3).
fn empty_hive() -> Vec<u8> {
    let mut hive = vec![0u8; 8192];
    let put32 = |hive: &mut Vec<u8>, at: usize, value: u32| {
        hive[at..at + 4].copy_from_slice(&value.to_le_bytes());
    };
    hive[0..4].copy_from_slice(b"regf");
    put32(&mut hive, 0x04, 1);
    put32(&mut hive, 0x08, 1);
    put32(&mut hive, 0x14, 1);
    put32(&mut hive, 0x18, 3);
    put32(&mut hive, 0x1C, 0);
    put32(&mut hive, 0x20, 1);
    put32(&mut hive, 0x24, 0x20);
    put32(&mut hive, 0x28, 4096);
    put32(&mut hive, 0x2C, 1);
    let checksum = (0..0x1FC)
        .step_by(4)
        .fold(0u32, |sum, at| sum ^ u32::from_le_bytes(hive[at..at + 4].try_into().unwrap()));
    put32(&mut hive, 0x1FC, checksum);
    let bin = 4096;
    hive[bin..bin + 4].copy_from_slice(b"hbin");
    put32(&mut hive, bin + 0x08, 4096);
    // The root key, 88 bytes allocated (a negative size), then its security cell.
    let nk = bin + 0x20;
    let sk_offset = 0x20 + 88;
    put32(&mut hive, nk, (-88i32) as u32);
    hive[nk + 4..nk + 6].copy_from_slice(b"nk");
    hive[nk + 6..nk + 8].copy_from_slice(&0x2Cu16.to_le_bytes());
    put32(&mut hive, nk + 4 + 0x10, 0xFFFF_FFFF);
    for field in [0x1C, 0x20, 0x28, 0x30] {
        put32(&mut hive, nk + 4 + field, 0xFFFF_FFFF);
    }
    put32(&mut hive, nk + 4 + 0x2C, sk_offset as u32);
    hive[nk + 4 + 0x48..nk + 4 + 0x4A].copy_from_slice(&4u16.to_le_bytes());
    hive[nk + 4 + 0x4C..nk + 4 + 0x50].copy_from_slice(b"ROOT");
    let sk = bin + sk_offset;
    put32(&mut hive, sk, (-48i32) as u32);
    hive[sk + 4..sk + 6].copy_from_slice(b"sk");
    put32(&mut hive, sk + 4 + 0x04, sk_offset as u32);
    put32(&mut hive, sk + 4 + 0x08, sk_offset as u32);
    put32(&mut hive, sk + 4 + 0x0C, 1);
    put32(&mut hive, sk + 4 + 0x10, 20);
    // A self-relative security descriptor with nothing in it.
    hive[sk + 4 + 0x14] = 1;
    hive[sk + 4 + 0x16..sk + 4 + 0x18].copy_from_slice(&0x8000u16.to_le_bytes());
    // The rest of the bin is one free cell.
    put32(&mut hive, sk + 48, (4096 - sk_offset - 48) as u32);
    hive
}

#[expect(clippy::disallowed_methods, reason = "hivexregedit makes the test's hives")]
fn hive(path: &Path, prefix: &str, reg: &str) {
    std::fs::write(path, empty_hive()).unwrap();
    let text = path.with_extension("reg");
    std::fs::write(&text, reg).unwrap();
    let output = Command::new("hivexregedit")
        .args(["--merge", "--prefix", prefix])
        .arg(path)
        .arg(&text)
        .output()
        .expect("hivexregedit runs: `cargo xtask setup` installs libhivex-bin");
    assert!(output.status.success(), "hivexregedit: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_file(text).unwrap();
}

/// Wine's own 64-bit DLLs, which stand for the server's System32.
fn wine_dlls() -> PathBuf {
    ["/usr/lib/x86_64-linux-gnu/wine/x86_64-windows", "/usr/lib/wine/x86_64-windows"]
        .iter()
        .map(PathBuf::from)
        .find(|folder| folder.join("kernel32.dll").is_file())
        .expect("Wine's x86_64-windows DLLs: run `cargo xtask setup`")
}

fn fixture(name: &str) -> PathBuf {
    let path =
        harness::artifacts::Artifacts::locate().unwrap().root().join("deps/amd64").join(name);
    assert!(path.is_file(), "`{}` is not built: run `cargo xtask build`", path.display());
    path
}

/// A 64-bit Windows Server 2003's drive C:.
fn lay_out(root: &Path) {
    let put = |relative: &str, bytes: &[u8]| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("WINDOWS/system32/inetsrv/MetaBase.xml", METABASE.as_bytes());
    put("WINDOWS/system32/inetsrv/MBSchema.xml", b"<schema/>");
    put("Filters/vendor.dll", &std::fs::read(fixture("imports_dep.dll")).unwrap());
    put("Filters/dep.dll", &std::fs::read(fixture("dep.dll")).unwrap());
    put("Filters/web.config", b"<configuration><appSettings><add key=\"password\" value=\"secret\"/></appSettings></configuration>");
    for dll in ["kernel32.dll", "msvcrt.dll", "ntdll.dll"] {
        put(&format!("WINDOWS/system32/{dll}"), &std::fs::read(wine_dlls().join(dll)).unwrap());
    }
    std::fs::create_dir_all(root.join("WINDOWS/SysWOW64")).unwrap();
    std::fs::create_dir_all(root.join("WINDOWS/system32/config")).unwrap();
    hive(&root.join("WINDOWS/system32/config/SOFTWARE"), r"HKEY_LOCAL_MACHINE\SOFTWARE", SOFTWARE);
    hive(&root.join("WINDOWS/system32/config/SYSTEM"), r"HKEY_LOCAL_MACHINE\SYSTEM", SYSTEM);
}

/// Every file under `root` with its bytes, and every folder: what "unchanged" compares.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut seen = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                seen.insert(path.clone(), None);
                folders.push(path);
            } else {
                seen.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    seen
}

fn scratch(name: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("collect").join(name);
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn collect(root: &Path, out: &Path) -> Output {
    harness(&["collect", "--from", root.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

/// The laid-out drive, collected: the copy holds the configuration, the filter and its
/// dependency; kernel32 is recorded, not copied; the gone extension and the web.config are
/// left out and said so; the drive is unchanged.
#[test]
fn collect_from_a_laid_out_drive_writes_a_copy_and_leaves_the_drive_unchanged() {
    let work = scratch("laid-out");
    let root = work.join("c");
    lay_out(&root);
    let before = snapshot(&root);
    let out = work.join("copy");

    let output = collect(&root, &out);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(r"copied    C:\Filters\dep.dll"), "{text}");
    assert!(text.contains(r"left out  C:\Filters\web.config: "), "{text}");

    let copy = ServerCopy::read(&out).expect("the copy reads back");
    assert_eq!(copy.manifest.windows, Some(WindowsVersion::Server2003));
    assert_eq!(copy.manifest.os, Os::X64);
    let installed: Vec<String> = copy.manifest.installed.iter().map(ToString::to_string).collect();
    assert_eq!(installed, ["vc2008-x86"]);
    let held: Vec<&str> = copy.files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        held,
        [
            r"C:\Filters\dep.dll",
            r"C:\Filters\vendor.dll",
            r"C:\WINDOWS\system32\inetsrv\MetaBase.xml"
        ]
    );
    assert_eq!(std::fs::read_to_string(&copy.config).unwrap(), METABASE);
    let recorded: Vec<&str> =
        copy.manifest.system_files.iter().map(|file| file.path.as_str()).collect();
    assert!(recorded.contains(&r"C:\WINDOWS\system32\kernel32.dll"), "{recorded:?}");
    let kernel32 =
        copy.manifest.system_files.iter().find(|file| file.path.ends_with("kernel32.dll")).unwrap();
    assert_eq!(kernel32.machine.as_deref(), Some("amd64"));
    assert!(kernel32.version.is_some(), "{kernel32:?}");
    let left: Vec<&str> = copy.manifest.left_out.iter().map(|out| out.path.as_str()).collect();
    assert!(left.contains(&r"C:\Ext\missing.dll"), "{left:?}");
    assert!(left.contains(&r"C:\Filters\web.config"), "{left:?}");

    assert_eq!(snapshot(&root), before, "collect wrote to the source");

    // A second collect into the same folder, and one into the source, write nothing.
    let again = collect(&root, &out);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("the output folder is not empty"), "{}", stderr(&again));
    let inside = root.join("copy");
    let refused = collect(&root, &inside);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("inside the source drive"), "{}", stderr(&refused));
    assert_eq!(snapshot(&root), before, "a refused collect wrote to the source");

    // The copy runs: its configuration with its files at their Windows paths. The filter's
    // real answer needs its dependency, which the copy carried.
    let mut args: Vec<String> =
        vec!["start".into(), "--config".into(), copy.config.display().to_string()];
    for (path, here) in &copy.files {
        if path.as_str().to_ascii_lowercase().ends_with(".dll") {
            args.push("--image".into());
            args.push(format!("{}={}", path.as_str(), here.display()));
        }
    }
    args.extend(["--windows".into(), "2003".into(), "--json".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = harness(&args);
    let report = json(&started);
    let filter = &report["hosts"][0]["filters"][0];
    assert_eq!(filter["path"], r"C:\Filters\vendor.dll", "{report:#}");
    assert_eq!(filter["loaded"], true, "{report:#}");
}

/// The same copy through `start --server`: the collected folder runs as it is, the filter's
/// dependency carried by `collect`.
#[test]
fn start_server_runs_a_collected_copy() {
    let work = scratch("start-server");
    let root = work.join("c");
    lay_out(&root);
    let out = work.join("copy");
    assert_eq!(collect(&root, &out).status.code(), Some(0));
    let started = harness(&["start", "--server", out.to_str().unwrap(), "--json"]);
    let report = json(&started);
    let filter = &report["hosts"][0]["filters"][0];
    assert_eq!(filter["path"], r"C:\Filters\vendor.dll", "{report:#}");
    assert_eq!(filter["loaded"], true, "{report:#}");
}

/// The Windows build's live collect, run under Wine by `cargo xtask windows-gnu`: the prefix
/// plays the server (its `C:\windows\system32` and registry), with a MetaBase.xml put into its
/// inetsrv folder naming a vendor filter and its dependency. Wine reports a Windows 10 build,
/// which has no server profile, so the test names the server's Windows.
#[cfg(windows)]
#[test]
fn collect_on_windows_reads_the_machine_it_runs_on() {
    let windir = PathBuf::from(std::env::var_os("windir").expect("%windir% under Wine"));
    let inetsrv = windir.join("system32").join("inetsrv");
    std::fs::create_dir_all(&inetsrv).unwrap();
    let metabase = inetsrv.join("MetaBase.xml");
    assert!(
        !metabase.exists(),
        "{} is the server's own; the test does not overwrite it",
        metabase.display()
    );
    let filters = Path::new(r"C:\collect-test\Filters");
    std::fs::create_dir_all(filters).unwrap();
    std::fs::copy(fixture("imports_dep.dll"), filters.join("vendor.dll")).unwrap();
    std::fs::copy(fixture("dep.dll"), filters.join("dep.dll")).unwrap();
    std::fs::write(&metabase, METABASE.replace(r"C:\Filters\", r"C:\collect-test\Filters\"))
        .unwrap();
    let out = scratch("live");
    let output =
        harness(&["collect", "--out", out.join("copy").to_str().unwrap(), "--windows", "2019"]);
    std::fs::remove_file(&metabase).unwrap();
    std::fs::remove_dir_all(r"C:\collect-test").unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let copy = ServerCopy::read(&out.join("copy")).expect("the copy reads back");
    let held: Vec<String> =
        copy.files.iter().map(|(path, _)| path.as_str().to_ascii_lowercase()).collect();
    assert!(held.contains(&r"c:\collect-test\filters\vendor.dll".to_owned()), "{held:?}");
    assert!(held.contains(&r"c:\collect-test\filters\dep.dll".to_owned()), "{held:?}");
    let recorded: Vec<String> =
        copy.manifest.system_files.iter().map(|file| file.path.to_ascii_lowercase()).collect();
    assert!(recorded.contains(&r"c:\windows\system32\kernel32.dll".to_owned()), "{recorded:?}");
}
