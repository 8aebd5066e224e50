//! `diagnose`: predict from the configuration and the headers, prove it by loading, and say
//! the fix.
//!
//! The prediction is a separate, labelled product: it reads the model (which process loads the
//! filters, at which bitness, when) and each filter file's headers (machine, magic, code, .NET
//! flags, imports, exports), and says what the loader will answer. It knows the odd images of
//! the loader ground truth: an x86 DLL with no code loads in a 64-bit process, ARM64 and IA64
//! images are another machine, not another bitness, an image whose machine and magic disagree
//! is corrupt. `--verify` then loads every filter for real and compares; a disagreement is a bug
//! in the prediction (exit code 3), never a reason to change an observed result.
//!
//! The prediction stops where headers stop: it says whether the loader will load the image and
//! find `GetFilterVersion`. What the filter's own code then does (refuse, crash, hang) is only
//! ever observed, and reported beside the comparison as behaviour.

mod iis6;
mod iis7;

use crate::apphost::Apphost;
use crate::arch::{Bits, article};
use crate::artifacts::Artifacts;
use crate::cause::{Cause, bad_format_cause};
use crate::machine::{Machine, WinPath};
use crate::metabase::Metabase;
use crate::pe::{ImageInfo, PredictionReason};
use crate::remedy::Remedy;
use crate::report::ImageOutcome;
pub use crate::report::diagnose::{
    Behaviour, Diagnosis, ExtensionDiagnosis, FilterDiagnosis, Observed, ObservedRequest,
    Predicted, ProposedRemedy, RequestDiagnosis, When,
};
use crate::scenario::Scenario;
use crate::vocab::{ImageKind, ProcessName, Stage, Win32Error};
use crate::windows_loader::Resolution;

impl ProposedRemedy {
    fn new(remedy: Remedy) -> ProposedRemedy {
        ProposedRemedy {
            commands: remedy.commands(),
            explanation: remedy.explanation.clone(),
            verified: false,
            verified_with: Vec::new(),
            remedy: Some(remedy),
            appcmd: Vec::new(),
        }
    }

    fn appcmd(commands: Vec<Vec<String>>, explanation: &str) -> ProposedRemedy {
        ProposedRemedy {
            commands: commands
                .iter()
                .map(|args| crate::iis::iis7::messages::appcmd::command_line(args))
                .collect(),
            explanation: explanation.to_owned(),
            verified: false,
            verified_with: Vec::new(),
            remedy: None,
            appcmd: commands,
        }
    }
}

/// Predicts, and with `verify` loads for real, compares, and tries each remedy.
pub fn diagnose(machine: &Machine, scenario: &Scenario, verify: bool) -> anyhow::Result<Diagnosis> {
    diagnose_with(Some(machine), machine.artifacts(), scenario, verify)
}

/// Predicts from the configuration and the headers alone, opening no machine: the images the
/// scenario places are read from the build, and a filter's imports, the machine's own files
/// and its .NET runtime are not checked (`machine_checked` is false).
pub fn predict_only(artifacts: &Artifacts, scenario: &Scenario) -> anyhow::Result<Diagnosis> {
    diagnose_with(None, artifacts, scenario, false)
}

fn diagnose_with(
    machine: Option<&Machine>,
    artifacts: &Artifacts,
    scenario: &Scenario,
    verify: bool,
) -> anyhow::Result<Diagnosis> {
    crate::iis::by_generation(scenario, Diagnose { machine, artifacts, verify })
}

/// `diagnose` for each server generation: the one place the configuration kind picks a model
/// is `iis::by_generation`.
struct Diagnose<'m> {
    machine: Option<&'m Machine>,
    artifacts: &'m Artifacts,
    verify: bool,
}

impl<'s> crate::iis::PerGeneration<'s> for Diagnose<'_> {
    type Output = anyhow::Result<Diagnosis>;

    fn iis6(self, scenario: &'s Scenario, metabase: &'s Metabase) -> Self::Output {
        iis6::diagnose(self.machine, self.artifacts, scenario, metabase, self.verify)
    }

    fn iis7(self, scenario: &'s Scenario, apphost: &'s Apphost) -> Self::Output {
        iis7::diagnose(self.machine, self.artifacts, scenario, apphost, self.verify)
    }
}

