//! The server's Windows, bitness, runtimes and PATH, from its registry: the offline hives of a
//! mounted drive (`Windows\System32\config\SOFTWARE` and `SYSTEM`, read by `hive.rs`), or the
//! live registry on Windows. Both answer the same questions through [`Registry`], so the keys
//! read and what they mean are written once, here.
//!
//! - The Windows: `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, its `CurrentBuildNumber`
//!   first (Windows 10 and later still say `CurrentVersion` 6.3), else `CurrentVersion`.
//! - The VC++ 2015+ runtimes: `Microsoft\VisualStudio\14.0\VC\Runtimes\x64|x86` with
//!   `Installed` 1 (the x86 one under `WOW6432Node` on x64); older ones and MSXML 4 by the
//!   `DisplayName` of their `Microsoft\Windows\CurrentVersion\Uninstall` entries (both views).
//! - The bitness: `PROCESSOR_ARCHITECTURE` of the current control set's
//!   `Control\Session Manager\Environment` in SYSTEM, and `Path` beside it.

use std::path::Path;

use anyhow::Context;

use super::hive::{Data, HiveFile};
use crate::arch::{Bits, Os};
use crate::windows_loader::profile::Runtime;
use crate::windows_loader::{Redistributable, WindowsVersion};

/// A value as the questions below read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Number(u64),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Number(number) => number.to_string(),
        }
    }
}

/// The two hives read, each path relative to its hive's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hive {
    Software,
    System,
}

/// A registry to ask: keys are paths below the hive's root, `\` between names, any case.
pub trait Registry {
    fn value(&mut self, hive: Hive, key: &str, name: &str) -> Option<Value>;
    fn subkeys(&mut self, hive: Hive, key: &str) -> Vec<String>;
}

/// What the registry says about the server. None where it does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub windows: Option<WindowsVersion>,
    /// The Windows as the registry names it (`Windows Server 2003, build 3790, version 5.2`),
    /// for the error when no profile fits.
    pub windows_named: Option<String>,
    pub os: Option<Os>,
    pub installed: Vec<Redistributable>,
    /// The system PATH, as written (`%SystemRoot%\system32;...`).
    pub path: Option<String>,
}

const CURRENT_VERSION: &str = r"Microsoft\Windows NT\CurrentVersion";
const UNINSTALL: [&str; 2] = [
    r"Microsoft\Windows\CurrentVersion\Uninstall",
    r"WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
];

/// Reads the facts. `os` is the bitness when it is known otherwise (a SysWOW64 folder).
pub fn facts(registry: &mut dyn Registry, os_by_folders: Os) -> Facts {
    let mut facts = Facts::default();
    let build =
        registry.value(Hive::Software, CURRENT_VERSION, "CurrentBuildNumber").map(|v| v.text());
    let version =
        registry.value(Hive::Software, CURRENT_VERSION, "CurrentVersion").map(|v| v.text());
    let product = registry.value(Hive::Software, CURRENT_VERSION, "ProductName").map(|v| v.text());
    facts.windows = windows_version(version.as_deref(), build.as_deref());
    if version.is_some() || build.is_some() || product.is_some() {
        facts.windows_named = Some(format!(
            "{}, build {}, version {}",
            product.as_deref().unwrap_or("Windows"),
            build.as_deref().unwrap_or("?"),
            version.as_deref().unwrap_or("?")
        ));
    }
    let control_set = registry
        .value(Hive::System, "Select", "Current")
        .and_then(|value| match value {
            Value::Number(number) => Some(number),
            Value::Text(text) => text.parse().ok(),
        })
        .unwrap_or(1);
    let environment = format!(r"ControlSet{control_set:03}\Control\Session Manager\Environment");
    facts.os =
        registry.value(Hive::System, &environment, "PROCESSOR_ARCHITECTURE").and_then(|value| {
            match value.text().to_ascii_uppercase().as_str() {
                "AMD64" => Some(Os::X64),
                "X86" => Some(Os::X86),
                _ => None,
            }
        });
    facts.path = registry.value(Hive::System, &environment, "Path").map(|value| value.text());
    let os = facts.os.unwrap_or(os_by_folders);

    let mut installed = Vec::new();
    for (bits, key) in [
        (Bits::B64, r"Microsoft\VisualStudio\14.0\VC\Runtimes\x64"),
        (Bits::B32, r"Microsoft\VisualStudio\14.0\VC\Runtimes\x86"),
        (Bits::B32, r"WOW6432Node\Microsoft\VisualStudio\14.0\VC\Runtimes\x86"),
    ] {
        if bits == Bits::B64 && os == Os::X86 {
            continue;
        }
        if registry.value(Hive::Software, key, "Installed") == Some(Value::Number(1)) {
            installed.push(Redistributable { family: Runtime::Vc2015Plus, bits });
        }
    }
    for uninstall in UNINSTALL {
        for entry in registry.subkeys(Hive::Software, uninstall) {
            let key = format!(r"{uninstall}\{entry}");
            if let Some(name) = registry.value(Hive::Software, &key, "DisplayName")
                && let Some(redistributable) = redistributable_named(&name.text())
            {
                installed.push(redistributable);
            }
        }
    }
    installed.sort();
    installed.dedup();
    facts.installed = installed;
    facts
}

