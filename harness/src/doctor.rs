//! `isapi-harness doctor`: what this machine lacks to run the harness, and the exact commands
//! that install it.
//!
//! [`observe`] looks (the only I/O here: files, one `wine64 --version`, one trial sandbox);
//! [`findings`] turns what it saw into one finding per piece, each with the commands that fix
//! it, and is tested in milliseconds with made-up observations.

use std::path::PathBuf;

/// What [`observe`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// True on Windows, where only the built files matter.
    pub windows: bool,
    pub wine: crate::machine::WinePieces,
    /// What `wine64 --version` printed (`wine-8.0 (Debian 8.0~repack-4)`), if it ran.
    pub wine_version: Option<String>,
    /// The sandbox: bwrap's path, or why it cannot make one (not installed, namespaces refused).
    pub sandbox: Result<PathBuf, String>,
    /// Where the host programs and filters are, or why they cannot be found.
    pub artifacts: Result<PathBuf, String>,
    /// How a sandboxed run would keep its default limits (memory, processes, disk), or why
    /// it could not; None on Windows.
    pub limits: Option<crate::machine::limits::LimitsReport>,
    /// Each row of Wine's known differences measured on this Wine (see `rule_rows`), or why
    /// they could not be; None where nothing was measured (Windows, or no Wine or built files).
    pub rows: Option<Result<Vec<crate::rule_rows::RowMeasurement>, String>>,
}

/// One piece and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub piece: &'static str,
    /// What was found, or what is wrong.
    pub detail: String,
    /// Empty when the piece is in place; otherwise the commands to run, in order.
    pub fix: Vec<String>,
}

impl Finding {
    pub fn ok(&self) -> bool {
        self.fix.is_empty()
    }
}

/// The oldest Wine the harness is tested with (its WoW64 mode runs the 32-bit hosts).
pub const WINE_MAJOR: u32 = 8;

pub fn findings(seen: &Observed) -> Vec<Finding> {
    let mut found = Vec::new();
    if !seen.windows {
        found.push(wine_finding(seen));
        found.push(loader_rules_finding(seen));
        found.push(i386_finding(seen));
        found.push(sandbox_finding(seen));
        if let Some(limits) = &seen.limits {
            found.push(limits_finding(limits));
        }
    }
    found.push(match &seen.artifacts {
        Ok(root) => Finding {
            piece: "host programs and mock filters",
            detail: format!("in `{}`", root.display()),
            fix: Vec::new(),
        },
        Err(why) => Finding {
            piece: "host programs and mock filters",
            detail: why.clone(),
            fix: vec![
                "cargo xtask build    # in a checkout of isapi-harness; or use a folder from `cargo xtask dist`".to_owned(),
            ],
        },
    });
    found
}

fn wine_finding(seen: &Observed) -> Finding {
    let piece = "Wine 8 (64-bit)";
    let install = vec!["sudo apt-get install -y --no-install-recommends wine64".to_owned()];
    let Some(wine64) = &seen.wine.wine64 else {
        return Finding {
            piece,
            detail: "no wine64 (looked for ISAPI_HARNESS_WINE, /usr/lib/wine/wine64, wine64 and wine on PATH)".to_owned(),
            fix: install,
        };
    };
    if seen.wine.wineserver.is_none() {
        return Finding {
            piece,
            detail: format!("no wineserver beside `{}`", wine64.display()),
            fix: install,
        };
    }
    match seen.wine_version.as_deref().map(|version| (version, crate::machine::wine_major_of(version))) {
        Some((version, Some(major))) if major >= WINE_MAJOR => {
            Finding { piece, detail: format!("{version} at `{}`", wine64.display()), fix: Vec::new() }
        }
        Some((version, _)) => Finding {
            piece,
            detail: format!("`{}` is {version}; the harness needs Wine {WINE_MAJOR} or later", wine64.display()),
            fix: vec![
                "sudo apt-get update".to_owned(),
                "sudo apt-get install -y --no-install-recommends wine64    # Debian 12 and Ubuntu 24.04 have Wine 8 or later".to_owned(),
            ],
        },
        None => Finding {
            piece,
            detail: format!("`{} --version` did not run", wine64.display()),
            fix: install,
        },
    }
}