/// The headers of the image the scenario puts at `path`, read from the file it will copy
/// there (or, for a path the scenario leaves alone, from the machine's own file, if any).
/// Windows's loader's answer for the image at `path` in a process of `bits`, on the server's
/// disk as the scenario gives it; None with no machine to read the system's files from.
fn resolve_on(
    disk: Option<&ScenarioDisk<'_>>,
    scenario: &Scenario,
    path: &WinPath,
    bits: Bits,
) -> Option<Resolution> {
    let disk = disk?;
    Some(crate::windows_loader::resolve(disk, &scenario.loader_search(), path, bits))
}

/// The server's disk before anything runs: the scenario's images where it places them, else
/// the machine's own files; each read once.
struct ScenarioDisk<'a> {
    machine: crate::machine::LoaderDisk<'a>,
    scenario: &'a Scenario,
    artifacts: &'a Artifacts,
    read: std::cell::RefCell<
        std::collections::HashMap<WinPath, Option<std::sync::Arc<crate::windows_loader::DiskFile>>>,
    >,
}

impl<'a> ScenarioDisk<'a> {
    fn new(
        machine: Option<&'a Machine>,
        scenario: &'a Scenario,
        artifacts: &'a Artifacts,
    ) -> Option<Self> {
        Some(ScenarioDisk {
            machine: machine?.loader_disk(),
            scenario,
            artifacts,
            read: std::cell::RefCell::new(std::collections::HashMap::new()),
        })
    }
}

impl crate::windows_loader::TargetDisk for ScenarioDisk<'_> {
    fn file(&self, path: &WinPath) -> Option<std::sync::Arc<crate::windows_loader::DiskFile>> {
        if let Some(read) = self.read.borrow().get(path) {
            return read.clone();
        }
        let file = if self.scenario.leaves_empty(path) {
            None
        } else {
            match self.scenario.image_at(path) {
                Some(spec) => spec.source(self.artifacts).ok().and_then(|source| {
                    let (info, linkage) = crate::pe::inspect_with_linkage(&source)?;
                    Some(std::sync::Arc::new(crate::windows_loader::DiskFile {
                        path: path.clone(),
                        info,
                        linkage,
                        os_own: false,
                    }))
                }),
                None => self.machine.file(path),
            }
        };
        self.read.borrow_mut().insert(path.clone(), file.clone());
        file
    }
}

fn image_for(
    machine: Option<&Machine>,
    artifacts: &Artifacts,
    scenario: &Scenario,
    path: &WinPath,
) -> anyhow::Result<Option<ImageInfo>> {
    if scenario.leaves_empty(path) {
        return Ok(None);
    }
    match scenario.image_at(path) {
        Some(spec) => Ok(Some(crate::pe::inspect(&spec.source(artifacts)?)?)),
        None => Ok(machine.and_then(|machine| machine.inspect_existing(path))),
    }
}

/// What a real start answered to an extension's request, and whether the prediction (at the
/// loader's level, and the Web Service Extension list's) holds.
fn observe_request(
    served: &crate::report::StartReport,
    extension: &ExtensionDiagnosis,
) -> ObservedRequest {
    let request = served.requests.iter().find(|request| request.url == extension.url);
    let loaded_by = served.extension_result(&extension.url);
    let status = request.and_then(|r| r.status);
    let at_loader = loaded_by.map(|(process, bits, outcome)| observe(process, bits, outcome, None));
    let loads = at_loader.as_ref().is_some_and(|observed| observed.loads);
    let behaviour = match at_loader.as_ref().and_then(|observed| observed.behaviour) {
        Some(Cause::Crashed) => Some(Behaviour::Crashed),
        Some(Cause::TimedOut) => Some(Behaviour::TimedOut),
        Some(_) => Some(Behaviour::Refused),
        None if loads && status != Some(200) => Some(Behaviour::AnsweredOtherThan200),
        None => None,
    };
    let observed = ObservedRequest {
        status,
        substatus: request.and_then(|r| r.substatus),
        win32_error: request.and_then(|r| r.win32_error),
        process: loaded_by.map(|(process, _, _)| process),
        bits: loaded_by.map(|(_, bits, _)| bits),
        loads,
        behaviour,
        agree: false,
    };
    let agree = match &extension.predicted {
        _ if !extension.reached => loaded_by.is_none(),
        None => {
            loaded_by.is_none() && observed.status == Some(404) && observed.substatus == Some(2)
        }
        Some(predicted) => {
            observed.process == Some(predicted.process)
                && observed.bits == Some(predicted.bits)
                && observed.loads == predicted.loads
                && at_loader.and_then(|observed| observed.win32_error)
                    == predicted.win32_error.filter(|_| !predicted.loads)
        }
    };
    ObservedRequest { agree, ..observed }
}

