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

/// IIS looks the exports up by their plain names; every mock source needs a .def that lists
/// them, and every variant's switch must exist in the source.
#[rstest::rstest]
#[case::filters("mock-filters", "filter", &["GetFilterVersion", "HttpFilterProc", "TerminateFilter"])]
#[case::extensions(
    "mock-extensions",
    "extension",
    &["GetExtensionVersion", "HttpExtensionProc", "TerminateExtension"]
)]
fn mock_images_export_the_isapi_entry_points_and_variants_exist(
    #[case] folder: &str,
    #[case] stem: &str,
    #[case] exports: &[&str],
) {
    let dir = root().join(folder);
    let def = std::fs::read_to_string(dir.join(format!("{stem}.def"))).unwrap();
    for export in exports {
        assert!(def.lines().any(|line| line.trim() == *export), "{folder}/{stem}.def: `{export}`");
    }
    // A variant's switch is used in the family's source or in the header both share.
    let source = std::fs::read_to_string(dir.join(format!("{stem}.c"))).unwrap()
        + &std::fs::read_to_string(root().join("mock-filters/mock_image.h")).unwrap();
    let variants = std::fs::read_to_string(dir.join("variants.txt")).unwrap();
    let mut names = Vec::new();
    for (line_idx, line) in variants
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty())
    {
        let name = line.split_whitespace().next().unwrap();
        names.push(name);
        // The harness knows every variant the build makes, in the right family.
        let mock = harness::mock::Mock::named(name).unwrap_or_else(|| {
            panic!(
                "{folder}/variants.txt:{}: `{name}` is missing from harness::mock::Mock::ALL",
                line_idx + 1
            )
        });
        assert_eq!(
            matches!(mock, harness::mock::Mock::Extension(_)),
            stem == "extension",
            "{folder}/variants.txt:{}: `{name}` is in the other family in harness::mock",
            line_idx + 1
        );
        let defines = line.split_whitespace().nth(2).unwrap_or("-");
        for define in defines.split(',').filter(|define| *define != "-") {
            let name = define.split('=').next().unwrap();
            assert!(
                source.contains(&format!("#ifdef {name}")),
                "{folder}/variants.txt:{}: `{name}` is used neither in {stem}.c nor in mock_image.h",
                line_idx + 1
            );
        }
    }
    assert!(names.contains(&stem), "{folder}/variants.txt lists the well-behaved `{stem}`");
    // And every variant the harness names is one the build makes.
    for (mock, name) in harness::mock::Mock::ALL {
        let this_family = match mock {
            harness::mock::Mock::Filter(_) => stem == "filter",
            harness::mock::Mock::Extension(_) => stem == "extension",
            harness::mock::Mock::Module => false,
        };
        assert!(
            !this_family || names.contains(&name),
            "harness::mock::Mock::ALL names `{name}`, which {folder}/variants.txt does not list"
        );
    }
}

/// The folders `generate.py` owns hold exactly what it writes: 36 matrix cases (OS × three
/// isolation-mode settings × three Enable32BitAppOnWin64 placements × two filter
/// architectures), 10 quirks and 14 extension cases, each a metabase and an expectation, and 40
/// IIS 7+ cases (pool bitness × filter architecture × bitness precondition, and module
/// architecture), each an applicationHost.config and an expectation.
#[test]
fn the_generated_scenarios_are_what_generate_py_writes() {
    let fresh = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let status = harness::process::run_to_end(
        &harness::process::Launch {
            program: "python3".into(),
            args: vec![
                root().join("tests/scenarios/generate.py").into(),
                fresh.path().as_os_str().to_owned(),
            ],
            env: vec![],
        },
        std::time::Duration::from_secs(60),
        scratch.path(),
    );
    status.unwrap_or_else(|error| panic!("tests/scenarios/generate.py: {error:#}"));
    for (folder, cases) in [("matrix", 36), ("quirks", 10), ("extensions", 14), ("iis7", 40)] {
        let listing = |dir: &Path| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let generated = fresh.path().join(folder);
        let kept = root().join("tests/scenarios").join(folder);
        let names = listing(&generated);
        assert_eq!(names.len(), 2 * cases, "generate.py writes {cases} cases in {folder}/");
        assert_eq!(
            listing(&kept),
            names,
            "tests/scenarios/{folder}: run tests/scenarios/generate.py"
        );
        for name in names {
            assert!(
                std::fs::read(generated.join(&name)).unwrap()
                    == std::fs::read(kept.join(&name)).unwrap(),
                "tests/scenarios/{folder}/{name} differs from what generate.py writes; edit generate.py and run it"
            );
        }
    }
}

