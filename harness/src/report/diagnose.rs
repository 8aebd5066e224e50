//! What `diagnose` found, and its words: the typed diagnosis (the `--json` contract, computed
//! in `diagnose/`), and each of its parts as the lines a person reads: a filter's prediction and
//! observation, a request's, an extension's, each remedy, the notes and the verdict.

use serde::Serialize;

use super::{Step, StepKind};
use crate::arch::{Bits, Os};
use crate::cause::Cause;
use crate::remedy::Remedy;
use crate::vocab::{IsolationMode, ProcessName, Win32Error};

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Diagnosis {
    pub os: Os,
    /// None on IIS 7+, which has no isolation modes.
    pub isolation_mode: Option<IsolationMode>,
    pub enable_32bit_app_on_win64: bool,
    /// True when any filter is predicted not to load or any request is predicted an answer
    /// other than 200; with `--verify`, also when the real start showed one: a filter or an
    /// extension that failed, refused, crashed or hung, or a request not answered 200 (what an
    /// image's own code does is never predicted, but it is still a problem on the server).
    pub problems: bool,
    /// With `--verify`: whether every prediction matched the real load. None without it.
    pub agree: Option<bool>,
    /// Whether the prediction asked a machine what it has: the DLLs a filter imports, files
    /// the scenario does not place, a .NET runtime. Without `--verify` no machine is opened
    /// (so no Wine is needed), and those are not checked.
    pub machine_checked: bool,
    /// The global filters, then each started site's own.
    pub filters: Vec<FilterDiagnosis>,
    /// Each request the scenario sends (by default one `GET /` per started site, and
    /// `GET /default.aspx` where the site's root maps `.aspx`): the answer predicted from the
    /// filters' and extensions' predictions and, with `--verify`, the one a real start got.
    pub requests: Vec<RequestDiagnosis>,
    /// The requests that map to an ISAPI extension, each with where IIS would run it.
    pub extensions: Vec<ExtensionDiagnosis>,
    /// Fixes, most recommended first.
    pub remedies: Vec<ProposedRemedy>,
}

/// A request mapped to an ISAPI extension: what the configuration and the headers say IIS
/// answers, and with `--verify` what it answered.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ExtensionDiagnosis {
    pub url: String,
    /// The file extension its script map matched (`.aspx`).
    pub extension: String,
    pub path: String,
    /// The Web Service Extension list prohibits it: 404.2, never loaded (no load predicted).
    pub prohibited: bool,
    /// The loader's answer in the process that runs the application; None when prohibited.
    pub predicted: Option<Predicted>,
    /// Whether the request is predicted to reach the extension at all: the service starts and
    /// the filters of its site load. When not, IIS never loads the extension.
    pub reached: bool,
    pub observed: Option<ObservedRequest>,
}

/// What a real start answered to an extension's request.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ObservedRequest {
    pub status: Option<u16>,
    pub substatus: Option<u16>,
    pub win32_error: Option<Win32Error>,
    /// The process that loaded the extension, when one did.
    pub process: Option<ProcessName>,
    pub bits: Option<Bits>,
    /// Whether the loader loaded it and resolved its entry point: the level a prediction is at.
    pub loads: bool,
    /// Set when the extension's own code decided the answer after the loader had loaded it: it
    /// refused in GetExtensionVersion, crashed, hung, or HttpExtensionProc answered other than
    /// 200. Reported, never held against the prediction, as for filters.
    pub behaviour: Option<Behaviour>,
    pub agree: bool,
}

