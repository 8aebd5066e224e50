//! What the target Windows holds: which of the DLLs a Wine prefix has the server would have too.
//!
//! A Wine prefix has about 545 builtin DLLs per bitness, among them C runtimes that a bare
//! Windows Server never ships (the VC++ redistributables), the UCRT that Server 2003 lacks and
//! a `mscoree` for .NET. The profile names the server's Windows and what was installed on it,
//! and answers, for a DLL name, whether the server has it (`shared` sources: the "What a bare
//! server has" table of `windows-loader-vs-wine.md`; Microsoft Learn, "Universal CRT
//! deployment", for the UCRT).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::arch::{Bits, Os};

/// The Windows Server release a run stands for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
pub enum WindowsVersion {
    #[serde(rename = "2003")]
    #[value(name = "2003")]
    Server2003,
    #[serde(rename = "2008")]
    #[value(name = "2008")]
    Server2008,
    #[serde(rename = "2008r2")]
    #[value(name = "2008r2")]
    Server2008R2,
    #[serde(rename = "2012r2")]
    #[value(name = "2012r2")]
    Server2012R2,
    #[serde(rename = "2016")]
    #[value(name = "2016")]
    Server2016,
    #[serde(rename = "2019")]
    #[value(name = "2019")]
    Server2019,
    #[serde(rename = "2022")]
    #[value(name = "2022")]
    Server2022,
}

impl WindowsVersion {
    pub const ALL: [WindowsVersion; 7] = [
        WindowsVersion::Server2003,
        WindowsVersion::Server2008,
        WindowsVersion::Server2008R2,
        WindowsVersion::Server2012R2,
        WindowsVersion::Server2016,
        WindowsVersion::Server2019,
        WindowsVersion::Server2022,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WindowsVersion::Server2003 => "2003",
            WindowsVersion::Server2008 => "2008",
            WindowsVersion::Server2008R2 => "2008r2",
            WindowsVersion::Server2012R2 => "2012r2",
            WindowsVersion::Server2016 => "2016",
            WindowsVersion::Server2019 => "2019",
            WindowsVersion::Server2022 => "2022",
        }
    }

    /// Server 2008 R2 and later have no x86 edition.
    pub fn has_x86_edition(self) -> bool {
        self <= WindowsVersion::Server2008
    }

    /// Windows 7's loader (Server 2008 R2) and later stop a search at a file that is not an
    /// image; Vista's (Server 2008) and older went on to the next folder (Wine's
    /// `kernel32/tests/loader.c`, the `broken(...) /* <= vista */` case).
    pub fn stops_search_at_a_non_image(self) -> bool {
        self >= WindowsVersion::Server2008R2
    }

    /// API sets (`api-ms-win-core-*`) are resolved by the loader from Windows 7 (Server 2008
    /// R2) on; older loaders look for a file of that name.
    pub fn has_api_sets(self) -> bool {
        self >= WindowsVersion::Server2008R2
    }

    /// The UCRT is part of Windows 10 and Server 2016 and later (Microsoft Learn, "Universal
    /// CRT deployment"); older systems get it with the VC++ 2015+ redistributable.
    pub fn ships_ucrt(self) -> bool {
        self >= WindowsVersion::Server2016
    }

    /// The default for a configuration kind and OS: Server 2003 for a MetaBase.xml; Server
    /// 2019 for an applicationHost.config on x64, Server 2008 on x86.
    pub fn default_for(iis6: bool, os: Os) -> WindowsVersion {
        match (iis6, os) {
            (true, _) => WindowsVersion::Server2003,
            (false, Os::X64) => WindowsVersion::Server2019,
            (false, Os::X86) => WindowsVersion::Server2008,
        }
    }
}

impl fmt::Display for WindowsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Windows Server {}",
            match self {
                WindowsVersion::Server2003 => "2003",
                WindowsVersion::Server2008 => "2008",
                WindowsVersion::Server2008R2 => "2008 R2",
                WindowsVersion::Server2012R2 => "2012 R2",
                WindowsVersion::Server2016 => "2016",
                WindowsVersion::Server2019 => "2019",
                WindowsVersion::Server2022 => "2022",
            }
        )
    }
}

/// A redistributable a run may declare installed on the server (`--installed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Redistributable {
    pub family: Runtime,
    pub bits: Bits,
}

/// The runtime families the profile decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Runtime {
    Vc2005,
    Vc2008,
    Vc2010,
    Vc2012,
    Vc2013,
    /// VC++ 2015 to 2022: one binary-compatible family (vcruntime140, msvcp140 and kin), and
    /// the UCRT on systems older than Server 2016.
    Vc2015Plus,
    Msxml4,
}

impl Runtime {
    const NAMES: [(Runtime, &'static str); 7] = [
        (Runtime::Vc2005, "vc2005"),
        (Runtime::Vc2008, "vc2008"),
        (Runtime::Vc2010, "vc2010"),
        (Runtime::Vc2012, "vc2012"),
        (Runtime::Vc2013, "vc2013"),
        (Runtime::Vc2015Plus, "vc2015+"),
        (Runtime::Msxml4, "msxml4"),
    ];

    pub fn name(self) -> &'static str {
        Runtime::NAMES.iter().find(|(runtime, _)| *runtime == self).map_or("", |(_, name)| name)
    }

