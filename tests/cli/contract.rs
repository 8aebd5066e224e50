//! The `--json` contract (README.md, "The JSON contract"): every command's output carries
//! `"schema_version": 1` and is valid against the schema kept in `schema/`. The tests of each
//! command that read its JSON read it through [`contract`], so every real output they see is
//! validated; the tests here are the ones no other test runs (doctor's, an empty shard's).

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::{harness, stderr};

/// The version every output of this contract carries.
const SCHEMA_VERSION: u64 = 1;

/// `command --json`'s output, checked against the contract: one JSON object, with the
/// contract's version, valid against `schema/<command>.json`.
pub(crate) fn contract(command: &str, output: &Output) -> Value {
    let report = super::json(output);
    assert_eq!(report["schema_version"], SCHEMA_VERSION, "{command} --json: {report:#}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../schema/{command}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|error| panic!("`{}` is no JSON: {error}", path.display()));
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|error| panic!("`{}` is no JSON Schema: {error}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{command} --json does not follow schema/{command}.json:\n{}",
        errors.join("\n")
    );
    report
}

/// `doctor --json` on this machine, which the suite's setup provisioned: every piece there.
#[test]
fn doctor_json_says_every_piece_is_here() {
    let output = harness(&["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = contract("doctor", &output);
    assert_eq!(report["ready"], true, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|finding| finding["ok"] == true && finding["fix"] == Value::Array(vec![]))
    );
    assert!(findings.iter().any(|finding| finding["piece"] == "host programs and mock filters"));
}

/// `doctor --json` where Wine and bubblewrap are missing: each missing piece with its commands,
/// `ready` false, exit 1.
#[cfg(unix)]
#[test]
#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
fn doctor_json_names_what_is_missing_with_its_commands() {
    let output = std::process::Command::new(super::harness_binary())
        .args(["doctor", "--json"])
        .env("ISAPI_HARNESS_WINE", "/nonexistent/wine64")
        .env("ISAPI_HARNESS_BWRAP", "/nonexistent/bwrap")
        .output()
        .expect("isapi-harness runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = contract("doctor", &output);
    assert_eq!(report["ready"], false);
    let wine = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["piece"] == "Wine 8 (64-bit)")
        .unwrap_or_else(|| panic!("no Wine finding: {report:#}"));
    assert_eq!(wine["ok"], false);
    assert_eq!(wine["fix"][0], "sudo apt-get install -y --no-install-recommends wine64");
}

/// A shard with nothing to run still prints a document of the contract, with no scenarios.
#[test]
fn an_empty_shard_prints_a_document_with_no_scenarios() {
    let output = harness(&["matrix", "--filter", "quirks/", "--shard", "1000/1000", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = contract("matrix", &output);
    assert_eq!(report["scenarios"], Value::Array(vec![]));
}

/// IIS 7+'s `start --json` (modules, pipeline modes): an x86 global module in a 64-bit pool.
#[test]
fn an_iis7_start_follows_the_contract() {
    let config = super::scenarios().join("iis7/module-x86-pool-64bit.config");
    let output = harness(&[
        "start",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--image",
        r"C:\Filters\amd64\mockfilter.dll=amd64",
        "--image",
        r"C:\Modules\x86\mockmodule.dll=x86:module",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = contract("start", &output);
    assert_eq!(report["server"], "iis7+");
    assert_eq!(report["isolation_mode"], Value::Null);
    let modules = report["hosts"][0]["modules"].as_array().unwrap();
    assert!(modules.iter().any(|module| module["win32_error"] == 193), "{report:#}");
}

/// The IIS 10 twin's replay, the other shape `repro --json` has.
#[test]
fn the_iis10_replay_follows_the_contract() {
    let output = harness(&["repro", "--iis", "10", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = contract("repro", &output);
    assert_eq!(report["reproduced"], true);
    assert_eq!(report["fix_64bit_pool"]["verified"], true);
}