/// What an extension's own code did, once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// GetExtensionVersion returned FALSE.
    Refused,
    Crashed,
    TimedOut,
    /// HttpExtensionProc answered with an error or a status other than 200.
    AnsweredOtherThan200,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FilterDiagnosis {
    pub name: String,
    /// The site whose filter it is; None for a global filter.
    pub site: Option<String>,
    pub path: String,
    pub predicted: Predicted,
    pub observed: Option<Observed>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RequestDiagnosis {
    pub url: String,
    /// The site HTTP.sys routes it to, if any.
    pub site: Option<String>,
    pub app_pool: Option<String>,
    /// None: predicted to get no answer at all.
    pub predicted_status: Option<u16>,
    /// With `--verify`: what the request got in a real start (None inside: no answer).
    pub observed_status: Option<Option<u16>>,
}

/// What the configuration and the headers say will happen. A prediction, never a result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Predicted {
    pub process: ProcessName,
    pub bits: Bits,
    pub when: When,
    /// The loader loads the image and GetFilterVersion can be found.
    pub loads: bool,
    pub win32_error: Option<Win32Error>,
    pub cause: Cause,
    pub reason: String,
    /// Where Windows versions answer differently for this image, what differs.
    pub windows_versions_differ: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// IIS 5.0 isolation mode: inetinfo.exe loads the filters when W3SVC starts.
    ServiceStart,
    /// Worker process isolation mode: w3wp.exe loads them on the pool's first request.
    FirstRequest,
}

/// What the real loader answered, at the level the prediction speaks of.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Observed {
    pub process: ProcessName,
    pub bits: Bits,
    pub loads: bool,
    pub win32_error: Option<Win32Error>,
    pub cause: Cause,
    /// What the filter's own code did after the loader was done, when that was not `ok`.
    pub behaviour: Option<Cause>,
    pub agree: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProposedRemedy {
    /// What to run on the server, in order.
    pub commands: Vec<String>,
    pub explanation: String,
    /// With `--verify`: the remedy was applied to a copy of the metabase through the admin
    /// tools, and a real start then loaded every filter and every request of `verified_with`
    /// got 200.
    pub verified: bool,
    /// The requests of the verifying start whose answers decided it: those a site took and a
    /// process answered (empty without `--verify`).
    pub verified_with: Vec<String>,
    /// The IIS 6.0 remedy, applied through the admin tools.
    #[serde(skip)]
    pub remedy: Option<Remedy>,
    /// The IIS 7+ remedy: appcmd command lines, applied through `apphost::edit`.
    #[serde(skip)]
    pub appcmd: Vec<Vec<String>>,
}

/// The whole diagnosis as lines: the configuration, each filter, each request, each extension,
/// each remedy, the notes, and the verdict last.
pub fn steps(diagnosis: &Diagnosis) -> Vec<Step> {
    let mut steps = vec![configuration(diagnosis)];
    for filter in &diagnosis.filters {
        steps.extend(filter_predicted(filter));
        if let Some(observed) = &filter.observed {
            steps.push(filter_observed(observed));
        }
    }
    for request in &diagnosis.requests {
        steps.push(request_predicted(request));
        if let Some(observed) = request.observed_status {
            steps.push(request_observed(diagnosis, request, observed));
        }
    }
    for extension in &diagnosis.extensions {
        steps.push(extension_predicted(extension));
        if let Some(observed) = &extension.observed {
            steps.push(extension_observed(extension, observed));
        }
    }
    for (rank, remedy) in diagnosis.remedies.iter().enumerate() {
        steps.extend(remedy_lines(diagnosis.agree, rank, remedy));
    }
    if !diagnosis.machine_checked && !diagnosis.filters.is_empty() {
        steps.push(Step {
            kind: StepKind::Info,
            text: "note: predicted from the configuration and the headers alone; the DLLs the filters import, files the scenario does not place and a .NET runtime were not checked against a machine (--verify does, and loads for real)".to_owned(),
        });
    }
    if diagnosis.filters.is_empty() {
        steps.push(Step {
            kind: StepKind::Info,
            text: "no enabled global filter is configured".to_owned(),
        });
    }
    steps.push(verdict(
        diagnosis.problems,
        diagnosis.agree,
        diagnosis.remedies.iter().filter(|remedy| remedy.verified).count(),
        diagnosis.remedies.len(),
    ));
    steps
}