    /// The DLLs of the family (lower case, without `.dll`): what a bare server lacks until
    /// the redistributable is installed.
    fn dlls(self) -> &'static [&'static str] {
        match self {
            Runtime::Vc2005 => &["msvcr80", "msvcp80", "msvcm80", "atl80", "vcomp"],
            Runtime::Vc2008 => &["msvcr90", "msvcp90", "msvcm90", "atl90", "vcomp90"],
            Runtime::Vc2010 => &["msvcr100", "msvcp100", "atl100", "vcomp100"],
            Runtime::Vc2012 => &["msvcr110", "msvcp110", "atl110", "vcomp110"],
            Runtime::Vc2013 => &["msvcr120", "msvcp120", "vcomp120"],
            Runtime::Vc2015Plus => &[
                "vcruntime140",
                "vcruntime140_1",
                "msvcp140",
                "msvcp140_1",
                "msvcp140_2",
                "msvcp140_atomic_wait",
                "msvcp140_codecvt_ids",
                "concrt140",
                "vcomp140",
            ],
            Runtime::Msxml4 => &["msxml4"],
        }
    }
}

/// The VC++ runtimes older than 2005 (VC 7.0, 7.1), which no `--installed` name covers: a
/// vendor ships them beside its DLL.
const UNREDISTRIBUTED_RUNTIMES: &[&str] = &["msvcr70", "msvcp70", "msvcr71", "msvcp71"];

impl FromStr for Redistributable {
    type Err = String;

    fn from_str(text: &str) -> Result<Redistributable, String> {
        let known = || {
            let names: Vec<String> = Runtime::NAMES
                .iter()
                .map(|(runtime, name)| {
                    if *runtime == Runtime::Msxml4 {
                        (*name).to_owned()
                    } else {
                        format!("{name}-x86|-x64")
                    }
                })
                .collect();
            names.join(", ")
        };
        let lower = text.trim().to_ascii_lowercase();
        let (name, bits) = match lower.rsplit_once('-') {
            Some((name, "x86")) => (name, Some(Bits::B32)),
            Some((name, "x64")) => (name, Some(Bits::B64)),
            _ => (lower.as_str(), None),
        };
        let Some((family, _)) = Runtime::NAMES.iter().find(|(_, known)| *known == name) else {
            return Err(format!(
                "`{text}` is not a redistributable the harness knows ({})",
                known()
            ));
        };
        match (family, bits) {
            // MSXML 4 installs both bitnesses' DLLs.
            (Runtime::Msxml4, None) => Ok(Redistributable { family: *family, bits: Bits::B64 }),
            (Runtime::Msxml4, Some(_)) => {
                Err(format!("`{text}`: write `msxml4` without a bitness"))
            }
            (_, Some(bits)) => Ok(Redistributable { family: *family, bits }),
            (_, None) => Err(format!(
                "`{text}` needs its bitness: `{name}-x86` or `{name}-x64` (a 32-bit and a 64-bit process each need their own)"
            )),
        }
    }
}

impl fmt::Display for Redistributable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Runtime::Msxml4 => f.write_str("msxml4"),
            family => write!(
                f,
                "{}-{}",
                family.name(),
                if self.bits == Bits::B32 { "x86" } else { "x64" }
            ),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Redistributable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Redistributable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Its name, as [`Redistributable`] serialises (`vc2008-x86`, `msxml4`).
impl schemars::JsonSchema for Redistributable {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Redistributable".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names: Vec<String> = Vec::new();
        for (family, _) in Runtime::NAMES {
            for bits in [Bits::B32, Bits::B64] {
                let name = Redistributable { family, bits }.to_string();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// Why the target Windows has no DLL of a name, although this machine's Wine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lack {
    /// A runtime that only its redistributable brings, not installed.
    NotInstalled(Option<Runtime>),
    /// The UCRT on a Windows older than Server 2016, without the VC++ 2015+ redistributable.
    NoUcrt,
    /// An API set name on a loader older than Windows 7, which looks for a file.
    NoApiSets,
}

/// The server a run stands for: its Windows and what was installed on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub windows: WindowsVersion,
    pub installed: BTreeSet<Redistributable>,
    /// Whether the server has the .NET Framework (every seed: ASP.NET 2.0 is what they
    /// register), so `mscoree.dll` and the VC80 CRT assembly .NET 2.0 installs are there.
    #[serde(skip)]
    pub dotnet: bool,
}

/// DLLs Windows ships and Wine 8 has no builtin for: a dependency on one loads on the
/// server, and cannot run here.
const WINDOWS_ONLY: &[&str] = &["mfc42", "mfc42u"];

impl Profile {
    pub fn new(
        windows: WindowsVersion,
        installed: impl IntoIterator<Item = Redistributable>,
    ) -> Profile {
        Profile { windows, installed: installed.into_iter().collect(), dotnet: true }
    }