/// Whether a real start showed a problem, predicted or not: a filter that did not load or
/// whose own code refused, crashed or hung, an extension that did the same, or a request that
/// was not answered 200. `not_run` names the requests the harness does not answer at all (an
/// allowed CGI's), which are no problem for that. Without `--verify` nothing was observed and
/// this is false.
fn observed_problems(
    filters: &[FilterDiagnosis],
    requests: &[RequestDiagnosis],
    extensions: &[ExtensionDiagnosis],
    not_run: &dyn Fn(&str) -> bool,
) -> bool {
    filters
        .iter()
        .filter_map(|filter| filter.observed.as_ref())
        .any(|observed| !observed.loads || observed.behaviour.is_some())
        || requests.iter().any(|request| {
            request.observed_status.is_some_and(|status| status != Some(200))
                && !not_run(&request.url)
        })
        || extensions
            .iter()
            .filter_map(|extension| extension.observed.as_ref())
            .any(|observed| observed.behaviour.is_some())
}

/// `has_clr`: whether the machine has a .NET runtime; None when no machine was asked.
fn predict(
    has_clr: Option<bool>,
    image: Option<&ImageInfo>,
    folder_exists: bool,
    windows: Option<&Resolution>,
    process: ProcessName,
    bits: Bits,
    when: When,
) -> Predicted {
    let check = FileCheck::Probed { folder_exists };
    predict_image(has_clr, image, check, windows, process, bits, when, ImageKind::Filter)
}

/// How IIS finds out that an image's file is not there.
#[derive(Debug, Clone, Copy)]
enum FileCheck {
    /// It looks for a filter's file first (2, or 3 without even the folder).
    Probed { folder_exists: bool },
    /// It leaves an extension's file to the loader (126).
    LoaderOnly,
}

