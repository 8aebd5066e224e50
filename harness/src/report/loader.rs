//! The words for what Windows's loader makes of an image's dependencies: the DLL or function
//! at fault, the next step, and where the run gives Windows's answer in place of Wine's, both
//! answers and the rule.

use serde::Serialize;

use super::outcome::{ImageOutcome, RealOutcome};
use super::{Happening, Step, StepKind, step};
use crate::arch::Bits;
use crate::windows_loader::divergence::Loader;
use crate::windows_loader::{Dependency, DependencyOutcome, Lack, Rule};

/// What the timeline says about one image's dependencies, after its load result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoaderNote {
    pub image: String,
    pub bits: Bits,
    pub culprit: Option<Dependency>,
    pub win32_error: Option<crate::vocab::Win32Error>,
    pub rule: Option<Rule>,
    pub wine: Option<RealOutcome>,
    /// The windows backend's own answer, where a rule gave the target's in its place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_computer: Option<RealOutcome>,
    /// The DLLs Windows loads that no disk here holds, for an image not run here.
    pub windows_only: Vec<String>,
}

impl ImageOutcome {
    /// The note the timeline carries after this image's result: None when Windows's loader
    /// binds everything and the run gave the loader's own answer.
    pub fn loader_note(&self, bits: Bits) -> Option<Happening> {
        let culprit = self.culprit().filter(|_| !self.loaded).cloned();
        if culprit.is_none() && self.windows_rule.is_none() {
            return None;
        }
        Some(Happening::Loader(Box::new(LoaderNote {
            image: file_name(&self.path),
            bits,
            culprit,
            win32_error: self.win32_error,
            rule: self.windows_rule,
            wine: self.wine,
            this_computer: self.this_computer,
            windows_only: self
                .dependencies
                .iter()
                .filter(|dependency| dependency.windows_only)
                .map(|dependency| dependency.name.clone())
                .collect(),
        })))
    }
}

pub(super) fn note(note: &LoaderNote) -> Option<Step> {
    let wine = note.rule.map(|rule| format!("; {} ({})", real_answer(&rule, note), rule.id));
    let wine = wine.unwrap_or_default();
    match (&note.culprit, note.win32_error) {
        (Some(culprit), Some(error)) => {
            let whose = if note.rule.is_some() {
                "Windows's loader refuses it"
            } else {
                "the loader refuses it"
            };
            step(
                StepKind::Fail,
                format!(
                    "  {whose} ({error}): {}{wine}. Next: {}",
                    what_is_wrong(&note.image, culprit),
                    next_step(culprit, note.bits)
                ),
            )
        }
        _ if !note.windows_only.is_empty() => step(
            StepKind::Info,
            format!(
                "  Windows's loader loads `{}` (`{}` ships with Windows){wine}, so its entry points could not be called here",
                note.image,
                note.windows_only.join("`, `")
            ),
        ),
        _ => step(
            StepKind::Info,
            format!(
                "  Windows's loader loads `{}`{wine}, so its entry points could not be called here",
                note.image
            ),
        ),
    }
}

/// What the real loader did instead: Wine, or on the windows backend this computer's Windows.
fn real_answer(rule: &Rule, note: &LoaderNote) -> String {
    let (did, real) = match note.this_computer {
        Some(real) => (Loader::ThisWindows.did(rule), real),
        None => match note.wine {
            Some(real) => (rule.wine_does, real),
            None => return rule.wine_does.to_owned(),
        },
    };
    match real.win32_error {
        Some(error) if !did.contains("answer") => format!("{did}, Win32 error {}", error.code()),
        _ => did.to_owned(),
    }
}

/// The dependency at fault for an image, as one fact of a failing scenario (the matrix's row
/// and its JUnit message).
pub fn culprit_fact(image: &ImageOutcome, culprit: &Dependency) -> String {
    format!("`{}`: {}", file_name(&image.path), what_is_wrong(&culprit.imported_by, culprit))
}

/// What Windows's loader stops at, in one sentence with its next step (for `diagnose`).
pub fn dependency_problem(culprit: &Dependency, bits: Bits) -> String {
    format!(
        "Windows's loader stops at it: {}. Next: {}",
        what_is_wrong(&culprit.imported_by, culprit),
        next_step(culprit, bits)
    )
}

