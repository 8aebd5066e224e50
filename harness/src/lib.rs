//! The ISAPI filter bitness harness: reproduces, with real loads, how IIS 6.0 fails when a
//! filter's architecture does not match the process that loads it, and verifies fixes.
//!
//! ARCHITECTURE.md at the root of the repository maps the modules.

pub mod apphost;
pub mod arch;
pub mod artifacts;
pub mod cause;
pub mod cli;
pub mod diagnose;
pub mod doctor;
pub mod driver;
pub mod host;
pub mod http_sys;
pub mod iis;
pub mod input;
pub mod interrupt;
pub mod machine;
pub mod matrix;
pub mod metabase;
pub mod model;
pub mod pe;
pub mod process;
pub mod remedy;
pub mod report;
pub mod repro;
pub mod scenario;
pub mod text_position;
pub mod vocab;
pub mod winpath;
pub mod xml_attributes;
