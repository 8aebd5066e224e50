//! A host's run with Windows's answer given where Wine's is known to differ: the step between
//! the real load and the server model.
//!
//! The host loaded every image for real; `windows_loader` resolved each image's dependencies
//! from the same files. Where a row of `windows_loader::divergence` says the two answers
//! differ, the image's load in the run becomes Windows's answer (a refusal with its error, or a
//! load whose entry points could not be called here), with Wine's own answer kept beside it
//! ([`Correction::wine`]), so the model acts on Windows's answer as on any other: a filter
//! Windows refuses fails the service or the worker as a 127 would, and a host told to stop at
//! the first failure stops there. What the host did after a load Windows would not have made
//! (the stub an import was bound to, called and crashing; the later images in the same
//! process) did not happen on Windows, so the host is started again without the corrected
//! images ([`Applied::rerun`]) and the run is that second, real host's, with the corrected
//! images put back in their places ([`merge`]). Nothing here computes an answer that no rule
//! names: every other image keeps the loader's.

use serde::Serialize;

use crate::host::{HostPlan, HostRun, ImageLoad};
use crate::windows_loader::{Dependency, Reconciled, Resolution, Rule, WineAnswer, reconcile};

/// What the run says about one image's load beyond the host's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderAnswer {
    /// Every dependency, direct and indirect, as Windows's loader resolves them, and the one
    /// it stops at.
    pub windows: Resolution,
    /// Set where the run gives Windows's answer in place of Wine's.
    pub correction: Option<Correction>,
}

impl LoaderAnswer {
    pub fn dependencies(&self) -> &[Dependency] {
        &self.windows.dependencies
    }
}

/// Windows's answer given in place of Wine's, by a named rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub rule: Rule,
    pub windows: WindowsSays,
    /// Wine's own report of the image, as the host gave it.
    pub wine: ImageLoad,
    /// Whether this machine's Wine is the one the rule's row was measured on.
    pub rule_verified_on_this_wine: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WindowsSays {
    Refuses(crate::vocab::Win32Error),
    /// Windows loads it; this machine could not, so its entry points were not called.
    LoadsNotRunHere,
}

/// A run after the rules were applied.
#[derive(Debug)]
pub struct Applied {
    pub run: HostRun,
    pub answers: Vec<Option<LoaderAnswer>>,
    /// The host to start again, without the corrected images, when any was corrected.
    pub rerun: Option<Rerun>,
}

/// The second host: its plan, and for each of its images the index it had in the first.
#[derive(Debug)]
pub struct Rerun {
    pub plan: HostPlan,
    pub indices: Vec<usize>,
}

/// Applies the rules to one host's run. `resolutions` has one entry per planned image.
/// `wine_major` is this machine's Wine's major version.
pub fn apply(
    plan: &HostPlan,
    mut run: HostRun,
    resolutions: Vec<Resolution>,
    wine_major: Option<u32>,
) -> Applied {
    let mut answers: Vec<Option<LoaderAnswer>> = resolutions
        .into_iter()
        .map(|windows| Some(LoaderAnswer { windows, correction: None }))
        .collect();
    let mut corrected = Vec::new();
    let mut stopped_at = None;
    for (index, load) in run.images.iter_mut().enumerate() {
        let wine = match load.load {
            Some(Ok(())) => WineAnswer::Loaded,
            Some(Err(error)) => WineAnswer::Refused(error),
            None => continue,
        };
        let Some(Some(answer)) = answers.get_mut(index) else { continue };
        let (windows, rule) = match reconcile(wine, &answer.windows) {
            Reconciled::LoaderStands => continue,
            Reconciled::WindowsRefuses { error, rule } => (WindowsSays::Refuses(error), rule),
            Reconciled::WindowsLoads { rule } => (WindowsSays::LoadsNotRunHere, rule),
        };
        let original = load.clone();
        // Windows's answer alone: none of what the host did after the load happened there.
        *load = ImageLoad {
            load: Some(match windows {
                WindowsSays::Refuses(error) => Err(error),
                WindowsSays::LoadsNotRunHere => Ok(()),
            }),
            ..ImageLoad::new(original.kind, original.path.clone())
        };
        answer.correction = Some(Correction {
            rule,
            windows,
            wine: original,
            rule_verified_on_this_wine: wine_major
                == Some(crate::windows_loader::divergence::MEASURED_ON_WINE),
        });
        corrected.push(index);
        // A host told to stop at its first failure goes no further on Windows.
        if plan.stop_at_first_failure && matches!(windows, WindowsSays::Refuses(_)) {
            stopped_at = Some(index);
            break;
        }
    }
    if corrected.is_empty() {
        return Applied { run, answers, rerun: None };
    }
    let last_tried = stopped_at.unwrap_or(plan.images.len().saturating_sub(1));
    run.images.truncate(last_tried + 1);
    let indices: Vec<usize> = (0..plan.images.len().min(last_tried + 1))
        .filter(|index| !corrected.contains(index))
        .collect();
    let mut again = plan.clone();
    again.images = indices.iter().map(|&i| plan.images[i].clone()).collect();
    Applied { run, answers, rerun: Some(Rerun { plan: again, indices }) }
}