/// Whether the rows of Wine's known differences from Windows's loader were measured on this
/// Wine: on another, a row may no longer hold. The answers still follow Windows's, marked
/// `rule_verified_on_this_wine: false` where a row is applied, so this is no fault to fix.
fn loader_rules_finding(seen: &Observed) -> Finding {
    let piece = "Wine's known differences from Windows's loader";
    let measured = crate::windows_loader::divergence::MEASURED_ON_WINE;
    let rows = crate::windows_loader::divergence::RULES.len();
    match &seen.rows {
        Some(Ok(measurements)) => {
            let differing: Vec<String> = measurements
                .iter()
                .filter(|row| !row.holds())
                .map(|row| {
                    let answered = match row.answered {
                        Ok(crate::windows_loader::WineAnswer::Loaded) => "loaded".to_owned(),
                        Ok(crate::windows_loader::WineAnswer::Refused(error)) => {
                            format!("refused with {}", error.code())
                        }
                        Err(end) => format!("gave no answer (the host {})", end.name()),
                    };
                    format!("{} in a {} host {answered}", row.rule.id, row.bits)
                })
                .collect();
            let probed = crate::windows_loader::divergence::RULES
                .iter()
                .filter(|rule| rule.probe.is_some())
                .count();
            let detail = if differing.is_empty() {
                format!(
                    "measured here: each of the {} crafted cases ({probed} of the {rows} rows, in 32- and 64-bit hosts) answered as its row says",
                    measurements.len()
                )
            } else {
                format!(
                    "measured here: {} of {} crafted cases answer otherwise than their row ({}); this Wine is not the one the rows describe (Wine {measured}), so where such a row applies its correction may be wrong",
                    differing.len(),
                    measurements.len(),
                    differing.join("; ")
                )
            };
            return Finding { piece, detail, fix: Vec::new() };
        }
        Some(Err(why)) => {
            let detail = format!("the rows could not be measured here: {why}");
            return Finding { piece, detail, fix: Vec::new() };
        }
        None => {}
    }
    let detail = match seen.wine_version.as_deref().and_then(crate::machine::wine_major_of) {
        Some(major) if major == measured => {
            format!("the {rows} rows were measured on Wine {measured}, this machine's")
        }
        Some(major) => format!(
            "the {rows} rows were measured on Wine {measured}; this machine has Wine {major}, where a row may no longer hold (`cargo test -p tests --test it dependencies` measures each); where one is applied, the run says rule_verified_on_this_wine: false"
        ),
        None => format!("the {rows} rows were measured on Wine {measured}; no Wine answered here"),
    };
    Finding { piece, detail, fix: Vec::new() }
}

fn i386_finding(seen: &Observed) -> Finding {
    let piece = "Wine's 32-bit modules (WoW64)";
    // With no Wine at all, Debian's is what the commands above install, and it lacks them.
    let modules = if seen.wine.wine64.is_none() { Some(false) } else { seen.wine.i386_modules };
    match modules {
        Some(true) => Finding {
            piece,
            detail: format!("`{}` is there", crate::machine::DEBIAN_I386_MODULE),
            fix: Vec::new(),
        },
        Some(false) => Finding {
            piece,
            detail: format!(
                "`{}` is missing: 32-bit hosts cannot start",
                crate::machine::DEBIAN_I386_MODULE
            ),
            fix: vec![
                "sudo dpkg --add-architecture i386 && sudo apt-get update".to_owned(),
                "apt-get download libwine:i386".to_owned(),
                "dpkg-deb -x libwine_*_i386.deb libwine-i386".to_owned(),
                "sudo cp -rn libwine-i386/usr/lib/i386-linux-gnu/wine/i386-windows/. /usr/lib/x86_64-linux-gnu/wine/i386-windows/".to_owned(),
            ],
        },
        // A Wine outside Debian's layout (ISAPI_HARNESS_WINE) brings its own; only a run shows.
        None => Finding {
            piece,
            detail: "not checked: this Wine is not Debian's; a 32-bit host's start will show".to_owned(),
            fix: Vec::new(),
        },
    }
}

fn sandbox_finding(seen: &Observed) -> Finding {
    let piece = "bubblewrap and user namespaces";
    match &seen.sandbox {
        Ok(bwrap) => Finding {
            piece,
            detail: format!("`{}` makes the sandbox", bwrap.display()),
            fix: Vec::new(),
        },
        Err(why) if why.starts_with("bubblewrap is not installed") => Finding {
            piece,
            detail: why.clone(),
            fix: vec!["sudo apt-get install -y --no-install-recommends bubblewrap".to_owned()],
        },
        Err(why) => Finding {
            piece,
            detail: why.clone(),
            fix: vec!["sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0".to_owned()],
        },
    }
}

