//! What a scenario expects and how a run is held against it: the facts an expectation pins
//! (the first filter's, every named image's at every place it was loaded, each request's),
//! read off a report, and the differences in words.

use super::*;

/// The facts a matrix case pins down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub(super) fn given<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// One request a case sends, and its expected answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Serialize)]
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
            let culprits = self.observed.iter().flat_map(|report| {
                report.hosts.iter().flat_map(|host| {
                    host.filters.iter().chain(&host.modules).chain(&host.extensions)
                })
            });
            for image in culprits {
                if let Some(culprit) = image.culprit() {
                    let fact = crate::report::culprit_fact(image, culprit);
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Each fact `expected` pins that `report` does not match, in the order the case lists them.
pub fn differences(expected: &Outcome, report: &StartReport) -> Vec<Difference> {
    let observed = Outcome::of(report, expected);
    let mut found = Vec::new();
    let mut compare = |what: String, expected: String, observed: String| {
        if expected != observed {
            found.push(Difference { what, expected, observed });
        }
    };
    compare("started".into(), word(&expected.started), word(&observed.started));
    compare("process".into(), word(&expected.process), word(&observed.process));
    compare("bits".into(), word(&expected.bits), word(&observed.bits));
    compare("loaded".into(), word(&expected.loaded), word(&observed.loaded));
    compare("win32_error".into(), word(&expected.win32_error), word(&observed.win32_error));
    compare("status".into(), word(&expected.status), word(&observed.status));
    if let Some(events) = &expected.events {
        compare("events".into(), word(events), word(&observed.events));
    }
    if let Some(pinned) = &expected.requests {
        let seen = observed.requests.unwrap_or_default();
        if seen.len() != pinned.len() {
            compare("requests answered".into(), word(&pinned.len()), word(&seen.len()));
        }
        for (number, (pin, got)) in pinned.iter().zip(&seen).enumerate() {
            let what = |field: &str| format!("request {} ({}) {field}", number + 1, pin.url);
            compare(what("status"), word(&pin.status), word(&got.status));
            compare(what("substatus"), word(&pin.substatus), word(&got.substatus));
            compare(what("win32_error"), word(&pin.win32_error), word(&got.win32_error));
            if pin.extension_ran_in.is_some() {
                compare(
                    what("extension_ran_in"),
                    word(&pin.extension_ran_in),
                    word(&got.extension_ran_in),
                );
            }
        }
    }
    for (key, pin) in expected.images.iter().flatten() {
        image_differences(key, pin, report, &mut found);
    }
    found
}

/// The places `key` names (a configured name or a Windows path, case ignored as IIS and
/// Windows ignore it), narrowed by the pin's `kind` and `process`, and each pinned field at
/// each of them. No place at all is a difference too: a pin on an image that was never tried
/// would otherwise pass without checking anything.
pub(super) fn image_differences(
    key: &str,
    pin: &ExpectedImage,
    report: &StartReport,
    found: &mut Vec<Difference>,
) {
    let key_path = WinPath::parse(key).ok();
    let names = |image: &ImageOutcome| {
        image.name.eq_ignore_ascii_case(key)
            || key_path
                .as_ref()
                .is_some_and(|key| WinPath::parse(&image.path).ok().as_ref() == Some(key))
    };
    let places: Vec<(&HostOutcome, ImageKind, &ImageOutcome)> = report
        .hosts
        .iter()
        .flat_map(|host| {
            [
                (ImageKind::Module, &host.modules),
                (ImageKind::Filter, &host.filters),
                (ImageKind::Extension, &host.extensions),
            ]
            .into_iter()
            .flat_map(move |(kind, images)| images.iter().map(move |image| (host, kind, image)))
        })
        .filter(|(host, kind, image)| {
            names(image)
                && pin.kind.is_none_or(|pinned| pinned == *kind)
                && pin.process.is_none_or(|pinned| pinned == host.process)
        })
        .collect();
    if places.is_empty() {
        let mut what = format!("image `{key}`");
        if let Some(kind) = pin.kind {
            what.push_str(&format!(" as {} {kind}", article(kind)));
        }
        if let Some(process) = pin.process {
            what.push_str(&format!(" in {process}"));
        }
        found.push(Difference {
            what,
            expected: "a process that tried it".to_owned(),
            observed: "none".to_owned(),
        });
        return;
    }
    for (host, kind, image) in places {
        let pool = host.app_pool.as_ref().map(|pool| format!(" (pool {pool})")).unwrap_or_default();
        let place = format!(
            "image `{key}` as {} {kind} in {} {}{pool}",
            article(kind),
            host.bits,
            host.process
        );
        let mut compare = |field: &str, expected: String, observed: String| {
            if expected != observed {
                found.push(Difference { what: format!("{place}: {field}"), expected, observed });
            }
        };
        if let Some(loaded) = pin.loaded {
            compare("loaded", word(&loaded), word(&image.loaded));
        }
        if let Some(error) = pin.win32_error {
            compare("win32_error", word(&error), word(&image.win32_error.map(|e| e.code())));
        }
        if let Some(bits) = pin.bits {
            compare("bits", word(&bits), word(&host.bits));
        }
        if let Some(cause) = pin.cause {
            compare("cause", word(&cause), word(&image.cause));
        }
        if let Some(stage) = pin.stage {
            compare("stage", word(&stage), word(&image.stage));
        }
    }
}

pub(super) fn article(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Extension => "an",
        ImageKind::Filter | ImageKind::Module => "a",
    }
}

/// A pinned or observed value as a person reads it: `none` for null, strings unquoted.
pub(super) fn word<T: Serialize>(value: &T) -> String {
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
