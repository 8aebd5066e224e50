//! The mock images the build makes: an ISAPI filter, an ISAPI extension and an IIS 7+ native
//! module, each well-behaved or in one of the variants that misbehave on purpose (the lists
//! `mock-filters/variants.txt` and `mock-extensions/variants.txt`, which `cargo xtask build`
//! reads and a tidy test compares with [`Mock::ALL`]).

use std::fmt;

/// One mock image, by what it is and how it behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mock {
    Filter(FilterVariant),
    Extension(ExtensionVariant),
    /// The IIS 7+ native module (`RegisterModule`).
    Module,
}

/// How a mock filter behaves (`mock-filters/filter.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterVariant {
    /// Loads, initialises and answers requests.
    WellBehaved,
    /// Exports stdcall-decorated names only (`_GetFilterVersion@4`).
    Decorated,
    /// GetFilterVersion returns FALSE with ERROR_ACCESS_DENIED.
    Refuse,
    /// GetFilterVersion returns FALSE after SetLastError(0).
    RefuseSilently,
    CrashInGetFilterVersion,
    CrashInDllMain,
    /// DllMain returns FALSE.
    FailDllMain,
    HangInGetFilterVersion,
    FloodStdout,
    ExitInDllMain,
    /// Asks for SF_NOTIFY_READ_RAW_DATA.
    ReadRawData,
    /// Imports from a DLL that never exists.
    MissingDependency,
}

/// How a mock extension behaves (`mock-extensions/extension.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionVariant {
    WellBehaved,
    Decorated,
    Refuse,
    CrashInGetExtensionVersion,
    CrashInDllMain,
    FailDllMain,
    HangInGetExtensionVersion,
    CrashInHttpExtensionProc,
    /// HttpExtensionProc returns HSE_STATUS_ERROR.
    RequestError,
    MissingDependency,
}

impl Mock {
    /// Every mock image with its name: the file's stem in the build and the name a user gives
    /// after the architecture (`x86:crash_in_gfv`).
    pub const ALL: [(Mock, &'static str); 23] = [
        (Mock::Filter(FilterVariant::WellBehaved), "filter"),
        (Mock::Filter(FilterVariant::Decorated), "decorated"),
        (Mock::Filter(FilterVariant::Refuse), "refuse"),
        (Mock::Filter(FilterVariant::RefuseSilently), "refuse_silently"),
        (Mock::Filter(FilterVariant::CrashInGetFilterVersion), "crash_in_gfv"),
        (Mock::Filter(FilterVariant::CrashInDllMain), "crash_in_dllmain"),
        (Mock::Filter(FilterVariant::FailDllMain), "fail_dllmain"),
        (Mock::Filter(FilterVariant::HangInGetFilterVersion), "hang_in_gfv"),
        (Mock::Filter(FilterVariant::FloodStdout), "flood_stdout"),
        (Mock::Filter(FilterVariant::ExitInDllMain), "exit_in_dllmain"),
        (Mock::Filter(FilterVariant::ReadRawData), "read_raw_data"),
        (Mock::Filter(FilterVariant::MissingDependency), "missing_dependency"),
        (Mock::Extension(ExtensionVariant::WellBehaved), "extension"),
        (Mock::Extension(ExtensionVariant::Decorated), "extension_decorated"),
        (Mock::Extension(ExtensionVariant::Refuse), "extension_refuse"),
        (Mock::Extension(ExtensionVariant::CrashInGetExtensionVersion), "extension_crash_in_gev"),
        (Mock::Extension(ExtensionVariant::CrashInDllMain), "extension_crash_in_dllmain"),
        (Mock::Extension(ExtensionVariant::FailDllMain), "extension_fail_dllmain"),
        (Mock::Extension(ExtensionVariant::HangInGetExtensionVersion), "extension_hang_in_gev"),
        (Mock::Extension(ExtensionVariant::CrashInHttpExtensionProc), "extension_crash_in_hep"),
        (Mock::Extension(ExtensionVariant::RequestError), "extension_request_error"),
        (Mock::Extension(ExtensionVariant::MissingDependency), "extension_missing_dependency"),
        (Mock::Module, "module"),
    ];

    pub const FILTER: Mock = Mock::Filter(FilterVariant::WellBehaved);
    pub const EXTENSION: Mock = Mock::Extension(ExtensionVariant::WellBehaved);

    /// The mock of that name, or None.
    pub fn named(name: &str) -> Option<Mock> {
        Mock::ALL.iter().find(|(_, known)| *known == name).map(|(mock, _)| *mock)
    }

    pub fn name(self) -> &'static str {
        Mock::ALL
            .iter()
            .find(|(mock, _)| *mock == self)
            .map(|(_, name)| *name)
            .expect("every mock is in Mock::ALL")
    }

    /// The build's folder for this kind of mock, under the artifacts' root and the
    /// architecture's folder.
    pub fn folder(self) -> &'static str {
        match self {
            Mock::Extension(_) => "extensions",
            Mock::Filter(_) | Mock::Module => "filters",
        }
    }

    /// The list a user adds a variant to.
    pub fn list(self) -> &'static str {
        match self {
            Mock::Extension(_) => "mock-extensions/variants.txt",
            Mock::Filter(_) | Mock::Module => "mock-filters/variants.txt",
        }
    }
}

impl fmt::Display for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mock {
    type Err = String;

    fn from_str(name: &str) -> Result<Mock, String> {
        Mock::named(name).ok_or_else(|| {
            let names: Vec<&str> = Mock::ALL.iter().map(|(_, name)| *name).collect();
            format!("no mock image is called `{name}`; the mocks are {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_reads_back() {
        for (mock, name) in Mock::ALL {
            assert_eq!(Mock::named(name), Some(mock));
            assert_eq!(mock.name(), name);
        }
        assert_eq!(
            "crash_in_dllmain".parse::<Mock>(),
            Ok(Mock::Filter(FilterVariant::CrashInDllMain))
        );
        assert!(
            "crash_in_the_night".parse::<Mock>().unwrap_err().contains("the mocks are filter, ")
        );
    }
}
