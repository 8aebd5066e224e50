//! How a run is held against what a scenario expects: each fact the expectation pins (the
//! first filter's, every named image's at every place it was loaded, each request's) against
//! the same fact read off the report. The facts' types and their words are in
//! `report::matrix`.

use super::*;
use crate::report::matrix::{
    image_fact, image_not_tried, image_place, request_fact, requests_answered, word,
};

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
            compare(requests_answered(), word(&pinned.len()), word(&seen.len()));
        }
        for (number, (pin, got)) in pinned.iter().zip(&seen).enumerate() {
            let what = |field: &str| request_fact(number + 1, &pin.url, field);
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
        found.push(image_not_tried(key, pin.kind, pin.process));
        return;
    }
    for (host, kind, image) in places {
        let place = image_place(key, kind, host.bits, host.process, host.app_pool.as_deref());
        let mut compare = |field: &str, expected: String, observed: String| {
            if expected != observed {
                found.push(Difference { what: image_fact(&place, field), expected, observed });
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