fn limits_finding(limits: &crate::machine::limits::LimitsReport) -> Finding {
    let piece = "limits of a sandboxed run";
    let each =
        [("memory", &limits.memory), ("processes", &limits.processes), ("disk", &limits.disk)];
    let detail = each
        .iter()
        .map(|(name, state)| match (&state.not_set, state.by.is_empty()) {
            (Some(why), _) => format!("{name}: cannot be set: {why}"),
            (None, true) => format!("{name}: none asked"),
            (None, false) => format!("{name}: {}", state.by.join(" and ")),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let unset = each.iter().any(|(_, state)| state.not_set.is_some());
    Finding {
        piece,
        detail,
        fix: if unset {
            vec![
                "run the harness as root (cgroup v1's memory and pids hierarchies are root's), or on a machine whose cgroup v2 tree delegates the memory and pids controllers to your user".to_owned(),
            ]
        } else {
            Vec::new()
        },
    }
}

/// Looks at this machine.
pub fn observe() -> Observed {
    let windows = cfg!(windows);
    let wine = crate::machine::wine_pieces();
    let scratch = std::env::temp_dir();
    let wine_version = if windows { None } else { crate::machine::wine_version() };
    let sandbox = if windows {
        Err("not used on Windows".to_owned())
    } else {
        crate::machine::probe_sandbox(&scratch)
    };
    let artifacts = crate::artifacts::Artifacts::locate()
        .map(|found| found.root().to_owned())
        .map_err(|error| format!("{error:#}"));
    // The run's cgroups are made and removed again: the only way to know they can be.
    let limits = (!windows).then(|| {
        let limits = crate::machine::limits::RunLimits::set_up(
            crate::machine::limits::Requested::default(),
            sandbox.is_ok(),
        );
        limits.report.clone().expect("set_up always reports")
    });
    let rows = (!windows && wine.wine64.is_some() && artifacts.is_ok()).then(measure_rows);
    Observed { windows, wine, wine_version, sandbox, artifacts, limits, rows }
}

/// Opens this machine and measures each row of Wine's known differences on it.
fn measure_rows() -> Result<Vec<crate::rule_rows::RowMeasurement>, String> {
    crate::machine::Machine::open(crate::machine::BackendChoice::Auto)
        .and_then(|machine| crate::rule_rows::measure(&machine))
        .map_err(|error| format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::WinePieces;
    use crate::machine::limits::{LimitState, LimitsReport};

    fn complete() -> Observed {
        Observed {
            windows: false,
            wine: WinePieces {
                wine64: Some("/usr/lib/wine/wine64".into()),
                wineserver: Some("/usr/lib/wine/wineserver".into()),
                i386_modules: Some(true),
            },
            wine_version: Some("wine-8.0 (Debian 8.0~repack-4)".to_owned()),
            sandbox: Ok("/usr/bin/bwrap".into()),
            artifacts: Ok("/opt/isapi-harness".into()),
            limits: Some(LimitsReport {
                memory: kept(2 << 30, "cgroup v1 memory"),
                processes: kept(256, "cgroup v1 pids"),
                disk: kept(1 << 30, "the size of the run's tmpfs"),
            }),
            rows: None,
        }
    }

    fn kept(limit: u64, by: &str) -> LimitState {
        LimitState { limit: Some(limit), by: vec![by.to_owned()], not_set: None }
    }

    fn fixes(seen: &Observed) -> Vec<(&'static str, Vec<String>)> {
        findings(seen).into_iter().filter(|f| !f.ok()).map(|f| (f.piece, f.fix)).collect()
    }

    #[test]
    fn a_complete_machine_needs_nothing() {
        assert_eq!(fixes(&complete()), vec![]);
        assert_eq!(findings(&complete()).len(), 6);
    }

    #[test]
    fn another_wine_is_told_its_rows_were_measured_on_wine_8() {
        let rows = |seen: &Observed| {
            findings(seen)
                .into_iter()
                .find(|f| f.piece.starts_with("Wine's known differences"))
                .map(|f| f.detail)
                .unwrap_or_default()
        };
        assert!(rows(&complete()).contains("measured on Wine 8, this machine's"));
        let mut newer = complete();
        newer.wine_version = Some("wine-9.0 (Ubuntu 9.0~repack-4build3)".to_owned());
        let detail = rows(&newer);
        assert!(
            detail.contains("this machine has Wine 9")
                && detail.contains("rule_verified_on_this_wine: false"),
            "{detail}"
        );
    }

    #[test]
    fn rows_measured_here_are_said_and_one_that_differs_is_named() {
        use crate::arch::Bits;
        use crate::rule_rows::RowMeasurement;
        use crate::vocab::{HostEnd, Win32Error};
        use crate::windows_loader::WineAnswer;
        use crate::windows_loader::divergence::{DEPENDENCY_WRONG_BITNESS, MISSING_IMPORT};
        let rows = |seen: &Observed| {
            let found = findings(seen);
            let finding = found.iter().find(|f| f.piece.starts_with("Wine's known differences"));
            let finding = finding.expect("the rows' finding").clone();
            assert!(finding.ok(), "a differing row is no piece to install: {finding:?}");
            finding.detail
        };
        let holding = vec![
            RowMeasurement {
                rule: MISSING_IMPORT,
                bits: Bits::B32,
                answered: Ok(WineAnswer::Loaded),
            },
            RowMeasurement {
                rule: DEPENDENCY_WRONG_BITNESS,
                bits: Bits::B64,
                answered: Ok(WineAnswer::Refused(Win32Error::MOD_NOT_FOUND)),
            },
        ];
        let mut seen = complete();
        seen.rows = Some(Ok(holding.clone()));
        assert!(rows(&seen).contains("each of the 2 crafted cases"), "{}", rows(&seen));

        let mut differing = holding;
        differing[1].answered = Ok(WineAnswer::Refused(Win32Error::BAD_EXE_FORMAT));
        differing.push(RowMeasurement {
            rule: MISSING_IMPORT,
            bits: Bits::B64,
            answered: Err(HostEnd::TimedOut),
        });
        seen.rows = Some(Ok(differing));
        let detail = rows(&seen);
        assert!(detail.contains("2 of 3 crafted cases answer otherwise"), "{detail}");
        assert!(
            detail.contains("dependency_wrong_bitness in a 64-bit host refused with 193"),
            "{detail}"
        );
        assert!(detail.contains("missing_import in a 64-bit host gave no answer"), "{detail}");
    }

    #[test]
    fn a_limit_that_cannot_be_set_is_named_with_the_way_to_set_it() {
        let mut seen = complete();
        let limits = seen.limits.as_mut().unwrap();
        limits.memory.by.clear();
        limits.memory.not_set =
            Some("this machine has no cgroup hierarchy with the `memory` controller".into());
        let found = findings(&seen);
        let finding = found.iter().find(|f| f.piece == "limits of a sandboxed run").unwrap();
        assert!(finding.detail.contains("memory: cannot be set"), "{}", finding.detail);
        assert!(fixes_of(&seen).contains("cgroup"), "{}", fixes_of(&seen));
    }

    #[test]
    fn each_missing_piece_comes_with_its_commands() {
        let mut seen = complete();
        seen.wine.i386_modules = Some(false);
        seen.sandbox = Err("bubblewrap is not installed (no `bwrap` on PATH)".to_owned());
        let fixes = fixes(&seen);
        assert_eq!(fixes.len(), 2, "{fixes:?}");
        assert!(fixes[0].1.iter().any(|line| line.contains("apt-get download libwine:i386")));
        assert_eq!(fixes[1].1, ["sudo apt-get install -y --no-install-recommends bubblewrap"]);

        let mut refused = complete();
        refused.sandbox = Err("bubblewrap cannot create the user and PID namespaces".to_owned());
        assert!(fixes_of(&refused).contains("apparmor_restrict_unprivileged_userns=0"));
    }

    fn fixes_of(seen: &Observed) -> String {
        fixes(seen).into_iter().flat_map(|(_, fix)| fix).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn wine_must_be_there_and_at_least_8() {
        let mut old = complete();
        old.wine_version = Some("wine-6.0.3 (Debian 6.0.3~repack-1)".to_owned());
        assert!(fixes_of(&old).contains("apt-get install -y --no-install-recommends wine64"));
        let mut newer = complete();
        newer.wine_version = Some("wine-10.0".to_owned());
        assert!(fixes(&newer).is_empty());
        let mut none = complete();
        none.wine = WinePieces { wine64: None, wineserver: None, i386_modules: None };
        assert!(fixes_of(&none).contains("wine64"));
        assert!(fixes_of(&none).contains("libwine:i386"), "no Wine: its 32-bit modules too");
        assert_eq!(crate::machine::wine_major_of("wine-8.0 (Debian 8.0~repack-4)"), Some(8));
        assert_eq!(crate::machine::wine_major_of("not wine"), None);
    }

    #[test]
    fn windows_needs_only_the_built_files() {
        let mut seen = complete();
        seen.windows = true;
        seen.wine = WinePieces { wine64: None, wineserver: None, i386_modules: None };
        seen.sandbox = Err("not used on Windows".to_owned());
        seen.limits = None;
        assert!(fixes(&seen).is_empty());
        seen.artifacts = Err("the 64-bit host program is not built".to_owned());
        assert!(fixes_of(&seen).contains("cargo xtask build"));
    }
}