/// The first line: the OS and what decides the workers' bitness.
fn configuration(diagnosis: &Diagnosis) -> Step {
    let text = match diagnosis.isolation_mode {
        Some(mode) => format!(
            "{} Windows, {mode}, Enable32BitAppOnWin64 {}",
            diagnosis.os, diagnosis.enable_32bit_app_on_win64
        ),
        None => {
            format!("{} Windows, IIS 7+: each pool's workers at its own bitness", diagnosis.os)
        }
    };
    Step { kind: StepKind::Config, text }
}

/// A filter's prediction, and the note where Windows versions answer differently.
fn filter_predicted(filter: &FilterDiagnosis) -> Vec<Step> {
    let predicted = &filter.predicted;
    let when = match predicted.when {
        When::ServiceStart => "at service start",
        When::FirstRequest => "on the first request",
    };
    let outcome = predicted_outcome(predicted);
    let mut steps = vec![Step {
        kind: if predicted.loads { StepKind::Ok } else { StepKind::Fail },
        text: format!(
            "predicted: {} `{}` in {} {} {when}: {outcome}; {}",
            filter.name, filter.path, predicted.bits, predicted.process, predicted.reason
        ),
    }];
    if let Some(note) = predicted.windows_versions_differ {
        steps.push(Step { kind: StepKind::Info, text: format!("note: {note}") });
    }
    steps
}

/// What the real load of a filter showed, against its prediction.
fn filter_observed(observed: &Observed) -> Step {
    let outcome = match observed.win32_error {
        None => "loaded".to_owned(),
        Some(error) => format!("failed with {error}"),
    };
    let behaviour = observed
        .behaviour
        .map(|cause| format!("; then the filter: {}", words(cause)))
        .unwrap_or_default();
    Step {
        kind: if observed.agree { StepKind::Ok } else { StepKind::Fail },
        text: format!(
            "observed:  {outcome} in {} {}{behaviour} ({})",
            observed.bits,
            observed.process,
            if observed.agree { "agrees" } else { "DISAGREES with the prediction" }
        ),
    }
}

/// An HTTP answer, or none.
fn answer(status: Option<u16>) -> String {
    match status {
        Some(status) => format!("HTTP {status}"),
        None => "no answer".to_owned(),
    }
}

/// The answer predicted for a request.
fn request_predicted(request: &RequestDiagnosis) -> Step {
    let target = match (&request.site, &request.app_pool) {
        (Some(site), Some(pool)) => format!(" (site {site}, pool {pool})"),
        (Some(site), None) => format!(" (site {site})"),
        _ => String::new(),
    };
    let ok = request.predicted_status == Some(200);
    Step {
        kind: if ok { StepKind::Ok } else { StepKind::Fail },
        text: format!(
            "predicted: GET {}{target}: {}",
            request.url,
            answer(request.predicted_status)
        ),
    }
}

/// The answer a real start got for a request, against the prediction.
fn request_observed(
    diagnosis: &Diagnosis,
    request: &RequestDiagnosis,
    observed: Option<u16>,
) -> Step {
    let agree = observed == request.predicted_status;
    // An image whose own code refused, crashed, hung or answered decides the requests
    // through it, and no prediction speaks of that code.
    let behaved = diagnosis
        .filters
        .iter()
        .any(|filter| filter.observed.as_ref().is_some_and(|o| o.behaviour.is_some()))
        || diagnosis
            .extensions
            .iter()
            .any(|e| e.observed.as_ref().is_some_and(|o| o.behaviour.is_some()));
    let differs = if behaved {
        "differs from the prediction, which stops at the loader: what a filter's or an extension's own code does is only observed, see above"
    } else {
        "differs from the prediction"
    };
    Step {
        kind: if agree { StepKind::Ok } else { StepKind::Fail },
        text: format!(
            "observed:  GET {}: {} ({})",
            request.url,
            answer(observed),
            if agree { "agrees" } else { differs }
        ),
    }
}