/// What is wrong, naming the DLL (and function) Windows's loader stops at.
fn what_is_wrong(image: &str, culprit: &Dependency) -> String {
    let importer = if culprit.imported_by.eq_ignore_ascii_case(image) {
        format!("`{image}`")
    } else {
        format!("`{}` (loaded for `{image}`)", culprit.imported_by)
    };
    let name = &culprit.name;
    let found = culprit.found.as_deref().unwrap_or("");
    match culprit.outcome {
        DependencyOutcome::Missing => format!(
            "{importer} imports `{name}`, which is in none of the folders searched ({})",
            culprit.searched.join("; ")
        ),
        DependencyOutcome::NotInstalled => match culprit.lack {
            Some(Lack::NoUcrt) => format!(
                "{importer} imports `{name}`, part of the Universal C Runtime, which this Windows has only with the VC++ 2015+ redistributable"
            ),
            Some(Lack::NoApiSets) => format!(
                "{importer} imports `{name}`, an API set, which loaders before Windows 7 (Server 2008 R2) do not know"
            ),
            _ => format!(
                "{importer} imports `{name}`, a C runtime that a server without its redistributable does not have, and no copy is beside it"
            ),
        },
        DependencyOutcome::WrongBitness => format!(
            "{importer} imports `{name}`, and the only copy found, `{found}`, is {} image",
            culprit.machine.map_or_else(|| "another machine's".to_owned(), |m| format!("an {m}"))
        ),
        DependencyOutcome::NotAnImage => {
            format!("{importer} imports `{name}`, and `{found}` is not a PE image")
        }
        DependencyOutcome::MissingImport => format!(
            "{importer} imports `{}` from `{name}`, which does not export {}",
            culprit.missing_functions.join("`, `"),
            if culprit.missing_functions.len() == 1 { "it" } else { "them" }
        ),
        DependencyOutcome::SideBySideMissing => format!(
            "{importer}'s manifest needs the side-by-side assembly `{name}`, which the server's WinSxS does not have"
        ),
        DependencyOutcome::InitFailed => format!("`{name}`'s DllMain failed"),
        DependencyOutcome::Loaded | DependencyOutcome::DelayLoad => format!("`{name}`"),
    }
}

/// What to do about it.
fn next_step(culprit: &Dependency, bits: Bits) -> String {
    let name = &culprit.name;
    let build = match bits {
        Bits::B32 => "x86",
        Bits::B64 => "x64",
    };
    let system = match bits {
        Bits::B32 => r"System32 (SysWOW64 on x64)",
        Bits::B64 => r"System32",
    };
    match (culprit.outcome, culprit.lack) {
        (DependencyOutcome::Missing, _) => {
            format!(
                "put `{name}` of the {build} build beside the filter, or install it in {system}"
            )
        }
        (DependencyOutcome::NotInstalled, Some(Lack::NotInstalled(Some(runtime)))) => format!(
            "install the {} redistributable ({build}) on the server, or ship `{name}` beside the filter; `--installed {}-{build}` says the server has it",
            runtime.name(),
            runtime.name()
        ),
        (DependencyOutcome::NotInstalled, Some(Lack::NoUcrt)) => format!(
            "install the VC++ 2015+ redistributable ({build}) or the Universal CRT update; `--installed vc2015+-{build}` says the server has it"
        ),
        (DependencyOutcome::NotInstalled, _) => {
            format!("ship `{name}` beside the filter, or use a build that does not need it")
        }
        (DependencyOutcome::WrongBitness, _) => {
            format!("replace `{}` with the {build} build", culprit.found.as_deref().unwrap_or(name))
        }
        (DependencyOutcome::NotAnImage, _) => {
            format!("replace `{}` with the real DLL", culprit.found.as_deref().unwrap_or(name))
        }
        (DependencyOutcome::MissingImport, _) => {
            format!("use the version of `{name}` the image was built against")
        }
        (DependencyOutcome::SideBySideMissing, _) => format!(
            "install the VC++ redistributable that brings `{name}` ({build}); `--installed vc2008-{build}` says the server has VC90"
        ),
        (DependencyOutcome::InitFailed, _) => format!("see why `{name}` refuses to start"),
        (DependencyOutcome::Loaded | DependencyOutcome::DelayLoad, _) => String::new(),
    }
}

fn file_name(path: &str) -> String {
    path.rsplit(['\\', '/']).next().unwrap_or(path).to_owned()
}
