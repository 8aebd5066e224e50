//! The ISAPI filter bitness harness: reproduces, with real loads, how IIS 6.0 fails when a
//! filter's architecture does not match the process that loads it, and verifies fixes.
//!
//! ARCHITECTURE.md at the root of the repository maps the modules. What the command line
//! (`main.rs`) and the regression suite use is public; the rest (the driver and the model seam,
//! the admin tools' remedy table, input reading, XML positions, `doctor`) is private to the
//! library.

pub mod apphost;
pub mod arch;
pub mod artifacts;
pub mod cause;
pub mod cli;
pub mod collect;
pub mod diagnose;
mod doctor;
mod driver;
pub mod host;
pub mod http_sys;
pub mod iis;
mod input;
pub mod interrupt;
pub mod loader_answer;
pub mod machine;
pub mod matrix;
pub mod metabase;
pub mod mock;
mod model;
pub mod pe;
pub mod process;
mod remedy;
pub mod report;
pub mod repro;
pub mod rule_rows;
pub mod scenario;
pub mod server_copy;
mod text_position;
pub mod vocab;
pub mod windows_loader;
pub mod winpath;
mod xml_attributes;
mod xml_spans;
