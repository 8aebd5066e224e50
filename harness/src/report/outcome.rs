//! What became of one image a host was asked to load, for filters, extensions and IIS 7+
//! modules alike, and the one table that reads it from the host's report.

use serde::Serialize;

use crate::cause::{Cause, HostDeath, ImageSummary, classify, dependency_cause};
use crate::host::{HostRun, ImageLoad};
use crate::loader_answer::{LoaderAnswer, WindowsSays};
use crate::pe::ImageInfo;
use crate::vocab::{ImageKind, Stage, Win32Error};
use crate::windows_loader::divergence::Loader;
use crate::windows_loader::{Dependency, Rule};

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ImageOutcome {
    /// A filter, an extension or a module: where the image sits in its host's report.
    pub kind: ImageKind,
    pub name: String,
    /// The site whose filter this is; None for a global filter.
    pub site: Option<String>,
    pub path: String,
    /// True when the filter is loaded and initialised: LoadLibraryExW, GetProcAddress and
    /// GetFilterVersion all succeeded, and IIS accepted it.
    pub loaded: bool,
    /// The Win32 error that stopped it, as the host reported it: the loader's, GetProcAddress's,
    /// or the one the filter set before GetFilterVersion returned FALSE. Never IIS's own.
    pub win32_error: Option<Win32Error>,
    /// How far it got: `loaded`, `load_library`, `get_proc_address`, `get_filter_version`,
    /// `refused_silently`, `read_raw_data_refused` or `not_attempted`.
    pub stage: Stage,
    /// The description GetFilterVersion wrote, when it was called.
    pub description: Option<String>,
    /// The SF_NOTIFY_* flags GetFilterVersion asked for, when it was called.
    pub flags: Option<u32>,
    /// Why it did or did not load, from the loader's answer and the headers (None when the
    /// filter was not attempted).
    pub cause: Option<Cause>,
    /// What the headers of the file at `path` say; None when there is no file.
    pub image: Option<ImageSummary>,
    /// What HttpFilterProc returned for the request's end-of-request notification, when the
    /// filter registered for it (0x08000002 is SF_STATUS_REQ_NEXT_NOTIFICATION).
    pub request_notification: Option<u32>,
    /// Set when IIS itself refused a filter that the loader loaded and that initialised.
    pub iis_refused: Option<IisRefusal>,
    /// Every dependency, direct and indirect, as Windows's loader resolves them from the
    /// files on the simulated disk (`windows_loader`); empty where none was resolved.
    pub dependencies: Vec<Dependency>,
    /// Set where the run gives Windows's answer in place of Wine's: the rule that says Wine
    /// differs here (`windows_loader::divergence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_rule: Option<Rule>,
    /// Wine's own answer, kept beside Windows's where a rule applied (the Wine backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wine: Option<RealOutcome>,
    /// On the windows backend, the answer of the Windows the harness runs on, kept beside the
    /// target's where a rule applied: that computer is not the server (it may have runtimes
    /// the server lacks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_computer: Option<RealOutcome>,
    /// Where a rule applied: whether this machine's Wine is the one its row was measured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_verified_on_this_wine: Option<bool>,
    /// False where Windows loads the image and this machine could not, so its entry points
    /// were not called here.
    #[serde(skip_serializing_if = "is_true")]
    pub run_here: bool,
    /// The index in `dependencies` of the one Windows's loader stops at.
    #[serde(skip)]
    pub culprit: Option<usize>,
}

fn is_true(value: &bool) -> bool {
    *value
}

/// What the real loader (Wine's, or this computer's Windows's) answered for an image where the
/// run gives the target Windows's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RealOutcome {
    pub win32_error: Option<Win32Error>,
    pub stage: Stage,
}

impl ImageOutcome {
    /// An image before the host's report says what became of it: not attempted, until a
    /// step the host reports moves it on.
    pub fn not_attempted(
        kind: ImageKind,
        name: String,
        site: Option<String>,
        path: String,
        image: Option<ImageSummary>,
    ) -> ImageOutcome {
        ImageOutcome {
            kind,
            name,
            site,
            path,
            loaded: false,
            win32_error: None,
            stage: Stage::NotAttempted,
            description: None,
            flags: None,
            request_notification: None,
            cause: None,
            image,
            iis_refused: None,
            dependencies: Vec::new(),
            windows_rule: None,
            wine: None,
            this_computer: None,
            rule_verified_on_this_wine: None,
            run_here: true,
            culprit: None,
        }
    }

