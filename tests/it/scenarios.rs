//! The regression matrix and the parsing quirks: every scenario file under `tests/scenarios/`
//! is one test, run for real and compared with its expected outcome.

use std::path::PathBuf;

use harness::matrix;
use rstest::rstest;

use crate::support::{machine, tests_dir};

#[rstest]
fn scenario(#[files("scenarios/**/*.json")] json_path: PathBuf) {
    let root = tests_dir().join("scenarios");
    let case = matrix::load_case(&root, &json_path).unwrap_or_else(|error| panic!("{error:#}"));
    let results = matrix::run(machine(), std::slice::from_ref(&case), 1, &|_, _| {})
        .unwrap_or_else(|error| panic!("{error:#}"));
    let result = &results[0];
    if !result.pass {
        let observed = matrix::Outcome::of(&result.observed, case.expected.events.is_some());
        let timeline: Vec<String> =
            result.observed.steps().into_iter().map(|step| step.text).collect();
        panic!(
            "scenario `{}`\nexpected: {:?}\nobserved: {observed:?}\ntimeline:\n  {}",
            case.name,
            case.expected,
            timeline.join("\n  ")
        );
    }
}
