//! What `doctor` found, in words: one line per piece the harness needs, under each missing one
//! the commands that install it, and a last line saying whether anything is missing. The
//! findings themselves (what was looked at, what is wrong, the commands) are `doctor`'s.

use crate::doctor::Finding;

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
