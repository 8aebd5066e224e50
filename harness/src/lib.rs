//! The ISAPI filter bitness harness.
