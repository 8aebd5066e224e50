//! What `matrix` found, and its words: the facts a scenario pins (its expectation, read from
//! its JSON) and the same facts read off a run, each scenario's result with its differences
//! (the `--json` contract, computed in `matrix/`), and their words: each difference, a row of
//! the table, the progress, the summary and the JUnit report.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{StartReport, Step, StepKind};
use crate::arch::Bits;
use crate::cause::Cause;
use crate::vocab::{ImageKind, ProcessName, Stage};

/// The facts a matrix case pins down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub started: bool,
    pub process: Option<String>,
    pub bits: Option<Bits>,
    pub loaded: Option<bool>,
    pub win32_error: Option<u32>,
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<u32>>,
    /// The requests to send, each with the status it must get (null: no answer at all).
    /// When present, these URLs replace the default `GET /` to each started site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<ExpectedRequest>>,
    /// Facts pinned per image, keyed by the image's configured name (a filter's, a handler's,
    /// a module's, or the file extension a script map matched) or its Windows path. Only the
    /// fields given are checked, at every place the image was loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<BTreeMap<String, ExpectedImage>>,
}

/// What a case pins about one image. `kind` and `process` choose the places it is checked at
/// (a DLL can be a filter and an extension, and be loaded by several workers); the other
/// fields are checked at each of them. A field left out is not checked; `null` pins "none".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ImageKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded: Option<bool>,
    #[serde(default, deserialize_with = "given", skip_serializing_if = "Option::is_none")]
    pub win32_error: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<Bits>,
    #[serde(default, deserialize_with = "given", skip_serializing_if = "Option::is_none")]
    pub cause: Option<Option<Cause>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

/// A field that is given, null included, as opposed to one left out (which `default` makes
/// None): `"win32_error": null` pins "no error", while no `win32_error` pins nothing.
fn given<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// One request a case sends, and its expected answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRequest {
    pub url: String,
    pub status: Option<u16>,
    /// `2` for a 404.2; null for none.
    #[serde(default)]
    pub substatus: Option<u16>,
    /// What IIS logs as the request's Win32 status (the loader's 193 for an extension of the
    /// wrong bitness, 1260 for a 404.2); null for none.
    #[serde(default)]
    pub win32_error: Option<u32>,
    /// The process whose load of the request's ISAPI extension answered it, with its bitness
    /// (`"64-bit dllhost.exe"`); checked only when the case pins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ran_in: Option<String>,
}

/// `matrix --json`: every scenario's result, in the order they were given.
#[derive(Serialize, schemars::JsonSchema)]
pub struct MatrixReport<'a> {
    pub scenarios: &'a [CaseResult],
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CaseResult {
    pub name: String,
    pub expected: Outcome,
    /// None when the scenario could not be run to its end (see `error`).
    pub observed: Option<StartReport>,
    /// Why the scenario has no trustworthy result: a host that could not start, a report that
    /// did not parse, the machine's wineserver ended. Such a scenario fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each pinned fact the run did not match, expected against observed.
    pub differences: Vec<Difference>,
    pub pass: bool,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl CaseResult {
    /// Why the scenario failed, in words: its error, or each fact that differed; None when it
    /// passed. The text table and the JUnit report say the same.
    pub fn failure(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(format!("could not be run: {error}"));
        }
        (!self.differences.is_empty()).then(|| {
            let mut facts: Vec<String> = self.differences.iter().map(ToString::to_string).collect();
            // The DLL (or function) at fault, where a load failed at a dependency: the first
            // thing to fix, which the bare error code does not say.
            let images = self.observed.iter().flat_map(|report| {
                report.hosts.iter().flat_map(|host| {
                    host.filters.iter().chain(&host.modules).chain(&host.extensions)
                })
            });
            for image in images {
                if let Some(culprit) = image.culprit() {
                    let fact = super::loader::culprit_fact(image, culprit);
                    if !facts.contains(&fact) {
                        facts.push(fact);
                    }
                }
            }
            facts.join("; ")
        })
    }
}

/// One pinned fact that the run did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Difference {
    /// The fact: `loaded`, `request 2 (http://shop/) status`, `image `C:\f.dll` as a filter in
    /// 32-bit w3wp.exe (pool ShopPool): win32_error`.
    pub what: String,
    pub expected: String,
    pub observed: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: expected {}, observed {}", self.what, self.expected, self.observed)
    }
}

