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
    let results = matrix::run(
        matrix::Machines::Borrowed(machine()),
        std::slice::from_ref(&case),
        1,
        &|_, _| {},
    );
    let result = &results[0];
    if !result.pass {
        let timeline: Vec<String> = result
            .observed
            .iter()
            .flat_map(|observed| observed.steps())
            .map(|step| step.text)
            .collect();
        panic!(
            "scenario `{}`: {}\ntimeline:\n  {}",
            case.name,
            result.failure().unwrap_or_default(),
            timeline.join("\n  ")
        );
    }
}

/// `matrix --shard I/N` over the repository's own suite: every scenario in exactly one shard,
/// the shards in name order, whatever N.
#[test]
fn shards_partition_the_real_suite() {
    let cases = matrix::load(&crate::support::tests_dir().join("scenarios"), &[])
        .unwrap_or_else(|error| panic!("{error:#}"));
    let names: Vec<String> = cases.iter().map(|case| case.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "the suite loads in name order");
    for count in [1, 2, 3, 4, 7, names.len(), names.len() + 3] {
        let mut seen: Vec<String> = Vec::new();
        for index in 1..=count {
            let shard = matrix::Shard { index, count };
            let part: Vec<String> = shard.select(names.clone());
            assert!(part.len() <= names.len().div_ceil(count), "shard {shard} is too big");
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, sorted, "{count} shards together are the whole suite, each case once");
    }
}
