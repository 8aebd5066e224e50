//! Where Wine 8's loader is known to answer differently from Windows's, one row per known
//! difference, each with its source. A row applies only when both answers are the ones it
//! describes: Wine's, as the host reported it in this run, and Windows's, from the rules of
//! `resolve`. Anything else keeps Wine's answer (the loader's), however the two compare.
//!
//! On the windows backend the loader is Windows's own and answers as the target's would, but
//! the computer is not the target: it may have runtimes and assemblies the server lacks, and a
//! newer loader. Only the rows about what the server holds apply there ([`Rule::runner_does`]
//! says what such a computer did instead); the rows about Wine's loader never do.
//!
//! Each row has a test in `tests/it/dependencies.rs` that measures Wine's side on crafted DLLs,
//! so a Wine that changes is noticed.

use serde::Serialize;

use super::{DependencyOutcome, Resolution};
use crate::vocab::Win32Error;

/// One known difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The name the JSON gives (`windows_rule`).
    pub id: &'static str,
    /// What Wine does, in a phrase that ends a sentence ("Wine loaded it through a stub").
    pub wine_does: &'static str,
    /// What a Windows computer that is not the target (the windows backend's) does, likewise;
    /// None for a row about Wine's loader, which does not apply there.
    pub runner_does: Option<&'static str>,
    /// Where the difference is documented.
    pub source: &'static str,
    /// How Wine's side is measured on crafted DLLs; None where no crafted case shows it.
    pub probe: Option<Probe>,
}

/// A row's measurement: a crafted filter built from `mock-deps/` (`deps/<arch>/` of the
/// build), loaded by a real host of its own bitness with `beside` in its folder and nothing
/// else placed, and the answer Wine gives when the row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub filter: &'static str,
    pub beside: &'static [(&'static str, Beside)],
    pub wine_answers: WineAnswer,
}

/// What a probe puts beside its filter, under the name the probe gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beside {
    /// A `mock-deps/` build of the host's own architecture.
    Fixture(&'static str),
    /// A `mock-deps/` build of the other architecture.
    OtherArch(&'static str),
    /// A file that is no image (the build's `odd:text`).
    NotAnImage,
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id)
    }
}

/// Its id, as [`Rule`] serialises: one of [`RULES`]'.
impl schemars::JsonSchema for Rule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rule".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<&str> = RULES.iter().map(|rule| rule.id).collect();
        schemars::json_schema!({ "type": "string", "enum": ids })
    }
}

/// An import whose function (by name, or by ordinal) its dependency does not export.
pub const MISSING_IMPORT: Rule = Rule {
    id: "missing_import",
    wine_does: "Wine loaded it, binding the import to a stub that fails when called",
    runner_does: None,
    source: "windows-loader-vs-wine.md, rows 1-2: Wine's ntdll loader.c allocate_stub; Windows: ntdll/tests/error.c (127, 182)",
    probe: Some(Probe {
        filter: "imports_dep_missing_name.dll",
        beside: &[("dep.dll", Beside::Fixture("dep.dll"))],
        wine_answers: WineAnswer::Loaded,
    }),
};

/// A forwarder whose target DLL or function is missing.
pub const FORWARDER_TARGET_MISSING: Rule = Rule {
    id: "forwarder_target_missing",
    wine_does: "Wine loaded it, binding the forwarded import to a stub",
    runner_does: None,
    source: "windows-loader-vs-wine.md, row 3 (probable on Windows; no Windows run shows it)",
    probe: Some(Probe {
        filter: "imports_forwarded.dll",
        beside: &[("dep_forwarder.dll", Beside::Fixture("dep_forwarder.dll"))],
        wine_answers: WineAnswer::Loaded,
    }),
};

/// The only copy of a dependency on the search path is of the other machine type.
pub const DEPENDENCY_WRONG_BITNESS: Rule = Rule {
    id: "dependency_wrong_bitness",
    wine_does: "Wine answers 126 for every dependency that fails",
    runner_does: None,
    source: "windows-loader-vs-wine.md, row 5: Wine's fixup_imports (loader.c 1403); Windows: kernel32/tests/loader.c 651-703",
    probe: Some(Probe {
        filter: "imports_dep.dll",
        beside: &[("dep.dll", Beside::OtherArch("dep.dll"))],
        wine_answers: WineAnswer::Refused(Win32Error::MOD_NOT_FOUND),
    }),
};

