//! A scenario: an OS bitness, a metabase, and the files on the simulated machine's disks.
//!
//! By default the standard ASP.NET paths of whatever Windows folder the metabase names
//! (`<windir>\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll` and its `Framework64` twin)
//! hold mock filters of the architecture a real Windows would have there, and the
//! `aspnet_isapi.dll` beside each holds the mock extension of that architecture; on 32-bit
//! Windows there is no Framework64. The user can place any image at any path with `--image`. A configured path
//! that holds nothing stays missing, and the loader says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::apphost::{Apphost, ConfigurationKind};
use crate::arch::{Arch, Os};
use crate::artifacts::Artifacts;
use crate::machine::{Content, Layout, WinPath};
use crate::metabase::Metabase;
use crate::mock::Mock;

/// The server configuration a scenario starts from: which one decides the server model.
#[derive(Debug, Clone)]
pub enum Configuration {
    /// IIS 6.0's MetaBase.xml.
    Metabase(Metabase),
    /// IIS 7+'s (or IIS Express's) applicationHost.config.
    Apphost(Apphost),
}

impl From<Metabase> for Configuration {
    fn from(metabase: Metabase) -> Configuration {
        Configuration::Metabase(metabase)
    }
}

impl From<Apphost> for Configuration {
    fn from(apphost: Apphost) -> Configuration {
        Configuration::Apphost(apphost)
    }
}

impl Configuration {
    /// Reads either file, telling them apart by content (IIS 7+ writes `<system.applicationHost>`
    /// with `<sites>` and `<applicationPools>`, IIS 6.0 `<MBProperty>`), whatever the file is
    /// called; any other `<configuration>` (a web.config) is neither, and refused as such.
    pub fn read(path: &Path) -> anyhow::Result<Configuration> {
        let bytes = crate::input::read_regular(path).map_err(|refusal| {
            anyhow::anyhow!(
                "{}: cannot read the configuration: {refusal}; give a MetaBase.xml or an applicationHost.config (a regular file, at most 256 MiB)",
                path.display()
            )
        })?;
        let kind = std::str::from_utf8(&bytes)
            .map_or(ConfigurationKind::Metabase, crate::apphost::configuration_kind);
        Ok(match kind {
            ConfigurationKind::Apphost => Configuration::Apphost(Apphost::read(path)?),
            ConfigurationKind::Metabase => Configuration::Metabase(Metabase::read(path)?),
            ConfigurationKind::OtherConfiguration => bail!(
                "{}: neither a MetaBase.xml nor an applicationHost.config: a <configuration> without <system.applicationHost> <sites> or <applicationPools> (a web.config, say); give the server's %windir%\\system32\\inetsrv\\MetaBase.xml (IIS 6.0) or %windir%\\system32\\inetsrv\\config\\applicationHost.config (IIS 7+)",
                path.display()
            ),
        })
    }