/// [`predict`] for an image of `kind`, whose required export differs, found as `check` says.
#[expect(clippy::too_many_arguments, reason = "each is one input of the prediction")]
fn predict_image(
    has_clr: Option<bool>,
    image: Option<&ImageInfo>,
    check: FileCheck,
    windows: Option<&Resolution>,
    process: ProcessName,
    bits: Bits,
    when: When,
    kind: ImageKind,
) -> Predicted {
    let verdict =
        |loads: bool, error: Option<Win32Error>, cause: Cause, reason: String| Predicted {
            process,
            bits,
            when,
            loads,
            win32_error: error,
            cause,
            reason,
            windows_versions_differ: None,
        };
    let Some(image) = image else {
        // IIS looks for a filter's file before it loads it; that check answers
        // ERROR_FILE_NOT_FOUND, or ERROR_PATH_NOT_FOUND when not even the folder is there.
        // An extension's missing file is the loader's to report.
        return if let FileCheck::LoaderOnly = check {
            verdict(
                false,
                Some(Win32Error::MOD_NOT_FOUND),
                Cause::MissingFile,
                "no file at this path".to_owned(),
            )
        } else if let FileCheck::Probed { folder_exists: true } = check {
            verdict(
                false,
                Some(Win32Error::FILE_NOT_FOUND),
                Cause::MissingFile,
                "no file at this path".to_owned(),
            )
        } else {
            verdict(
                false,
                Some(Win32Error::PATH_NOT_FOUND),
                Cause::MissingFile,
                "not even the folder of this path exists".to_owned(),
            )
        };
    };
    if !image.mz {
        return verdict(
            false,
            Some(Win32Error::BAD_EXE_FORMAT),
            Cause::NotAnImage,
            "the file does not start with MZ: it is not an executable image".to_owned(),
        );
    }
    if !image.pe || image.problem.is_some() {
        let problem = image.problem.clone().unwrap_or_else(|| "no readable PE header".to_owned());
        return verdict(
            false,
            Some(Win32Error::BAD_EXE_FORMAT),
            Cause::CorruptImage,
            format!("the headers cannot be read whole: {problem}"),
        );
    }
    let prediction = image.predict();
    let loads_here = match bits {
        Bits::B32 => prediction.loads_in_32bit,
        Bits::B64 => prediction.loads_in_64bit,
    };
    let machine_name = image.machine.map(|m| m.to_string()).unwrap_or_default();
    let mut predicted = if !loads_here {
        // The same reading of the headers that names the cause of an observed 193, so that a
        // prediction and an observation can only differ where the loader surprises us.
        let cause = bad_format_cause(Some(image), bits);
        let reason = match cause {
            Cause::OtherMachine => {
                format!("built for {machine_name}, which no {bits} x86/x64 process runs")
            }
            Cause::WrongBitness => {
                format!(
                    "{} {machine_name} image cannot load in a {bits} process",
                    article(&machine_name)
                )
            }
            _ => match prediction.reason {
                PredictionReason::MagicMismatch => {
                    format!("the machine ({machine_name}) and the optional header's magic disagree")
                }
                _ => "the optional header cannot be read".to_owned(),
            },
        };
        verdict(false, Some(Win32Error::BAD_EXE_FORMAT), cause, reason)
    } else if image.clr.as_ref().is_some_and(|clr| clr.il_only) && has_clr == Some(false) {
        verdict(
            false,
            Some(Win32Error::MOD_NOT_FOUND),
            Cause::MissingDependency,
            "an IL-only .NET image loads through mscoree.dll, and this machine has no .NET runtime"
                .to_owned(),
        )
    } else if let Some(((error, _), culprit)) =
        windows.and_then(|windows| windows.refusal.zip(windows.culprit()))
    {
        // Windows's loader rules on the files the server would have: the dependency it stops
        // at, in import-table order.
        verdict(
            false,
            Some(error),
            crate::cause::dependency_cause(culprit.outcome).unwrap_or(Cause::MissingDependency),
            crate::report::dependency_problem(culprit, bits),
        )
    } else if kind == ImageKind::Filter && !image.isapi_exports.get_filter_version.is_present() {
        verdict(false, Some(Win32Error::PROC_NOT_FOUND), Cause::MissingExport, "GetFilterVersion is not exported under that name (a .def file fixes x86 stdcall decoration)".to_owned())
    } else if kind == ImageKind::Extension
        && !image.exports.iter().any(|name| name == kind.entry_point())
    {
        verdict(
            false,
            Some(Win32Error::PROC_NOT_FOUND),
            Cause::MissingExport,
            "GetExtensionVersion is not exported under that name (a .def file fixes x86 stdcall decoration)".to_owned(),
        )
    } else {
        let reason = match prediction.reason {
            PredictionReason::NoCode32 if bits == Bits::B64 => {
                "an x86 image without code, which 64-bit processes accept too".to_owned()
            }
            _ => format!("{} {machine_name} image in a {bits} process", article(&machine_name)),
        };
        verdict(true, None, Cause::Ok, reason)
    };
    predicted.windows_versions_differ = match prediction.reason {
        PredictionReason::IlOnly => Some(
            "IL-only images load in 64-bit processes only from Windows 8 on; Windows 7 and older refuse them",
        ),
        PredictionReason::IlOnly32BitRequired => {
            Some("Windows keeps 32BITREQUIRED images to 32-bit processes; Wine ignores the flag")
        }
        PredictionReason::IlOnlyOldRuntime => Some(
            "Windows treats IL-only images for runtimes before 2.5 as x86; Wine ignores the version",
        ),
        PredictionReason::NoCode32 => Some(
            "Windows 10 skips a code-less x86 DLL during a search by name, though it loads one given by full path",
        ),
        _ => None,
    };
    predicted
}

/// What the real load of one image in `process` showed, against what was predicted for it:
/// the one comparison of prediction and observation, for filters, extensions and modules of
/// both generations. What the image's own code did once the loader was done (refuse, crash,
/// hang) is behaviour, reported beside the comparison and never held against it.
fn observe(
    process: ProcessName,
    bits: Bits,
    outcome: &ImageOutcome,
    predicted: Option<&Predicted>,
) -> Observed {
    let cause = outcome.cause.unwrap_or(Cause::Ok);
    let behavioural = matches!(
        cause,
        Cause::FilterRefused | Cause::Crashed | Cause::TimedOut | Cause::RawDataUnsupported
    );
    let at_loader =
        matches!(outcome.stage, Stage::Probe | Stage::LoadLibrary | Stage::GetProcAddress)
            && !behavioural;
    let mut observed = Observed {
        process,
        bits,
        loads: !at_loader,
        win32_error: if at_loader { outcome.win32_error } else { None },
        cause: if at_loader { cause } else { Cause::Ok },
        behaviour: (behavioural || (!at_loader && cause != Cause::Ok)).then_some(cause),
        agree: false,
    };
    observed.agree = predicted.is_some_and(|predicted| {
        observed.process == predicted.process
            && observed.bits == predicted.bits
            && observed.loads == predicted.loads
            && observed.win32_error == predicted.win32_error
            && observed.cause == predicted.cause
    });
    observed
}