    /// The dependency Windows's loader stops at, for an image it refuses.
    pub fn culprit(&self) -> Option<&Dependency> {
        self.culprit.and_then(|index| self.dependencies.get(index))
    }
    /// Reads what the host reported for this image: the one table, for filters, extensions
    /// and modules alike, from a host's answer to how far the image got (`stage`), the error
    /// that stopped it, what its entry point said, and the cause. `image` is what the file's
    /// headers say; `run` is the host's whole report, whose end explains a step that never
    /// finished. What IIS then decides about an image that loaded (its refusal of read-raw-data
    /// filters) is the model's, on top of this.
    ///
    /// `answer` is Windows's loader's, from the same files (`loader_answer`): its dependencies
    /// are listed, the one it stops at gives the cause, and where a rule gave Windows's answer
    /// in place of Wine's, Wine's is kept beside it.
    pub fn read_load(
        &mut self,
        load: &ImageLoad,
        image: Option<&ImageInfo>,
        run: &HostRun,
        answer: Option<&LoaderAnswer>,
    ) {
        self.read_host(load, image, run);
        let Some(answer) = answer else { return };
        self.dependencies = answer.dependencies().to_vec();
        if let Some(correction) = &answer.correction {
            let mut real = self.clone();
            real.read_host(&correction.real, image, run);
            let real = Some(RealOutcome { win32_error: real.win32_error, stage: real.stage });
            match correction.loader {
                Loader::Wine { .. } => self.wine = real,
                Loader::ThisWindows => self.this_computer = real,
            }
            self.windows_rule = Some(correction.rule);
            self.rule_verified_on_this_wine = correction.rule_verified_on_this_wine();
            if correction.windows == WindowsSays::LoadsNotRunHere {
                self.stage = Stage::Loaded;
                self.loaded = true;
                self.win32_error = None;
                self.cause = Some(Cause::Ok);
                self.run_here = false;
            }
        }
        // A load refused with the error Windows's rules give: the dependency it stopped at
        // says why. (Another error is the loader's own, about the image itself.)
        if self.stage == Stage::LoadLibrary
            && self.win32_error.is_some()
            && self.win32_error == answer.windows.error()
        {
            self.culprit = answer.windows.refusal.map(|(_, index)| index);
            if let Some(cause) = answer.windows.culprit().and_then(|d| dependency_cause(d.outcome))
            {
                self.cause = Some(cause);
            }
        }
    }

    /// The one table, on the host's own report.
    fn read_host(&mut self, load: &ImageLoad, image: Option<&ImageInfo>, run: &HostRun) {
        // The step after LoadLibraryExW: the version call, or for a module the lookup of
        // RegisterModule (which is never called).
        let entry_step = match self.kind {
            ImageKind::Filter => Stage::GetFilterVersion,
            ImageKind::Extension => Stage::GetExtensionVersion,
            ImageKind::Module => Stage::GetProcAddress,
        };
        let (stage, error) = match (load.absent, load.load, load.exports, &load.version) {
            (Some(absent), _, _, _) => (Stage::Probe, Some(absent)),
            (None, None, _, _) => (Stage::LoadLibrary, None),
            (None, Some(Err(error)), _, _) => (Stage::LoadLibrary, Some(error)),
            (None, Some(Ok(())), Some(exports), _) if !exports.entry_point => {
                (Stage::GetProcAddress, exports.lookup_error)
            }
            // The loader succeeded and the host ended before it reported the exports: a
            // failure after LoadLibraryExW, at the entry point's step.
            (None, Some(Ok(())), None, _) => (entry_step, None),
            // RegisterModule resolved; calling it needs IIS's own interfaces, so it is not
            // called, and the module counts as loaded.
            (None, Some(Ok(())), Some(_), _) if self.kind == ImageKind::Module => {
                (Stage::Loaded, None)
            }
            (None, Some(Ok(())), Some(_), None) => (entry_step, None),
            (None, Some(Ok(())), Some(_), Some(version)) => {
                self.description = Some(version.description.clone());
                if self.kind == ImageKind::Filter {
                    self.flags = Some(version.flags);
                }
                if !version.accepted
                    && version.last_error == Win32Error(0)
                    && self.kind == ImageKind::Filter
                {
                    // The SDK's way for a filter to decline quietly: no event, no failure.
                    (Stage::RefusedSilently, None)
                } else if !version.accepted {
                    (entry_step, Some(version.last_error))
                } else {
                    self.request_notification = load.request.and_then(|request| request.returned);
                    (Stage::Loaded, None)
                }
            }
        };
        self.stage = stage;
        self.win32_error = error;
        self.loaded = stage == Stage::Loaded;
        self.cause = classify(stage, error, image, run.bits, HostDeath::of(run.end));
    }

    /// Whether the image stopped at a step IIS counts as a failure: not loaded, and neither
    /// declined quietly nor left unattempted.
    pub fn failed(&self) -> bool {
        !matches!(self.stage, Stage::Loaded | Stage::RefusedSilently | Stage::NotAttempted)
    }
}