/// A DLL inside the host could print what looks like a report line; only lines with the
/// protocol's marker are read, and both sides must spell it the same.
#[test]
fn the_host_and_the_harness_speak_the_same_protocol() {
    let host = std::fs::read_to_string(root().join("harness/host/src/windows.rs")).unwrap();
    let marker = format!("const MARKER: &str = {:?};", harness::host::MARKER);
    assert!(host.contains(&marker), "harness/host/src/windows.rs: define `{marker}`");
}

/// The harness's modules form layers, at every level: in each folder of `harness/src`, no file
/// or subfolder reaches, through `crate::` or `super::` paths, a sibling that reaches back to
/// it. A folder's `mod.rs` is the folder itself (it declares and gathers its children), so it
/// is not a sibling; `cli` sits on top and is left out.
#[test]
fn the_harness_modules_have_no_import_circles() {
    let src = root().join("harness/src");
    let mut circles = Vec::new();
    check_folder_for_circles(&src, "", &mut circles);
    assert!(
        circles.is_empty(),
        "harness/src: these modules import each other in a circle: {circles:?}"
    );
}

/// Checks the siblings in `folder` (whose module path is `module`), then each subfolder.
fn check_folder_for_circles(folder: &Path, module: &str, circles: &mut Vec<String>) {
    let mut siblings: Vec<(String, String)> = Vec::new();
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "main", "cli", "mod", "tests"].contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            files_with_extension(&path, "rs", &mut files);
            let inner = if module.is_empty() { name.clone() } else { format!("{module}::{name}") };
            check_folder_for_circles(&path, &inner, circles);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        } else {
            continue;
        }
        // A module's own tests may reach anything.
        files.retain(|file| file.file_name().is_none_or(|file_name| file_name != "tests.rs"));
        let text: String =
            files.iter().map(|file| std::fs::read_to_string(file).unwrap()).collect();
        siblings.push((name, text));
    }
    let prefix =
        if module.is_empty() { "crate::".to_owned() } else { format!("crate::{module}::") };
    let uses = |text: &str, other: &str| {
        [prefix.as_str(), "super::"].iter().any(|path| {
            text.contains(&format!("{path}{other}::"))
                || text.contains(&format!("{path}{other};"))
                || text.contains(&format!("{path}{{{other}"))
        })
    };
    let names: Vec<&str> = siblings.iter().map(|(name, _)| name.as_str()).collect();
    let edges: Vec<(usize, usize)> = siblings
        .iter()
        .enumerate()
        .flat_map(|(from, (name, text))| {
            names
                .iter()
                .enumerate()
                .filter(move |(_, other)| *other != name && uses(text, other))
                .map(move |(to, _)| (from, to))
        })
        .collect();
    // Repeatedly take away modules that use nothing left; whatever remains is in a circle.
    let mut left: Vec<usize> = (0..names.len()).collect();
    loop {
        let leaves: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&m| !edges.iter().any(|&(from, to)| from == m && left.contains(&to)))
            .collect();
        if leaves.is_empty() {
            break;
        }
        left.retain(|m| !leaves.contains(m));
    }
    for &m in &left {
        let targets: Vec<&str> = edges
            .iter()
            .filter(|&&(from, to)| from == m && left.contains(&to))
            .map(|&(_, to)| names[to])
            .collect();
        let here = if module.is_empty() { String::new() } else { format!("{module}::") };
        circles.push(format!("{here}{} -> {}", names[m], targets.join(", ")));
    }
}