/// The Windows Server a version and build number stand for; None for one the harness has no
/// profile of (Server 2012, a client Windows).
pub fn windows_version(version: Option<&str>, build: Option<&str>) -> Option<WindowsVersion> {
    let by_build = match build.and_then(|build| build.trim().parse::<u32>().ok()) {
        Some(3790) => Some(WindowsVersion::Server2003),
        Some(6001..=6003) => Some(WindowsVersion::Server2008),
        Some(7600 | 7601) => Some(WindowsVersion::Server2008R2),
        Some(9600) => Some(WindowsVersion::Server2012R2),
        Some(14393) => Some(WindowsVersion::Server2016),
        Some(17763) => Some(WindowsVersion::Server2019),
        Some(20348) => Some(WindowsVersion::Server2022),
        Some(_) => return None,
        None => None,
    };
    by_build.or_else(|| match version?.trim() {
        "5.2" => Some(WindowsVersion::Server2003),
        "6.0" => Some(WindowsVersion::Server2008),
        "6.1" => Some(WindowsVersion::Server2008R2),
        "6.3" => Some(WindowsVersion::Server2012R2),
        _ => None,
    })
}

/// The redistributable an Uninstall entry's `DisplayName` names: "Microsoft Visual C++ 2008
/// Redistributable - x86 9.0.30729", "Microsoft Visual C++ 2010  x64 Redistributable",
/// "Microsoft Visual C++ 2015-2019 Redistributable (x64)", "MSXML 4.0 SP3 Parser". One that
/// names no bitness is x86, as the 2005 redistributable's first release was.
pub fn redistributable_named(name: &str) -> Option<Redistributable> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("msxml 4") {
        return Some(Redistributable { family: Runtime::Msxml4, bits: Bits::B64 });
    }
    let rest = lower.strip_prefix("microsoft visual c++ ")?;
    if !rest.contains("redistributable") && !rest.contains("runtime") {
        return None;
    }
    let year: u32 = rest.get(..4)?.parse().ok()?;
    let family = match year {
        2005 => Runtime::Vc2005,
        2008 => Runtime::Vc2008,
        2010 => Runtime::Vc2010,
        2012 => Runtime::Vc2012,
        2013 => Runtime::Vc2013,
        2015.. => Runtime::Vc2015Plus,
        _ => return None,
    };
    let words: Vec<&str> =
        rest.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let bits = if words.iter().any(|w| matches!(*w, "x64" | "amd64")) {
        Bits::B64
    } else if words.contains(&"ia64") {
        return None;
    } else {
        Bits::B32
    };
    Some(Redistributable { family, bits })
}

/// The offline hives of a mounted system drive (see `hive.rs`); either may be absent.
pub struct OfflineHives {
    software: Option<HiveFile>,
    system: Option<HiveFile>,
}

impl OfflineHives {
    /// Reads the hives that exist (the files only: the transaction logs beside them are not
    /// applied).
    pub fn open(software: Option<&Path>, system: Option<&Path>) -> anyhow::Result<OfflineHives> {
        let open = |path: Option<&Path>| -> anyhow::Result<Option<HiveFile>> {
            let Some(path) = path else { return Ok(None) };
            let bytes = std::fs::read(path)
                .with_context(|| format!("{}: cannot read the registry hive", path.display()))?;
            let hive = HiveFile::parse(bytes).map_err(|error| {
                anyhow::anyhow!(
                    "{}: not a registry hive ({error}); give the server's Windows with --windows",
                    path.display()
                )
            })?;
            Ok(Some(hive))
        };
        Ok(OfflineHives { software: open(software)?, system: open(system)? })
    }

    fn hive(&self, hive: Hive) -> Option<&HiveFile> {
        match hive {
            Hive::Software => self.software.as_ref(),
            Hive::System => self.system.as_ref(),
        }
    }
}