    /// The IIS 6.0 metabase, or an error saying that this is an applicationHost.config.
    pub fn metabase(&self) -> anyhow::Result<&Metabase> {
        match self {
            Configuration::Metabase(metabase) => Ok(metabase),
            Configuration::Apphost(apphost) => bail!(
                "{}: this is an IIS 7+ applicationHost.config, not an IIS 6.0 MetaBase.xml; edit it with `isapi-harness appcmd --config FILE ...`",
                apphost.origin().display()
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub os: Os,
    pub config: Configuration,
    pub images: Vec<(WinPath, ImageSpec)>,
    /// How long a host process may take before IIS (and the harness) gives up on it.
    pub host_timeout: Duration,
    /// The requests to send, in order; none means one `GET /` to each started site.
    pub requests: Vec<crate::http_sys::RequestUrl>,
    /// How many times each request is sent: in worker process isolation mode each one that
    /// meets a pool whose worker failed starts another worker, until rapid-fail protection
    /// steps in.
    pub repeat_requests: u32,
    /// The server's Windows (`--windows`); None for the default of the configuration's kind.
    pub windows: Option<crate::windows_loader::WindowsVersion>,
    /// The redistributables installed on the server (`--installed`).
    pub installed: Vec<crate::windows_loader::Redistributable>,
    /// The folders the server's PATH has after Windows's default system PATH (`--path`):
    /// where the loader looks for a dependency last.
    pub path: Vec<WinPath>,
    /// A copy of a real server (`--server`): its files are placed at their Windows paths,
    /// under the images the user names, and nothing stands in for a file it lacks.
    pub server: Option<crate::server_copy::ServerCopy>,
}

/// What to put at a Windows path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSpec {
    /// A mock filter, extension or module built by `cargo xtask build`.
    Mock { arch: Arch, mock: Mock },
    /// A synthetic image written by `cargo xtask build` (`odd:x86_no_code`).
    Synthetic(String),
    /// The user's own file.
    File(PathBuf),
    /// Nothing: the path stays empty, even where a default image would be placed.
    Missing,
}

pub const DEFAULT_HOST_TIMEOUT: Duration = Duration::from_secs(10);

impl ImageSpec {
    /// Parses the right-hand side of `--image WINPATH=SPEC`: `x86`, `amd64`, `x86:VARIANT`,
    /// `amd64:VARIANT`, `odd:NAME`, `missing` (nothing there, not even a default image), or a
    /// path to a file.
    pub fn parse(text: &str) -> anyhow::Result<ImageSpec> {
        ImageSpec::parse_in(text, None)
    }

    /// [`ImageSpec::parse`], with a relative file path taken from `folder` (a scenario's own
    /// folder) rather than the current one.
    pub fn parse_in(text: &str, folder: Option<&Path>) -> anyhow::Result<ImageSpec> {
        let (head, variant) = match text.split_once(':') {
            Some((head, rest)) if !head.is_empty() && head.len() > 1 => (head, Some(rest)),
            _ => (text, None),
        };
        if text.eq_ignore_ascii_case("missing") {
            return Ok(ImageSpec::Missing);
        }
        if head.eq_ignore_ascii_case("odd") {
            return Ok(ImageSpec::Synthetic(variant.unwrap_or_default().to_owned()));
        }
        if let Some(arch) = Arch::parse(head) {
            let mock = match variant {
                None => Mock::FILTER,
                Some(name) => name.parse().map_err(|error| anyhow::anyhow!("`{text}`: {error}"))?,
            };
            return Ok(ImageSpec::Mock { arch, mock });
        }
        let path = match folder {
            Some(folder) if Path::new(text).is_relative() => folder.join(text),
            _ => PathBuf::from(text),
        };
        if !path.is_file() {
            let relative = match folder {
                Some(_) if Path::new(text).is_relative() => {
                    format!(" (looked for `{}`, relative to the scenario)", path.display())
                }
                _ => String::new(),
            };
            bail!(
                "`{text}` is neither x86, amd64, x86:VARIANT, amd64:VARIANT, odd:NAME, missing nor an existing regular file{relative}"
            );
        }
        Ok(ImageSpec::File(std::path::absolute(path)?))
    }

    /// The real file to copy onto the simulated disk.
    pub fn source(&self, artifacts: &Artifacts) -> anyhow::Result<PathBuf> {
        match self {
            ImageSpec::Mock { arch, mock } => artifacts.mock(*arch, *mock),
            ImageSpec::Synthetic(name) => artifacts.odd_image(name),
            ImageSpec::File(path) => Ok(path.clone()),
            ImageSpec::Missing => bail!("internal error: a missing image has no source file"),
        }
    }
}

impl std::fmt::Display for ImageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageSpec::Mock { arch, mock: mock @ (Mock::FILTER | Mock::EXTENSION) } => {
                write!(f, "{arch} mock {mock}")
            }
            ImageSpec::Mock { arch, mock: mock @ Mock::Extension(_) } => {
                write!(f, "{arch} mock extension ({mock})")
            }
            ImageSpec::Mock { arch, mock: Mock::Module } => write!(f, "{arch} mock native module"),
            ImageSpec::Mock { arch, mock } => write!(f, "{arch} mock filter ({mock})"),
            ImageSpec::Synthetic(name) => write!(f, "synthetic image {name}"),
            ImageSpec::File(path) => write!(f, "{}", path.display()),
            ImageSpec::Missing => f.write_str("nothing (=missing)"),
        }
    }
}