impl Outcome {
    /// Reads the same facts off an observed start, so that expected and observed compare as
    /// plain values. The optional facts (events, requests) are read only when `pins` has them.
    pub fn of(report: &StartReport, pins: &Outcome) -> Outcome {
        let first =
            report.hosts.iter().find_map(|host| host.filters.first().map(|filter| (host, filter)));
        Outcome {
            started: report.service.started,
            process: first.map(|(host, _)| host.process.to_string()),
            bits: first.map(|(host, _)| host.bits),
            loaded: first.map(|(_, filter)| filter.loaded),
            win32_error: first.and_then(|(_, filter)| filter.win32_error).map(|error| error.code()),
            status: report.requests.first().and_then(|request| request.status),
            events: pins
                .events
                .is_some()
                .then(|| report.events.iter().map(|event| event.id).collect()),
            requests: pins.requests.as_ref().map(|pinned| {
                report
                    .requests
                    .iter()
                    .enumerate()
                    .map(|(index, request)| ExpectedRequest {
                        url: request.url.clone(),
                        status: request.status,
                        substatus: request.substatus,
                        win32_error: request.win32_error.map(|error| error.code()),
                        extension_ran_in: pinned
                            .get(index)
                            .is_some_and(|pin| pin.extension_ran_in.is_some())
                            .then(|| report.extension_result(&request.url))
                            .flatten()
                            .map(|(process, bits, _)| format!("{bits} {process}")),
                    })
                    .collect()
            }),
            // Per-image facts have no single observed value: `differences` reads them at each
            // place the image was loaded.
            images: None,
        }
    }
}

/// What a difference is about when it is a request's field: `request 2 (http://shop/) status`.
pub fn request_fact(number: usize, url: &str, field: &str) -> String {
    format!("request {number} ({url}) {field}")
}

/// What a difference is about when fewer or more requests were answered than pinned.
pub fn requests_answered() -> String {
    "requests answered".to_owned()
}

/// A pin on an image that no process tried: a difference too, since it would otherwise pass
/// without checking anything.
pub fn image_not_tried(
    key: &str,
    kind: Option<ImageKind>,
    process: Option<ProcessName>,
) -> Difference {
    let mut what = format!("image `{key}`");
    if let Some(kind) = kind {
        what.push_str(&format!(" as {} {kind}", article(kind)));
    }
    if let Some(process) = process {
        what.push_str(&format!(" in {process}"));
    }
    Difference { what, expected: "a process that tried it".to_owned(), observed: "none".to_owned() }
}

/// One place an image was loaded at, as a difference names it: `image `C:\f.dll` as a filter in
/// 32-bit w3wp.exe (pool ShopPool)`.
pub fn image_place(
    key: &str,
    kind: ImageKind,
    bits: Bits,
    process: ProcessName,
    pool: Option<&str>,
) -> String {
    let pool = pool.map(|pool| format!(" (pool {pool})")).unwrap_or_default();
    format!("image `{key}` as {} {kind} in {bits} {process}{pool}", article(kind))
}

/// A field of an image at one place: `<place>: win32_error`.
pub fn image_fact(place: &str, field: &str) -> String {
    format!("{place}: {field}")
}

/// Why a scenario whose machine's wineserver ended cannot be trusted: every host of the
/// scenario shared that server. `error` is what the run itself said, if anything.
pub fn server_ended(error: Option<&str>) -> String {
    const SERVER_ENDED: &str = "the simulated machine's wineserver ended while this scenario ran (a DLL it loaded can end it), so its results cannot be trusted";
    match error {
        Some(error) => format!("{SERVER_ENDED}; the run said: {error}"),
        None => SERVER_ENDED.to_owned(),
    }
}

/// The table a person reads: one row per scenario, what it observed, and why a failing one
/// failed, fact by fact.
pub fn table(results: &[CaseResult]) -> Vec<Step> {
    let width = results.iter().map(|result| result.name.len()).max().unwrap_or(10);
    results.iter().map(|result| row(result, width)).collect()
}

/// One scenario's row, its name padded to `width`.
fn row(result: &CaseResult, width: usize) -> Step {
    let Some(observed) = &result.observed else {
        let reason = result.failure().unwrap_or_default();
        return Step { kind: StepKind::Fail, text: format!("{:<width$}  {reason}", result.name) };
    };
    let observed = Outcome::of(observed, &result.expected);
    let mut line = format!(
        "{:<width$}  {:<7}  {:<13} {:>6}  {:<10}  {}",
        result.name,
        if observed.started { "started" } else { "failed" },
        observed.process.as_deref().unwrap_or("-"),
        observed.bits.map(|bits| bits.to_string()).unwrap_or_else(|| "-".into()),
        match (observed.loaded, observed.win32_error) {
            (Some(true), _) => "loaded".to_owned(),
            (_, Some(error)) => format!("error {error}"),
            _ => "-".to_owned(),
        },
        observed
            .status
            .map(|status| format!("HTTP {status}"))
            .unwrap_or_else(|| "no request".into()),
    );
    // A failing row says why, fact by fact, so that nobody has to diff JSON to find it.
    if let Some(reason) = result.failure() {
        line.push_str(&format!("  ({reason})"));
    }
    Step { kind: if result.pass { StepKind::Info } else { StepKind::Fail }, text: line }
}