/// The run of the second host with the corrected images of the first put back in their
/// places: every other image, the requests and the host's end are the second host's.
pub fn merge(first: HostRun, rerun: &Rerun, mut second: HostRun) -> HostRun {
    let mut images = Vec::new();
    let mut from_second = std::mem::take(&mut second.images).into_iter();
    for (index, load) in first.images.into_iter().enumerate() {
        if rerun.indices.contains(&index) {
            match from_second.next() {
                Some(again) => images.push(again),
                // The second host ended before this image: so does the merged run.
                None => break,
            }
        } else {
            images.push(load);
        }
    }
    images.extend(from_second);
    second.images = images;
    second
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::arch::Bits;
    use crate::host::PlannedImage;
    use crate::vocab::{HostEnd, ImageKind, ProcessName, Win32Error};
    use crate::windows_loader::DependencyOutcome;
    use crate::winpath::WinPath;

    fn plan(images: usize, stop: bool) -> HostPlan {
        HostPlan {
            bits: Bits::B64,
            process: ProcessName::W3wp,
            probes: Vec::new(),
            images: (0..images)
                .map(|i| PlannedImage {
                    kind: ImageKind::Filter,
                    path: WinPath::parse(&format!(r"C:\f\{i}.dll")).expect("a path"),
                })
                .collect(),
            stop_at_first_failure: stop,
            probe_before_load: false,
            request: true,
            timeout: Duration::from_secs(1),
        }
    }

    fn loaded(i: usize) -> ImageLoad {
        ImageLoad {
            load: Some(Ok(())),
            ..ImageLoad::new(ImageKind::Filter, format!(r"C:\f\{i}.dll"))
        }
    }

    fn run(images: Vec<ImageLoad>, end: HostEnd) -> HostRun {
        HostRun {
            bits: Bits::B64,
            process: ProcessName::W3wp,
            pid: Some(7),
            probes: Vec::new(),
            images,
            end,
            elapsed: Duration::ZERO,
            start_attempts: 1,
            stray_output: Vec::new(),
        }
    }

    fn binds() -> Resolution {
        Resolution { dependencies: Vec::new(), refusal: None }
    }

    fn missing_import() -> Resolution {
        let mut dependency = Dependency::new(
            "dep.dll",
            &WinPath::parse(r"C:\f\1.dll").expect("a path"),
            DependencyOutcome::Loaded,
        );
        dependency.outcome = DependencyOutcome::MissingImport;
        dependency.missing_functions = vec!["dep_missing".to_owned()];
        Resolution {
            dependencies: vec![dependency],
            refusal: Some((Win32Error::PROC_NOT_FOUND, 0)),
        }
    }

    #[test]
    fn an_image_wine_loaded_through_a_stub_is_refused_and_the_host_stops_there() {
        let plan = plan(3, true);
        let first = run(
            vec![loaded(0), loaded(1), loaded(2)],
            HostEnd::Crashed { exception_code: 0xc000_0005 },
        );
        let applied = apply(&plan, first, vec![binds(), missing_import(), binds()], Some(8));
        assert_eq!(applied.run.images.len(), 2, "the third was never tried on Windows");
        assert_eq!(applied.run.images[1].load, Some(Err(Win32Error::PROC_NOT_FOUND)));
        let correction =
            applied.answers[1].as_ref().and_then(|a| a.correction.clone()).expect("corrected");
        assert_eq!(correction.rule.id, "missing_import");
        assert_eq!(correction.wine.load, Some(Ok(())), "Wine's own answer kept");
        let rerun = applied.rerun.expect("the host is started again");
        assert_eq!(rerun.indices, vec![0]);
        assert_eq!(rerun.plan.images.len(), 1);

        let second = run(vec![loaded(0)], HostEnd::Completed);
        let merged = merge(applied.run, &rerun, second);
        assert_eq!(merged.end, HostEnd::Completed, "the second host's end: no stub was called");
        assert_eq!(merged.images.len(), 2);
        assert_eq!(merged.images[1].load, Some(Err(Win32Error::PROC_NOT_FOUND)));
    }

    #[test]
    fn without_stopping_every_other_image_comes_from_the_second_host() {
        let plan = plan(3, false);
        let first = run(vec![loaded(0), loaded(1), loaded(2)], HostEnd::Completed);
        let applied = apply(&plan, first, vec![missing_import(), binds(), binds()], Some(8));
        let rerun = applied.rerun.as_ref().expect("a rerun");
        assert_eq!(rerun.indices, vec![1, 2]);
        let merged = merge(applied.run, rerun, run(vec![loaded(1), loaded(2)], HostEnd::Completed));
        assert_eq!(merged.images.len(), 3);
        assert_eq!(merged.images[0].load, Some(Err(Win32Error::PROC_NOT_FOUND)));
    }

    #[test]
    fn answers_that_agree_change_nothing_and_start_no_second_host() {
        let plan = plan(1, true);
        let mut refused = loaded(0);
        refused.load = Some(Err(Win32Error::PROC_NOT_FOUND));
        let applied = apply(
            &plan,
            run(vec![refused.clone()], HostEnd::Completed),
            vec![missing_import()],
            Some(8),
        );
        assert!(applied.rerun.is_none());
        assert_eq!(applied.run.images, vec![refused]);
        assert!(
            applied.answers[0]
                .as_ref()
                .is_some_and(|a| a.correction.is_none() && a.windows.culprit().is_some())
        );
    }
}