/// Parses one `--image WINPATH=SPEC` argument.
pub fn parse_image_arg(text: &str) -> anyhow::Result<(WinPath, ImageSpec)> {
    parse_image_arg_in(text, None)
}

/// [`parse_image_arg`] for a scenario file: a relative FILE is found beside the scenario, in
/// `folder`, so that a folder of scenarios runs the same from anywhere.
pub fn parse_image_arg_in(
    text: &str,
    folder: Option<&Path>,
) -> anyhow::Result<(WinPath, ImageSpec)> {
    crate::input::check_text(&format!("--image `{}`", text.escape_debug()), text)?;
    let Some((path, spec)) = text.split_once('=') else {
        bail!("--image `{text}` should be WINPATH=x86|amd64|FILE, e.g. C:\\Filters\\f.dll=x86");
    };
    let path = WinPath::parse(path).with_context(|| format!("in --image `{text}`"))?;
    let spec = ImageSpec::parse_in(spec, folder).with_context(|| format!("in --image `{text}`"))?;
    Ok((path, spec))
}

/// What a command line or a scenario file says of the server. What it leaves out, a server
/// copy's `server.json` says: the command line's flags win over a scenario's keys, and both
/// over the copy ([`Scenario::with_server`]).
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub config: Option<PathBuf>,
    pub os: Option<Os>,
    pub windows: Option<crate::windows_loader::WindowsVersion>,
    /// Empty when not given.
    pub installed: Vec<crate::windows_loader::Redistributable>,
}