/// A source file a newcomer can hold in their head: none over 800 lines. Test files (`tests.rs`
/// and the suite under `tests/`) are exempt, since a case per function reads well at any length.
#[test]
fn no_source_file_is_over_800_lines() {
    let mut files = Vec::new();
    for dir in ["harness", "xtask"] {
        files_with_extension(&root().join(dir), "rs", &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter(|file| file.file_name().is_none_or(|name| name != "tests.rs"))
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > 800).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern, as iis/iis6/ is split: {long:?}");
}

/// The configuration's kind picks the server generation in one place, `iis::by_generation` (and
/// the checked start's model beside it); `scenario.rs`, which tells the two formats apart by
/// content, is the other file that may name both. A new generation is then one arm there and
/// one file per layer.
#[test]
fn the_configuration_kind_is_matched_in_one_place() {
    let src = root().join("harness/src");
    let mut files = Vec::new();
    files_with_extension(&src, "rs", &mut files);
    let allowed = [src.join("iis/mod.rs"), src.join("scenario.rs")];
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| !allowed.contains(file))
        .filter(|file| file.file_name().is_none_or(|name| name != "tests.rs"))
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.contains("Configuration::Metabase") || text.contains("Configuration::Apphost")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files match on the configuration's kind; go through `iis::by_generation`: {offenders:?}"
    );
}

#[test]
fn every_scenario_has_its_metabase() {
    let mut files = Vec::new();
    files_with_extension(&root().join("tests/scenarios"), "json", &mut files);
    for json in files {
        assert!(
            json.with_extension("xml").is_file() || json.with_extension("config").is_file(),
            "{}: add the metabase (.xml) or applicationHost.config (.config) beside it",
            json.display()
        );
    }
}

/// Words are made under `harness/src/report/` only; a subcommand in `harness/src/cli/` gets its
/// lines from a `report::` function and prints them. Three things would make words in a
/// subcommand, and each fails here:
/// - a print macro (`println!`, `eprintln!`, `print!`, `eprint!`, `write!`, `writeln!`) whose
///   format string holds anything but placeholders (`println!("{line}")` prints; `println!("ok
///   {piece}")` writes);
/// - `format!` or `format_args!` outside an error (a line with `anyhow!`, `bail!`, `context(` or
///   `map_err(`): errors name their object and cause where they arise, as everywhere else;
/// - a timeline line built by hand (`Step {`, `StepKind::`, `Printer::line`).
///
/// The hidden `bench` (`bench.rs`, `parse_bench.rs`) is left out: its figures are for whoever
/// tunes the harness. A module's `#[cfg(test)]` part is left out too.
#[test]
fn the_command_line_prints_what_report_words() {
    let cli = root().join("harness/src/cli");
    let mut files = Vec::new();
    files_with_extension(&cli, "rs", &mut files);
    let mut offences = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "bench.rs" || name == "parse_bench.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (line_idx, line) in code.lines().enumerate() {
            let at = format!("harness/src/cli/{name}:{}", line_idx + 1);
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for made in ["Step {", "StepKind::", ".line("] {
                if line.contains(made) {
                    offences.push(format!("{at}: `{made}` builds a line; take it from report/"));
                }
            }
            let error = ["anyhow!(", "bail!(", "context(", "map_err("]
                .iter()
                .any(|marker| line.contains(marker));
            for made in ["format!(", "format_args!("] {
                if line.contains(made) && !error {
                    offences.push(format!("{at}: `{made}` makes words; move them to report/"));
                }
            }
        }
        for printer in ["println!(", "eprintln!(", "print!(", "eprint!(", "writeln!(", "write!("] {
            for (offset, _) in code.match_indices(printer) {
                // `eprintln!(` also contains `println!(`: count each macro once, by its name.
                let before = code[..offset].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &code[offset + printer.len()..];
                let Some(literal) = first_string_literal(rest) else { continue };
                let words = strip_placeholders(&literal);
                if !words.trim().is_empty() {
                    let line = code[..offset].lines().count();
                    offences.push(format!(
                        "harness/src/cli/{name}:{line}: `{printer}\"{literal}\"` writes words of its own ({words:?}); print a report/ function's line"
                    ));
                }
            }
        }
    }
    assert!(offences.is_empty(), "words made outside report/:\n{}", offences.join("\n"));
}

/// The first `"..."` after a macro's opening parenthesis, up to its closing one; None when the
/// macro has no literal (`writeln!(out)`).
fn first_string_literal(rest: &str) -> Option<String> {
    let mut depth = 1;
    let mut chars = rest.char_indices();
    while let Some((_, c)) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            '"' => {
                let mut literal = String::new();
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (c, escaped) {
                        ('"', false) => return Some(literal),
                        ('\\', false) => escaped = true,
                        _ => {
                            literal.push(c);
                            escaped = false;
                        }
                    }
                }
                return Some(literal);
            }
            _ => {}
        }
    }
    None
}

/// A format string without its `{...}` placeholders: what it writes of its own.
fn strip_placeholders(format: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in format.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}