/// A dependency found on the search path is no image.
pub const DEPENDENCY_NOT_AN_IMAGE: Rule = Rule {
    id: "dependency_not_an_image",
    wine_does: "Wine answers 126 for every dependency that fails",
    runner_does: None,
    source: "windows-loader-vs-wine.md, row 7: loader.c 1403; Windows: kernel32/tests/loader.c 704-724",
    probe: Some(Probe {
        filter: "imports_dep.dll",
        beside: &[("dep.dll", Beside::NotAnImage)],
        wine_answers: WineAnswer::Refused(Win32Error::MOD_NOT_FOUND),
    }),
};

/// A C runtime the target does not have, that Wine has builtin.
pub const RUNTIME_NOT_INSTALLED: Rule = Rule {
    id: "runtime_not_installed",
    wine_does: "Wine loaded its own builtin copy",
    runner_does: Some("this computer has the runtime and loaded it"),
    source: "windows-loader-vs-wine.md, rows 11-12 and \"What a bare server has\"; Microsoft Learn, Universal CRT deployment",
    probe: Some(Probe {
        filter: "imports_vcruntime140.dll",
        beside: &[],
        wine_answers: WineAnswer::Loaded,
    }),
};

/// A manifest dependency on an assembly the server's WinSxS lacks.
pub const SIDE_BY_SIDE_MISSING: Rule = Rule {
    id: "side_by_side_missing",
    wine_does: "Wine ships the VC80/VC90 assemblies and never fails a load on a manifest",
    runner_does: Some("this computer's WinSxS has the assembly and loaded it"),
    source: "windows-loader-vs-wine.md, row 11: loader.c 1388; Windows: kernel32/tests/actctx.c 1048, 1115",
    probe: Some(Probe {
        filter: "manifest_vc90.dll",
        beside: &[],
        wine_answers: WineAnswer::Loaded,
    }),
};

/// A DLL Windows ships and Wine 8 lacks (`mfc42.dll`).
pub const WINDOWS_SHIPS_WINE_LACKS: Rule = Rule {
    id: "windows_ships_wine_lacks",
    wine_does: "Wine 8 has no such DLL and answered 126",
    runner_does: None,
    source: "windows-loader-vs-wine.md, row 14 and \"What a bare server has\"",
    probe: Some(Probe {
        filter: "imports_mfc42.dll",
        beside: &[],
        wine_answers: WineAnswer::Refused(Win32Error::MOD_NOT_FOUND),
    }),
};

/// `mscoree.dll`, switched off for every host so Wine never offers to install Mono.
pub const CLR_SWITCHED_OFF: Rule = Rule {
    id: "clr_switched_off",
    wine_does: "the harness switches Wine's mscoree off for every host, so Wine answered 126",
    runner_does: None,
    source: "windows-loader-vs-wine.md, row 15",
    probe: Some(Probe {
        filter: "imports_mscoree.dll",
        beside: &[],
        wine_answers: WineAnswer::Refused(Win32Error::MOD_NOT_FOUND),
    }),
};

/// Server 2003 and 2008 search on past a file that is no image; Wine stops, as Windows 7 does.
pub const SEARCH_PAST_A_NON_IMAGE: Rule = Rule {
    id: "search_past_a_non_image",
    wine_does: "Wine stops at the file that is no image, as Windows 7 and later do, and answered 193",
    runner_does: Some(
        "this computer's loader, Windows 7's or later, stops at the file that is no image and answered 193",
    ),
    source: "windows-loader-vs-wine.md, row 8: kernel32/tests/loader.c 720-724 (broken <= vista)",
    // Needs a good copy further down the search path than the image's folder, on a 2003
    // profile; the resolver's unit tests hold that row.
    probe: None,
};

/// The Wine whose answers the rows describe (Debian 12's `wine64 8.0`), measured by
/// `tests/it/dependencies.rs`.
pub const MEASURED_ON_WINE: u32 = 8;

pub const RULES: [Rule; 9] = [
    MISSING_IMPORT,
    FORWARDER_TARGET_MISSING,
    DEPENDENCY_WRONG_BITNESS,
    DEPENDENCY_NOT_AN_IMAGE,
    RUNTIME_NOT_INSTALLED,
    SIDE_BY_SIDE_MISSING,
    WINDOWS_SHIPS_WINE_LACKS,
    CLR_SWITCHED_OFF,
    SEARCH_PAST_A_NON_IMAGE,
];

/// Which real loader answered in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// Wine's, of this major version where it is known.
    Wine { major: Option<u32> },
    /// The Windows the harness runs on (the windows backend), which is not the target.
    ThisWindows,
}