impl Scenario {
    /// A scenario from what was `given`, with what it leaves out taken from the server copy,
    /// if any: its configuration, OS, Windows and redistributables. Without either, the OS is
    /// x64 and the configuration must be given.
    pub fn with_server(
        name: Option<String>,
        given: Given,
        server: Option<crate::server_copy::ServerCopy>,
    ) -> anyhow::Result<Scenario> {
        let manifest = server.as_ref().map(|copy| &copy.manifest);
        let Some(config_path) =
            given.config.or_else(|| server.as_ref().map(|copy| copy.config.clone()))
        else {
            bail!(
                "no configuration: give the server's MetaBase.xml or applicationHost.config with --config FILE, or a copy of the server with --server DIR"
            );
        };
        let config = Configuration::read(&config_path)?;
        let name = name.unwrap_or_else(|| {
            config_path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let os = given.os.or(manifest.map(|manifest| manifest.os)).unwrap_or(Os::X64);
        let mut scenario = Scenario::new(name, os, config);
        scenario.windows = given.windows.or(manifest.and_then(|manifest| manifest.windows));
        scenario.installed = if given.installed.is_empty() {
            manifest.map(|manifest| manifest.installed.clone()).unwrap_or_default()
        } else {
            given.installed
        };
        scenario.server = server;
        Ok(scenario)
    }

    pub fn new(name: impl Into<String>, os: Os, config: impl Into<Configuration>) -> Scenario {
        Scenario {
            name: name.into(),
            os,
            config: config.into(),
            images: Vec::new(),
            host_timeout: DEFAULT_HOST_TIMEOUT,
            requests: Vec::new(),
            repeat_requests: 1,
            windows: None,
            installed: Vec::new(),
            path: Vec::new(),
            server: None,
        }
    }

    /// The server's Windows: the one asked for, or Server 2003 for a MetaBase.xml and Server
    /// 2019 (x64) or 2008 (x86) for an applicationHost.config.
    pub fn windows(&self) -> crate::windows_loader::WindowsVersion {
        let iis6 = matches!(self.config, Configuration::Metabase(_));
        self.windows
            .unwrap_or_else(|| crate::windows_loader::WindowsVersion::default_for(iis6, self.os))
    }

    /// Where Windows's loader looks for the dependencies of this server's images, and what
    /// the server holds.
    pub fn loader_search(&self) -> crate::windows_loader::Search {
        crate::windows_loader::Search {
            os: self.os,
            profile: crate::windows_loader::Profile::new(self.windows(), self.installed.clone()),
            extra_path: self.path.clone(),
        }
    }

    /// Places an image, refusing a second one for a path already placed: Windows paths ignore
    /// case, so `C:\F.dll` and `c:\f.dll` are one file, and only one image can be there.
    pub fn add_image(&mut self, path: WinPath, spec: ImageSpec) -> anyhow::Result<()> {
        if let Some((placed, first)) = self.images.iter().find(|(placed, _)| *placed == path) {
            bail!(
                "two images for one file: `{}` ({first}) and `{}` ({spec}); Windows paths ignore case, so give each path once",
                placed.as_str(),
                path.as_str()
            );
        }
        self.images.push((path, spec));
        Ok(())
    }

    /// The image at `path`: the user's choice, else the server copy's file, else the default
    /// for a standard path.
    pub fn image_at(&self, path: &WinPath) -> Option<ImageSpec> {
        if let Some((_, spec)) = self.images.iter().find(|(placed, _)| placed == path) {
            return (*spec != ImageSpec::Missing).then(|| spec.clone());
        }
        if let Some(file) = self.copy_file_at(path) {
            return Some(ImageSpec::File(file.to_owned()));
        }
        self.default_image(path)
    }

    /// The server copy's file for `path`, unless the user placed an image there (or said it
    /// is missing): what the command line says wins over the copy.
    pub fn copy_file_at(&self, path: &WinPath) -> Option<&Path> {
        let named = self.images.iter().any(|(placed, _)| placed == path);
        self.server.as_ref().filter(|_| !named)?.file_at(path)
    }

    /// Whether the scenario says `path` holds nothing (`=missing`): whatever the machine's
    /// disk has there, the start removes it first.
    pub fn leaves_empty(&self, path: &WinPath) -> bool {
        self.images.iter().any(|(placed, spec)| placed == path && *spec == ImageSpec::Missing)
    }

    /// What a real server of this scenario's kind has at `path` without anyone placing it.
    /// With a server copy, only IIS 7+'s stock modules: they are the OS's own files, which a
    /// copy does not carry and the machine plays; anything else the copy lacks is missing.
    pub fn default_image(&self, path: &WinPath) -> Option<ImageSpec> {
        if self.copy_file_at(path).is_some() {
            return None;
        }
        if let Configuration::Apphost(apphost) = &self.config
            && let Some(arch) = crate::apphost::env::standard_module_arch(apphost, self.os, path)
        {
            return Some(ImageSpec::Mock { arch, mock: Mock::Module });
        }
        if self.server.is_some() {
            return None;
        }
        default_image(self.os, path)
    }

    /// The disk layout for the given configured filter paths: their images, or nothing.
    pub fn layout(
        &self,
        artifacts: &Artifacts,
        filter_paths: &[WinPath],
    ) -> anyhow::Result<Layout> {
        let mut layout = Layout::default();
        // The copy's every file, at its Windows path, where the user placed nothing else.
        for (path, file) in self.server.iter().flat_map(|copy| &copy.files) {
            if self.copy_file_at(path).is_some() {
                layout.set(path.clone(), Content::Shadow(file.clone()));
            }
        }
        for (path, spec) in &self.images {
            match spec {
                ImageSpec::Missing => layout.require_nothing_unless_set(path.clone()),
                _ => layout.set(path.clone(), Content::Copy(spec.source(artifacts)?)),
            }
        }
        for path in filter_paths {
            let chosen = self.images.iter().any(|(placed, _)| placed == path);
            match self.default_image(path) {
                Some(spec) if !chosen => {
                    layout.set(path.clone(), Content::Copy(spec.source(artifacts)?));
                }
                _ => layout.require_nothing_unless_set(path.clone()),
            }
        }
        Ok(layout)
    }
}

/// A real Windows has ASP.NET's 32-bit filter and extension under `Framework` and, on x64 only,
/// the 64-bit ones under `Framework64`, below its Windows folder (whichever drive that is).
fn default_image(os: Os, path: &WinPath) -> Option<ImageSpec> {
    let components = path.components();
    let [_windir, dotnet, framework, version, file] = components else { return None };
    if !dotnet.eq_ignore_ascii_case("Microsoft.NET") || !version.starts_with(['v', 'V']) {
        return None;
    }
    let mock = if file.eq_ignore_ascii_case("aspnet_filter.dll") {
        Mock::FILTER
    } else if file.eq_ignore_ascii_case("aspnet_isapi.dll") {
        Mock::EXTENSION
    } else {
        return None;
    };
    let arch = if framework.eq_ignore_ascii_case("Framework") {
        Arch::X86
    } else if framework.eq_ignore_ascii_case("Framework64") && os == Os::X64 {
        Arch::Amd64
    } else {
        return None;
    };
    Some(ImageSpec::Mock { arch, mock })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{ExtensionVariant, FilterVariant};

    #[test]
    fn standard_framework_paths_hold_the_matching_mock() {
        let x86 =
            WinPath::parse(r"d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll")
                .unwrap();
        let amd64 =
            WinPath::parse(r"C:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_filter.dll")
                .unwrap();
        assert_eq!(
            default_image(Os::X64, &x86),
            Some(ImageSpec::Mock { arch: Arch::X86, mock: Mock::FILTER })
        );
        assert_eq!(
            default_image(Os::X64, &amd64),
            Some(ImageSpec::Mock { arch: Arch::Amd64, mock: Mock::FILTER })
        );
        assert_eq!(default_image(Os::X86, &amd64), None, "32-bit Windows has no Framework64");
        let other = WinPath::parse(r"C:\Filters\aspnet_filter.dll").unwrap();
        assert_eq!(default_image(Os::X64, &other), None);
        let isapi =
            WinPath::parse(r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll")
                .unwrap();
        assert_eq!(
            default_image(Os::X64, &isapi),
            Some(ImageSpec::Mock { arch: Arch::Amd64, mock: Mock::EXTENSION })
        );
        assert_eq!(default_image(Os::X86, &isapi), None);
    }

    /// A copy with a metabase (its filter at ASP.NET's standard path, which a bare run fills
    /// with the mock) and a vendor DLL, read back.
    fn copy_with_vendor_dll(folder: &Path) -> crate::server_copy::ServerCopy {
        use crate::server_copy::{FORMAT, Manifest, disk_path};
        let metabase = folder.join("MetaBase.xml");
        std::fs::write(
            &metabase,
            "<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\"><MBProperty>\
             <IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"A\"></IIsFilters>\
             <IIsFilter Location=\"/LM/W3SVC/Filters/A\" FilterPath=\"C:\\WINDOWS\\Microsoft.NET\\Framework\\v2.0.50727\\aspnet_filter.dll\"></IIsFilter>\
             </MBProperty></configuration>",
        )
        .unwrap();
        let vendor = disk_path(folder, &WinPath::parse(r"C:\WINDOWS\system32\vendor.dll").unwrap());
        std::fs::create_dir_all(vendor.parent().unwrap()).unwrap();
        std::fs::write(&vendor, b"MZ").unwrap();
        Manifest {
            format: FORMAT,
            config: "MetaBase.xml".into(),
            windows: Some(crate::windows_loader::WindowsVersion::Server2003),
            os: Os::X86,
            installed: vec!["vc2008-x86".parse().unwrap()],
            system_files: Vec::new(),
            left_out: Vec::new(),
        }
        .write(folder)
        .unwrap();
        crate::server_copy::ServerCopy::read(folder).unwrap()
    }

    #[test]
    fn what_is_given_wins_over_the_server_copy() {
        use crate::windows_loader::WindowsVersion;
        let folder = tempfile::tempdir().unwrap();
        let copy = copy_with_vendor_dll(folder.path());
        let from_copy = Scenario::with_server(None, Given::default(), Some(copy.clone())).unwrap();
        assert_eq!(from_copy.os, Os::X86);
        assert_eq!(from_copy.windows, Some(WindowsVersion::Server2003));
        assert_eq!(from_copy.installed, vec!["vc2008-x86".parse().unwrap()]);
        let given = Given {
            config: None,
            os: Some(Os::X64),
            windows: Some(WindowsVersion::Server2008),
            installed: vec!["vc2010-x64".parse().unwrap()],
        };
        let flags = Scenario::with_server(None, given, Some(copy)).unwrap();
        assert_eq!(flags.os, Os::X64);
        assert_eq!(flags.windows, Some(WindowsVersion::Server2008));
        assert_eq!(flags.installed, vec!["vc2010-x64".parse().unwrap()]);
        let error = Scenario::with_server(None, Given::default(), None).unwrap_err();
        assert!(error.to_string().contains("--config FILE"), "{error}");
    }

    #[test]
    fn a_copy_places_its_files_and_lacks_what_it_does_not_hold() {
        let folder = tempfile::tempdir().unwrap();
        let copy = copy_with_vendor_dll(folder.path());
        let vendor = WinPath::parse(r"c:\windows\SYSTEM32\Vendor.dll").unwrap();
        let framework =
            WinPath::parse(r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll")
                .unwrap();
        let mut scenario = Scenario::with_server(None, Given::default(), Some(copy)).unwrap();
        let artifacts = Artifacts::unchecked(folder.path().to_owned());
        let layout = scenario.layout(&artifacts, std::slice::from_ref(&framework)).unwrap();
        assert!(
            matches!(layout.content_at(&vendor), Some(Content::Shadow(file)) if file.ends_with("vendor.dll"))
        );
        assert_eq!(layout.content_at(&framework), Some(&Content::Nothing), "no mock for it");
        assert!(matches!(scenario.image_at(&vendor), Some(ImageSpec::File(_))));
        // The command line's image wins over the copy's file, `=missing` too.
        scenario.add_image(vendor.clone(), ImageSpec::Missing).unwrap();
        let layout = scenario.layout(&artifacts, &[]).unwrap();
        assert_eq!(layout.content_at(&vendor), Some(&Content::Nothing));
        assert_eq!(scenario.image_at(&vendor), None);
    }

    #[test]
    fn image_specs_parse() {
        assert_eq!(
            ImageSpec::parse("x86").unwrap(),
            ImageSpec::Mock { arch: Arch::X86, mock: Mock::FILTER }
        );
        assert_eq!(
            ImageSpec::parse("amd64:crash_in_gfv").unwrap(),
            ImageSpec::Mock {
                arch: Arch::Amd64,
                mock: Mock::Filter(FilterVariant::CrashInGetFilterVersion)
            }
        );
        assert_eq!(ImageSpec::parse("odd:text").unwrap(), ImageSpec::Synthetic("text".into()));
        let extension = ImageSpec::parse("x86:extension_refuse").unwrap();
        assert_eq!(
            extension,
            ImageSpec::Mock { arch: Arch::X86, mock: Mock::Extension(ExtensionVariant::Refuse) }
        );
        assert_eq!(extension.to_string(), "x86 mock extension (extension_refuse)");
        assert_eq!(
            ImageSpec::parse("amd64:extension").unwrap().to_string(),
            "AMD64 mock extension"
        );
        assert!(ImageSpec::parse("/no/such/file.dll").is_err());
        let (path, spec) = parse_image_arg(r"C:\f\a.dll=amd64").unwrap();
        assert_eq!(path.as_str(), r"C:\f\a.dll");
        assert_eq!(spec, ImageSpec::Mock { arch: Arch::Amd64, mock: Mock::FILTER });
    }
}