/// Where a request's extension is predicted to run and what the loader will answer.
fn extension_predicted(extension: &ExtensionDiagnosis) -> Step {
    let head =
        format!("GET {}: extension {} `{}`", extension.url, extension.extension, extension.path);
    let (kind, text) = match &extension.predicted {
        None => (
            StepKind::Fail,
            format!(
                "{head}: prohibited by the Web Service Extension list, so 404.2 and never loaded"
            ),
        ),
        Some(predicted) => {
            let outcome = predicted_outcome(predicted);
            let reached = if extension.reached {
                String::new()
            } else {
                "; the request never reaches it (the service or the site's filters fail first)"
                    .to_owned()
            };
            (
                if predicted.loads && extension.reached { StepKind::Ok } else { StepKind::Fail },
                format!(
                    "{head} in {} {}: {outcome}; {}{reached}",
                    predicted.bits, predicted.process, predicted.reason
                ),
            )
        }
    };
    Step { kind, text: format!("predicted: {text}") }
}

/// What a real start answered to an extension's request, against the prediction.
fn extension_observed(extension: &ExtensionDiagnosis, observed: &ObservedRequest) -> Step {
    let host = match (observed.bits, observed.process) {
        (Some(bits), Some(process)) => format!("in {bits} {process}"),
        _ => "never loaded".to_owned(),
    };
    let status = match (observed.status, observed.substatus) {
        (Some(status), Some(sub)) => format!("HTTP {status}.{sub}"),
        (Some(status), None) => format!("HTTP {status}"),
        (None, _) => "no answer".to_owned(),
    };
    let behaviour = observed
        .behaviour
        .map(|behaviour| format!("; then the extension: {}", words(behaviour)))
        .unwrap_or_default();
    Step {
        kind: if observed.agree { StepKind::Ok } else { StepKind::Fail },
        text: format!(
            "observed:  GET {}: {host}, {status}{behaviour} ({})",
            extension.url,
            if observed.agree { "agrees" } else { "DISAGREES with the prediction" }
        ),
    }
}

/// A remedy, ranked (`rank` from 0), with whether a real start verified it and its commands.
fn remedy_lines(agree: Option<bool>, rank: usize, remedy: &ProposedRemedy) -> Vec<Step> {
    let verified = match agree {
        None => String::new(),
        Some(_) if remedy.verified => " [verified by a real start]".to_owned(),
        Some(_) => " [did NOT verify]".to_owned(),
    };
    let mut steps = vec![Step {
        kind: StepKind::Info,
        text: format!("remedy {}: {}{verified}", rank + 1, remedy.explanation),
    }];
    steps.extend(
        remedy
            .commands
            .iter()
            .map(|command| Step { kind: StepKind::Console, text: command.clone() }),
    );
    steps
}

/// The last line of `diagnose`: what was found, whether the real run agreed, and how many of
/// the remedies a real start verified (`agree` is None without `--verify`).
pub fn verdict(
    problems: bool,
    agree: Option<bool>,
    verified_remedies: usize,
    remedies: usize,
) -> Step {
    let text = match (agree, problems) {
        (Some(false), _) => {
            "verdict: the real run DISAGREES with the prediction (see above); the prediction is wrong"
                .to_owned()
        }
        (Some(true), false) => "verdict: nothing wrong, and the real run agrees".to_owned(),
        (None, false) => "verdict: nothing wrong predicted (--verify loads for real)".to_owned(),
        (Some(true), true) => format!(
            "verdict: problems found, and the real run agrees; {verified_remedies} of {remedies} remedies verified by a real start"
        ),
        (None, true) => format!(
            "verdict: problems predicted; {remedies} remedies proposed (--verify proves them with real starts)"
        ),
    };
    let kind = if agree != Some(false) && !problems { StepKind::Ok } else { StepKind::Fail };
    Step { kind, text }
}

/// The loader's predicted answer for a filter or an extension, in words.
fn predicted_outcome(predicted: &Predicted) -> String {
    match predicted.win32_error {
        None => "loads".to_owned(),
        Some(error) => format!("fails with {error} ({})", words(predicted.cause)),
    }
}

/// A cause or a behaviour in words, as the JSON names it (`wrong_bitness` reads "wrong
/// bitness").
fn words(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(|name| name.replace('_', " ")))
        .unwrap_or_default()
}