impl Registry for OfflineHives {
    fn value(&mut self, hive: Hive, key: &str, name: &str) -> Option<Value> {
        let hive = self.hive(hive)?;
        match hive.value(hive.key(key)?, name)? {
            Data::Text(text) => Some(Value::Text(text)),
            Data::Lines(lines) => Some(Value::Text(lines.join("\n"))),
            Data::Number(number) => Some(Value::Number(number)),
            Data::Other => None,
        }
    }

    fn subkeys(&mut self, hive: Hive, key: &str) -> Vec<String> {
        let Some(hive) = self.hive(hive) else { return Vec::new() };
        hive.key(key).map(|key| hive.subkey_names(key)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn builds_and_versions_name_their_server() {
        assert_eq!(windows_version(Some("5.2"), Some("3790")), Some(WindowsVersion::Server2003));
        assert_eq!(windows_version(Some("6.3"), Some("17763")), Some(WindowsVersion::Server2019));
        assert_eq!(windows_version(Some("6.3"), Some("20348")), Some(WindowsVersion::Server2022));
        assert_eq!(windows_version(Some("6.3"), Some("14393")), Some(WindowsVersion::Server2016));
        assert_eq!(windows_version(Some("6.1"), None), Some(WindowsVersion::Server2008R2));
        assert_eq!(windows_version(Some("6.2"), Some("9200")), None, "Server 2012 has no profile");
        assert_eq!(windows_version(Some("6.3"), Some("19045")), None, "a client Windows");
    }

    #[test]
    fn uninstall_names_are_read_as_redistributables() {
        let named = |name: &str| redistributable_named(name).map(|r| r.to_string());
        assert_eq!(
            named("Microsoft Visual C++ 2008 Redistributable - x86 9.0.30729.4148").as_deref(),
            Some("vc2008-x86")
        );
        assert_eq!(
            named("Microsoft Visual C++ 2010  x64 Redistributable - 10.0.40219").as_deref(),
            Some("vc2010-x64")
        );
        assert_eq!(
            named("Microsoft Visual C++ 2015-2019 Redistributable (x64) - 14.29.30133").as_deref(),
            Some("vc2015+-x64")
        );
        assert_eq!(
            named("Microsoft Visual C++ 2005 Redistributable").as_deref(),
            Some("vc2005-x86")
        );
        assert_eq!(named("MSXML 4.0 SP3 Parser").as_deref(), Some("msxml4"));
        assert_eq!(named("Microsoft Visual Studio 2010 Tools"), None);
    }

    #[derive(Default)]
    struct MemoryRegistry {
        values: HashMap<(String, String), Value>,
        subkeys: HashMap<String, Vec<String>>,
    }

    impl Registry for MemoryRegistry {
        fn value(&mut self, _: Hive, key: &str, name: &str) -> Option<Value> {
            self.values.get(&(key.to_owned(), name.to_owned())).cloned()
        }
        fn subkeys(&mut self, _: Hive, key: &str) -> Vec<String> {
            self.subkeys.get(key).cloned().unwrap_or_default()
        }
    }

    #[test]
    fn the_facts_come_from_the_keys_the_module_names() {
        let mut registry = MemoryRegistry::default();
        let mut set = |key: &str, name: &str, value: Value| {
            registry.values.insert((key.to_owned(), name.to_owned()), value);
        };
        set(CURRENT_VERSION, "CurrentVersion", Value::Text("5.2".into()));
        set(CURRENT_VERSION, "CurrentBuildNumber", Value::Text("3790".into()));
        set("Select", "Current", Value::Number(2));
        let environment = r"ControlSet002\Control\Session Manager\Environment";
        set(environment, "PROCESSOR_ARCHITECTURE", Value::Text("AMD64".into()));
        set(
            r"WOW6432Node\Microsoft\VisualStudio\14.0\VC\Runtimes\x86",
            "Installed",
            Value::Number(1),
        );
        set(
            &format!(r"{}\{{X}}", UNINSTALL[1]),
            "DisplayName",
            Value::Text("Microsoft Visual C++ 2008 Redistributable - x86 9.0".into()),
        );
        registry.subkeys.insert(UNINSTALL[1].to_owned(), vec!["{X}".to_owned()]);
        let facts = facts(&mut registry, Os::X86);
        assert_eq!(facts.windows, Some(WindowsVersion::Server2003));
        assert_eq!(facts.os, Some(Os::X64));
        let installed: Vec<String> = facts.installed.iter().map(ToString::to_string).collect();
        assert_eq!(installed, ["vc2008-x86", "vc2015+-x86"]);
    }
}