    fn installed(&self, family: Runtime, bits: Bits) -> bool {
        self.installed
            .iter()
            .any(|r| r.family == family && (r.bits == bits || family == Runtime::Msxml4))
    }

    /// Whether a server of this profile lacks the system's copy of `dll` for a process of
    /// `bits` (a vendor's own copy beside its DLL still counts). `dll` may carry `.dll`.
    pub fn lacks(&self, dll: &str, bits: Bits) -> Option<Lack> {
        let stem = stem(dll);
        if UNREDISTRIBUTED_RUNTIMES.contains(&stem.as_str()) {
            return Some(Lack::NotInstalled(None));
        }
        if let Some((family, _)) =
            Runtime::NAMES.iter().find(|(family, _)| family.dlls().contains(&stem.as_str()))
        {
            return (!self.installed(*family, bits)).then_some(Lack::NotInstalled(Some(*family)));
        }
        if stem == "ucrtbase" || stem.starts_with("api-ms-win-crt-") {
            let has = self.windows.ships_ucrt() || self.installed(Runtime::Vc2015Plus, bits);
            return (!has).then_some(Lack::NoUcrt);
        }
        if is_api_set(&stem) && !self.windows.has_api_sets() {
            return Some(Lack::NoApiSets);
        }
        if stem == "mscoree" && !self.dotnet {
            return Some(Lack::NotInstalled(None));
        }
        None
    }

    /// Whether `dll` is a C runtime that a redistributable (or a vendor's installer) brings
    /// rather than this Windows itself: a DLL of one of the families above, a VC++ 7 runtime,
    /// or the UCRT on a Windows that does not ship it. A server's copy of one belongs to the
    /// server even in System32, since a bare server of this Windows lacks it.
    pub fn redistributed(&self, dll: &str) -> bool {
        let stem = stem(dll);
        UNREDISTRIBUTED_RUNTIMES.contains(&stem.as_str())
            || Runtime::NAMES.iter().any(|(family, _)| family.dlls().contains(&stem.as_str()))
            || (!self.windows.ships_ucrt()
                && (stem == "ucrtbase" || stem.starts_with("api-ms-win-crt-")))
    }

    /// Windows has this DLL in its system folder and Wine 8 has none.
    pub fn windows_only(dll: &str) -> bool {
        WINDOWS_ONLY.contains(&stem(dll).as_str())
    }

    /// Whether the server's WinSxS has an assembly a manifest depends on. Only the VC++
    /// assemblies are decided: VC90 comes with the VC++ 2008 redistributable alone; the VC80
    /// CRT with .NET 2.0 as well. Every other assembly (Common Controls and kin) counts as
    /// present, a stated limit.
    pub fn has_assembly(&self, name: &str, bits: Bits) -> bool {
        let name = name.to_ascii_lowercase();
        if name.starts_with("microsoft.vc90.") {
            return self.installed(Runtime::Vc2008, bits);
        }
        if name == "microsoft.vc80.crt" {
            return self.dotnet || self.installed(Runtime::Vc2005, bits);
        }
        if name.starts_with("microsoft.vc80.") {
            return self.installed(Runtime::Vc2005, bits);
        }
        true
    }

    /// The runtimes whose DLLs Wine must load only from a real file (`WINEDLLOVERRIDES`
    /// `name=n`) for a process of `bits`: every VC++ redistributable DLL the server lacks.
    /// Within Wine only their own siblings import them, so the override changes nothing else.
    pub fn native_only_dlls(&self, bits: Bits) -> Vec<&'static str> {
        let mut dlls: Vec<&'static str> = UNREDISTRIBUTED_RUNTIMES.to_vec();
        for (family, _) in Runtime::NAMES {
            if !self.installed(family, bits) {
                dlls.extend(family.dlls());
            }
        }
        dlls
    }
}

/// `api-ms-win-*` and `ext-ms-win-*`, the names Windows 7 and later map through the API set
/// schema rather than to a file of that name.
pub fn is_api_set(stem: &str) -> bool {
    stem.starts_with("api-ms-win-") || stem.starts_with("ext-ms-win-")
}

/// The lower-case name without `.dll`.
pub fn stem(dll: &str) -> String {
    let lower = dll.to_ascii_lowercase();
    lower.strip_suffix(".dll").map(str::to_owned).unwrap_or(lower)
}

/// Refuses a profile the target cannot be: Server 2008 R2 and later with `--os x86`.
pub fn check_edition(windows: WindowsVersion, os: Os) -> anyhow::Result<()> {
    if os == Os::X86 && !windows.has_x86_edition() {
        anyhow::bail!(
            "--windows {} has no x86 edition (Server 2008 R2 and later are 64-bit only); use --os x64, or --windows 2003 or 2008",
            windows.name()
        );
    }
    Ok(())
}