impl Loader {
    /// Whether `rule` can apply to this loader's answers.
    pub fn may_differ_by(self, rule: &Rule) -> bool {
        match self {
            Loader::Wine { .. } => true,
            Loader::ThisWindows => rule.runner_does.is_some(),
        }
    }

    /// What this loader did where `rule` applies, in a phrase that ends a sentence.
    pub fn did(self, rule: &Rule) -> &'static str {
        match self {
            Loader::Wine { .. } => rule.wine_does,
            Loader::ThisWindows => rule.runner_does.unwrap_or(rule.wine_does),
        }
    }
}

/// What the host's loader answered for the image in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "answer", content = "win32_error")]
pub enum WineAnswer {
    Loaded,
    Refused(Win32Error),
}

/// The two answers side by side, and which one the run gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// Both agree, or they differ in no known way: the loader's answer stands.
    LoaderStands,
    /// Windows refuses the image where Wine did something else.
    WindowsRefuses { error: Win32Error, rule: Rule },
    /// Windows loads the image where Wine could not: the run cannot call its entry points.
    WindowsLoads { rule: Rule },
}

/// Compares the real loader's answer with the target Windows's and names the rule that
/// decides, if one applies to that loader.
pub fn reconcile(wine: WineAnswer, windows: &Resolution, loader: Loader) -> Reconciled {
    match reconcile_any(wine, windows) {
        Reconciled::WindowsRefuses { rule, .. } | Reconciled::WindowsLoads { rule }
            if !loader.may_differ_by(&rule) =>
        {
            Reconciled::LoaderStands
        }
        reconciled => reconciled,
    }
}

/// [`reconcile`] by every row.
fn reconcile_any(wine: WineAnswer, windows: &Resolution) -> Reconciled {
    match (wine, windows.refusal, windows.culprit()) {
        (WineAnswer::Loaded, Some((error, _)), Some(culprit)) => {
            let rule = match culprit.outcome {
                _ if culprit.through_forwarder => FORWARDER_TARGET_MISSING,
                DependencyOutcome::MissingImport => MISSING_IMPORT,
                DependencyOutcome::NotInstalled => RUNTIME_NOT_INSTALLED,
                DependencyOutcome::SideBySideMissing => SIDE_BY_SIDE_MISSING,
                _ => return Reconciled::LoaderStands,
            };
            Reconciled::WindowsRefuses { error, rule }
        }
        (WineAnswer::Refused(wine_error), Some((error, _)), Some(culprit))
            if wine_error != error =>
        {
            let rule = match (wine_error, culprit.outcome) {
                (Win32Error::MOD_NOT_FOUND, DependencyOutcome::WrongBitness) => {
                    DEPENDENCY_WRONG_BITNESS
                }
                (Win32Error::MOD_NOT_FOUND, DependencyOutcome::NotAnImage) => {
                    DEPENDENCY_NOT_AN_IMAGE
                }
                // Wine told to load the runtime only from a real file answers 126; a
                // manifest's missing assembly is Windows's 14001.
                (Win32Error::MOD_NOT_FOUND, DependencyOutcome::SideBySideMissing) => {
                    SIDE_BY_SIDE_MISSING
                }
                _ => return Reconciled::LoaderStands,
            };
            Reconciled::WindowsRefuses { error, rule }
        }
        (WineAnswer::Refused(wine_error), None, _) => {
            let windows_only = windows.windows_only().next().is_some();
            let clr = windows
                .dependencies
                .iter()
                .any(|d| super::profile::stem(&d.name) == "mscoree" && !d.outcome.failed());
            match wine_error {
                Win32Error::MOD_NOT_FOUND if windows_only => {
                    Reconciled::WindowsLoads { rule: WINDOWS_SHIPS_WINE_LACKS }
                }
                Win32Error::MOD_NOT_FOUND if clr => {
                    Reconciled::WindowsLoads { rule: CLR_SWITCHED_OFF }
                }
                Win32Error::BAD_EXE_FORMAT if passed_a_non_image(windows) => {
                    Reconciled::WindowsLoads { rule: SEARCH_PAST_A_NON_IMAGE }
                }
                _ => Reconciled::LoaderStands,
            }
        }
        _ => Reconciled::LoaderStands,
    }
}

/// Whether a search for a dependency passed over a file that is no image and went on (which
/// only the loaders of Server 2003 and 2008 do).
fn passed_a_non_image(windows: &Resolution) -> bool {
    windows.dependencies.iter().any(|d| d.passed_non_image)
}
