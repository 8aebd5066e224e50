//! The regression suite lives in `it/`; this library is empty so that Cargo has a target to build.