/// A decision IIS makes itself, reported as IIS's, beside the loader's real result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IisRefusal {
    pub reason: RefusalReason,
    /// The event IIS logs for the refusal.
    pub event_id: u32,
    /// The data IIS attaches to the start-up failure it logs with it, as Event Viewer prints it.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// HTTP.sys hands raw data to one process only, so worker processes cannot serve
    /// SF_NOTIFY_READ_RAW_DATA.
    ReadRawDataInWorkerProcessIsolationMode,
    /// IIS 6.0 takes read-raw-data filters only as global filters.
    ReadRawDataAtSiteLevel,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::arch::Bits;
    use crate::host::{Exports, VersionCall};
    use crate::vocab::{HostEnd, ProcessName};

    fn run(end: HostEnd) -> HostRun {
        HostRun {
            bits: Bits::B64,
            process: ProcessName::W3wp,
            pid: Some(1),
            probes: Vec::new(),
            images: Vec::new(),
            end,
            elapsed: Duration::ZERO,
            start_attempts: 1,
            stray_output: Vec::new(),
        }
    }

    fn load(kind: ImageKind) -> ImageLoad {
        ImageLoad {
            kind,
            path: r"C:\x.dll".to_owned(),
            absent: None,
            load: Some(Ok(())),
            exports: Some(Exports {
                entry_point: true,
                request_proc: true,
                terminate: true,
                lookup_error: None,
            }),
            version: Some(VersionCall {
                accepted: true,
                last_error: Win32Error(0),
                version: 0x6_0000,
                flags: 0,
                description: "mock".to_owned(),
            }),
            request: None,
            terminated: Some(true),
            last_call: None,
            output: Vec::new(),
        }
    }

    fn read(load: &ImageLoad, end: HostEnd) -> ImageOutcome {
        let mut outcome =
            ImageOutcome::not_attempted(load.kind, "x".to_owned(), None, load.path.clone(), None);
        outcome.read_load(load, None, &run(end), None);
        outcome
    }

    const ALL_KINDS: [ImageKind; 3] = [ImageKind::Filter, ImageKind::Extension, ImageKind::Module];

    #[test]
    fn every_kind_that_the_loader_and_its_entry_point_accept_is_loaded() {
        for kind in ALL_KINDS {
            let outcome = read(&load(kind), HostEnd::Completed);
            assert_eq!(
                (outcome.stage, outcome.loaded, outcome.failed()),
                (Stage::Loaded, true, false)
            );
            assert_eq!(outcome.kind, kind);
        }
    }

    #[test]
    fn the_loader_s_error_stops_every_kind_at_load_library() {
        for kind in ALL_KINDS {
            let mut wrong = load(kind);
            wrong.load = Some(Err(Win32Error::BAD_EXE_FORMAT));
            let outcome = read(&wrong, HostEnd::Completed);
            assert_eq!(outcome.stage, Stage::LoadLibrary);
            assert_eq!(outcome.win32_error, Some(Win32Error::BAD_EXE_FORMAT));
            assert!(outcome.failed());
        }
    }

    /// A host that ended after LoadLibraryExW returned and before it reported the exports failed
    /// at the entry point's step, for every kind.
    #[test]
    fn a_host_that_ends_before_the_exports_fails_at_the_entry_point_step() {
        let expected = [
            (ImageKind::Filter, Stage::GetFilterVersion),
            (ImageKind::Extension, Stage::GetExtensionVersion),
            (ImageKind::Module, Stage::GetProcAddress),
        ];
        for (kind, stage) in expected {
            let mut cut = load(kind);
            cut.exports = None;
            cut.version = None;
            let outcome = read(&cut, HostEnd::Crashed { exception_code: 0xC000_0005 });
            assert_eq!((outcome.stage, outcome.win32_error), (stage, None), "{kind}");
            assert_eq!(outcome.cause, Some(Cause::Crashed), "{kind}");
            assert!(outcome.failed());
        }
    }

    #[test]
    fn a_filter_that_declines_quietly_is_skipped_but_an_extension_that_does_fails() {
        for (kind, stage, failed) in [
            (ImageKind::Filter, Stage::RefusedSilently, false),
            (ImageKind::Extension, Stage::GetExtensionVersion, true),
        ] {
            let mut declines = load(kind);
            declines.version.as_mut().unwrap().accepted = false;
            let outcome = read(&declines, HostEnd::Completed);
            assert_eq!((outcome.stage, outcome.failed()), (stage, failed), "{kind}");
        }
    }

    #[test]
    fn a_missing_entry_point_and_a_missing_file_are_told_apart() {
        let mut no_export = load(ImageKind::Filter);
        no_export.exports = Some(Exports {
            entry_point: false,
            request_proc: false,
            terminate: false,
            lookup_error: Some(Win32Error::PROC_NOT_FOUND),
        });
        no_export.version = None;
        let outcome = read(&no_export, HostEnd::Completed);
        assert_eq!(
            (outcome.stage, outcome.win32_error),
            (Stage::GetProcAddress, Some(Win32Error::PROC_NOT_FOUND))
        );
        let mut absent = load(ImageKind::Filter);
        absent.absent = Some(Win32Error::FILE_NOT_FOUND);
        let outcome = read(&absent, HostEnd::Completed);
        assert_eq!(
            (outcome.stage, outcome.win32_error),
            (Stage::Probe, Some(Win32Error::FILE_NOT_FOUND))
        );
    }
}
