//! Checks on the repository itself, so that docs, data and code keep their promises.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", dir.display()))
    {
        let path = entry.expect("a directory entry").path();
        if path
            .file_name()
            .is_some_and(|name| name == "target" || name.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|ext| ext == extension) {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let mut files = Vec::new();
    for dir in ["harness", "xtask", "tests"] {
        files_with_extension(&root().join(dir), "rs", &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{}:1: start the file with a `//!` comment saying what it is for",
            file.display()
        );
    }
}

#[test]
fn no_debugging_leftovers_or_disabled_tests() {
    let mut files = Vec::new();
    for dir in ["harness", "xtask", "tests"] {
        files_with_extension(&root().join(dir), "rs", &mut files);
    }
    // Spelled in pieces so that this file does not match itself.
    let banned = [
        concat!("dbg", "!("),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("#[", "ignore"),
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line_idx, line) in text.lines().enumerate() {
            for pattern in banned {
                assert!(
                    !line.contains(pattern),
                    "{}:{}: remove `{pattern}`",
                    file.display(),
                    line_idx + 1
                );
            }
        }
    }
}

#[test]
fn architecture_md_names_every_top_level_folder() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    for entry in std::fs::read_dir(root()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            assert!(
                architecture.contains(&format!("`{name}/`")),
                "ARCHITECTURE.md: add a heading for `{name}/`"
            );
        }
    }
}

/// IIS looks the exports up by their plain names; every filter source needs a .def that lists
/// them, and every variant's switch must exist in the source.
#[test]
fn mock_filters_export_the_isapi_entry_points_and_variants_exist() {
    let dir = root().join("mock-filters");
    let def = std::fs::read_to_string(dir.join("filter.def")).unwrap();
    for export in ["GetFilterVersion", "HttpFilterProc", "TerminateFilter"] {
        assert!(
            def.lines().any(|line| line.trim() == export),
            "mock-filters/filter.def: export `{export}`"
        );
    }
    let source = std::fs::read_to_string(dir.join("filter.c")).unwrap();
    let variants = std::fs::read_to_string(dir.join("variants.txt")).unwrap();
    for (line_idx, line) in variants
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty())
    {
        let defines = line.split_whitespace().nth(2).unwrap_or("-");
        for define in defines.split(',').filter(|define| *define != "-") {
            let name = define.split('=').next().unwrap();
            assert!(
                source.contains(&format!("#ifdef {name}")),
                "mock-filters/variants.txt:{}: `{name}` is not used in filter.c",
                line_idx + 1
            );
        }
    }
}

#[test]
fn every_scenario_has_its_metabase() {
    let mut files = Vec::new();
    files_with_extension(&root().join("tests/scenarios"), "json", &mut files);
    assert!(files.len() >= 45, "the scenarios are missing: run tests/scenarios/generate.py");
    for json in files {
        assert!(
            json.with_extension("xml").is_file(),
            "{}: add the metabase beside it",
            json.display()
        );
    }
}
