//! Each row of `windows_loader::divergence` measured on this machine's Wine: the row's crafted
//! filter loaded by a real host of each bitness, with what the row places beside it, and the
//! answer set against the one the row describes. A row that no longer holds means this Wine
//! answers differently from the one the rows were measured on; `doctor` says which.
//!
//! `tests/it/dependencies.rs` measures the same rows case by case, with more detail (which
//! DllMain ran); this is the one a user's machine runs.

use std::time::Duration;

use crate::arch::Bits;
use crate::host::{HostPlan, PlannedImage};
use crate::machine::{Content, Layout, Machine, WinPath};
use crate::vocab::{HostEnd, ImageKind, ProcessName};
use crate::windows_loader::divergence::{Beside, Probe, RULES, Rule, WineAnswer};

/// One row, measured in one bitness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowMeasurement {
    pub rule: Rule,
    pub bits: Bits,
    /// What this Wine answered, or how the host ended without answering.
    pub answered: Result<WineAnswer, HostEnd>,
}

impl RowMeasurement {
    /// Whether this Wine answered as the row says.
    pub fn holds(&self) -> bool {
        let expected = self.rule.probe.map(|probe| probe.wine_answers);
        self.answered.as_ref().is_ok_and(|answer| Some(*answer) == expected)
    }
}

/// Measures every row that has a probe, in a 32- and a 64-bit host. Only on the Wine backend
/// means anything: on Windows the loader is Windows's own.
pub fn measure(machine: &Machine) -> anyhow::Result<Vec<RowMeasurement>> {
    let mut measured = Vec::new();
    for rule in RULES {
        let Some(probe) = rule.probe else { continue };
        for bits in [Bits::B32, Bits::B64] {
            let answered = measure_one(machine, rule.id, &probe, bits)?;
            measured.push(RowMeasurement { rule, bits, answered });
        }
    }
    Ok(measured)
}

/// A missing fixture is the build's fault (an error); a host that reports no load answer is
/// the row's measurement failing (kept, with how the host ended).
fn measure_one(
    machine: &Machine,
    id: &str,
    probe: &Probe,
    bits: Bits,
) -> anyhow::Result<Result<WineAnswer, HostEnd>> {
    let arch = bits.host_arch();
    let artifacts = machine.artifacts();
    let folder = format!(r"C:\isapi-harness\rows\{id}-{}", bits.number());
    let filter = WinPath::parse(&format!(r"{folder}\{}", probe.filter))?;
    let mut layout = Layout::default();
    layout.set(filter.clone(), Content::Copy(artifacts.dependency_fixture(arch, probe.filter)?));
    for (name, beside) in probe.beside {
        let source = match beside {
            Beside::Fixture(fixture) => artifacts.dependency_fixture(arch, fixture)?,
            Beside::OtherArch(fixture) => {
                artifacts.dependency_fixture(bits.other().host_arch(), fixture)?
            }
            Beside::NotAnImage => artifacts.odd_image("text")?,
        };
        layout.set(WinPath::parse(&format!(r"{folder}\{name}"))?, Content::Copy(source));
    }
    let _guard = machine.acquire(&layout)?;
    let plan = HostPlan {
        bits,
        process: ProcessName::W3wp,
        probes: Vec::new(),
        images: vec![PlannedImage { kind: ImageKind::Filter, path: filter }],
        stop_at_first_failure: false,
        // The loader's own answer, nothing the harness decides before it.
        probe_before_load: false,
        request: false,
        timeout: Duration::from_secs(30),
    };
    let run = machine.run_host(&plan)?;
    Ok(match run.images.first().and_then(|image| image.load) {
        Some(Ok(())) => Ok(WineAnswer::Loaded),
        Some(Err(error)) => Ok(WineAnswer::Refused(error)),
        None => Err(run.end),
    })
}
