//! The ISAPI roles an image can play, read from its exports: an ISAPI filter, an ISAPI
//! extension, an IIS 7+ native module. One DLL may play several (pywin32's PyISAPI_loader.dll is
//! a filter and an extension), and IIS looks up each role's entry points by name only when it
//! loads the image in that role.

use serde::Serialize;

use super::{ExportStatus, export_status};

/// A way IIS loads an image, each with the entry points it asks GetProcAddress for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IsapiRole {
    /// An ISAPI filter (httpfilt.h), configured in the metabase's `Filters` or IIS 7+'s
    /// `isapiFilters`.
    Filter,
    /// An ISAPI extension (httpext.h), run through a script map or an IIS 7+ handler.
    Extension,
    /// An IIS 7+ native module (httpserv.h), configured in `globalModules`.
    Module,
}

impl IsapiRole {
    pub const ALL: [IsapiRole; 3] = [IsapiRole::Filter, IsapiRole::Extension, IsapiRole::Module];

    /// The entry points of the role, with whether IIS fails the load without each (Win32 error
    /// 127); the `Terminate*` ones are optional.
    pub fn entry_points(self) -> &'static [(&'static str, bool)] {
        match self {
            IsapiRole::Filter => {
                &[("GetFilterVersion", true), ("HttpFilterProc", true), ("TerminateFilter", false)]
            }
            IsapiRole::Extension => &[
                ("GetExtensionVersion", true),
                ("HttpExtensionProc", true),
                ("TerminateExtension", false),
            ],
            IsapiRole::Module => &[("RegisterModule", true)],
        }
    }

    /// The role in words, as a line of `inspect` names it.
    pub fn label(self) -> &'static str {
        match self {
            IsapiRole::Filter => "filter",
            IsapiRole::Extension => "extension",
            IsapiRole::Module => "native module",
        }
    }
}

/// How one entry point of a role is exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EntryPoint {
    pub name: &'static str,
    pub required: bool,
    #[serde(flatten)]
    pub status: ExportStatus,
}

/// A role the image's exports show, with every one of its entry points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RoleExports {
    pub role: IsapiRole,
    pub entry_points: Vec<EntryPoint>,
}

/// Every role for which the image exports at least one entry point, under its plain name or a
/// decorated one (a filter built without a .def file is still meant to be a filter).
pub fn isapi_roles<S: AsRef<str>>(exports: &[S]) -> Vec<RoleExports> {
    IsapiRole::ALL
        .into_iter()
        .map(|role| RoleExports {
            role,
            entry_points: role
                .entry_points()
                .iter()
                .map(|&(name, required)| EntryPoint {
                    name,
                    required,
                    status: export_status(name, exports),
                })
                .collect(),
        })
        .filter(|role| role.entry_points.iter().any(|entry| entry.status != ExportStatus::Missing))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dll_plays_each_role_it_exports_an_entry_point_of() {
        let roles = |names: &[&str]| -> Vec<IsapiRole> {
            isapi_roles(names).into_iter().map(|role| role.role).collect()
        };
        assert_eq!(roles(&["DllMain"]), []);
        assert_eq!(roles(&["GetFilterVersion", "HttpFilterProc"]), [IsapiRole::Filter]);
        assert_eq!(roles(&["RegisterModule"]), [IsapiRole::Module]);
        assert_eq!(
            roles(&[
                "GetExtensionVersion",
                "GetFilterVersion",
                "HttpExtensionProc",
                "HttpFilterProc",
                "TerminateExtension",
                "TerminateFilter",
            ]),
            [IsapiRole::Filter, IsapiRole::Extension]
        );
        // A decorated export still shows what the DLL was meant to be.
        let decorated = isapi_roles(&["GetExtensionVersion@4", "HttpExtensionProc@4"]);
        assert_eq!(decorated.len(), 1);
        assert_eq!(decorated[0].role, IsapiRole::Extension);
        assert_eq!(
            decorated[0].entry_points[0].status,
            ExportStatus::Decorated("GetExtensionVersion@4".to_owned())
        );
        assert_eq!(decorated[0].entry_points[2].status, ExportStatus::Missing);
    }
}
