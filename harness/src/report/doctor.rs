//! What `doctor` found, in words: one line per piece the harness needs, under each missing one
//! the commands that install it, and a last line saying whether anything is missing. The
//! findings themselves (what was looked at, what is wrong, the commands) are `doctor`'s.

use crate::doctor::Finding;

/// `doctor --json`: each piece the harness needs and its state.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct DoctorReport<'a> {
    /// True when every piece is in place (exit code 0).
    pub ready: bool,
    pub findings: Vec<FindingReport<'a>>,
}

/// One piece and its state.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct FindingReport<'a> {
    /// What the harness needs (`Wine 8 (64-bit)`, `bubblewrap and user namespaces`).
    pub piece: &'a str,
    /// Whether it is in place.
    pub ok: bool,
    /// What was found, or what is wrong.
    pub detail: &'a str,
    /// The commands that install it, in order; empty when it is in place.
    pub fix: &'a [String],
}

/// Every finding, and whether the harness has all it needs.
pub fn report(found: &[Finding]) -> DoctorReport<'_> {
    DoctorReport {
        ready: found.iter().all(Finding::ok),
        findings: found
            .iter()
            .map(|finding| FindingReport {
                piece: finding.piece,
                ok: finding.ok(),
                detail: &finding.detail,
                fix: &finding.fix,
            })
            .collect(),
    }
}

/// Every finding as lines, the summary last.
pub fn lines(found: &[Finding]) -> Vec<String> {
    let mut lines = Vec::new();
    for finding in found {
        if finding.ok() {
            lines.push(format!("ok       {}: {}", finding.piece, finding.detail));
        } else {
            lines.push(format!("MISSING  {}: {}", finding.piece, finding.detail));
            lines.extend(finding.fix.iter().map(|command| format!("           {command}")));
        }
    }
    let missing = found.iter().filter(|finding| !finding.ok()).count();
    lines.push(if missing == 0 {
        "doctor: everything the harness needs is here".to_owned()
    } else {
        format!("doctor: {missing} of {} pieces missing; run the commands above", found.len())
    });
    lines
}