/// One line of progress, as each scenario ends.
pub fn progress(done: usize, total: usize, result: &CaseResult) -> String {
    let mark = if result.pass { "pass" } else { "FAIL" };
    format!("[{done:>3}/{total}] {mark} {} ({:.2} s)", result.name, result.elapsed.as_secs_f64())
}

/// A shard of a suite smaller than the shard count: nothing to run.
pub fn empty_shard(shard: impl std::fmt::Display, selected: usize) -> String {
    format!("matrix: shard {shard} holds none of the {selected} scenarios; nothing to run")
}

/// How long the run took, on how many jobs and which backend.
pub fn timing(
    scenarios: usize,
    elapsed: Duration,
    jobs: usize,
    backend: impl std::fmt::Display,
) -> String {
    format!(
        "matrix: {scenarios} scenarios in {:.2} s on {jobs} jobs ({backend} backend)",
        elapsed.as_secs_f64(),
    )
}

/// The summary: plain, one line, last, the form test-result readers look for.
pub fn summary(results: &[CaseResult]) -> String {
    let passed = results.iter().filter(|result| result.pass).count();
    format!("matrix: {passed} passed, {} failed", results.len() - passed)
}

/// A JUnit XML report: one test case per scenario; a failure's message is the words of
/// [`CaseResult::failure`] (each fact expected against observed, or why the scenario could not
/// be run), and its body the scenario's timeline.
pub fn junit(results: &[CaseResult], total: Duration) -> String {
    let failures = results.iter().filter(|result| !result.pass).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"isapi-harness matrix\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        results.len(),
        total.as_secs_f64()
    );
    for result in results {
        xml.push_str(&format!(
            "    <testcase classname=\"matrix\" name=\"{}\" time=\"{:.3}\"",
            escape_xml(&result.name),
            result.elapsed.as_secs_f64()
        ));
        if result.pass {
            xml.push_str("/>\n");
        } else {
            let message = result.failure().unwrap_or_default();
            let timeline: Vec<String> = result
                .observed
                .iter()
                .flat_map(|observed| observed.steps())
                .map(|step| step.text)
                .collect();
            xml.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                escape_xml(&message),
                escape_xml(&timeline.join("\n"))
            ));
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn article(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Extension => "an",
        ImageKind::Filter | ImageKind::Module => "a",
    }
}

/// A pinned or observed value as a person reads it: `none` for null, strings unquoted.
pub(crate) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Null) => "none".to_owned(),
        Ok(serde_json::Value::String(text)) => text,
        Ok(serde_json::Value::Array(items)) if items.is_empty() => "none".to_owned(),
        Ok(serde_json::Value::Array(items)) => {
            items.iter().map(word).collect::<Vec<_>>().join(", ")
        }
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod expectation_tests {
    use super::*;

    #[test]
    fn an_image_pin_tells_a_field_left_out_from_null() {
        let pin: ExpectedImage =
            serde_json::from_str(r#"{"loaded": false, "win32_error": null}"#).unwrap();
        assert_eq!(pin.loaded, Some(false));
        assert_eq!(pin.win32_error, Some(None), "null pins no error");
        assert_eq!(pin.cause, None, "left out pins nothing");
        let pin: ExpectedImage = serde_json::from_str(
            r#"{"kind": "extension", "process": "dllhost.exe", "bits": 64, "win32_error": 193,
                "cause": "wrong_bitness", "stage": "load_library"}"#,
        )
        .unwrap();
        assert_eq!(pin.kind, Some(ImageKind::Extension));
        assert_eq!(pin.process, Some(ProcessName::Dllhost));
        assert_eq!(pin.bits, Some(Bits::B64));
        assert_eq!(pin.win32_error, Some(Some(193)));
        assert_eq!(pin.cause, Some(Some(Cause::WrongBitness)));
        assert_eq!(pin.stage, Some(Stage::LoadLibrary));
        for bad in [r#"{"loded": true}"#, r#"{"kind": "handler"}"#, r#"{"process": "w3wp"}"#] {
            assert!(serde_json::from_str::<ExpectedImage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_read_as_words() {
        assert_eq!(word(&None::<u32>), "none");
        assert_eq!(word(&Some(193)), "193");
        assert_eq!(word(&Some("w3wp.exe")), "w3wp.exe");
        assert_eq!(word(&Cause::WrongBitness), "wrong_bitness");
        assert_eq!(word(&vec![2274, 2268]), "2274, 2268");
        let difference = Difference {
            what: "loaded".into(),
            expected: word(&Some(true)),
            observed: word(&Some(false)),
        };
        assert_eq!(difference.to_string(), "loaded: expected true, observed false");
    }
}
