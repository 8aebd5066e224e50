//! Why a filter did not load: the loader's real answer read together with the file's headers.
//!
//! The loader's error alone is ambiguous: Windows maps a wrong-bitness image, a text file, an
//! image for another processor and a corrupt header all to ERROR_BAD_EXE_FORMAT (193), and a
//! missing file and a missing dependency both to ERROR_MOD_NOT_FOUND (126). The headers of the
//! file at the configured path tell them apart. The headers never replace the loader: a cause is
//! only given to a result a host process reported, and an image the headers call wrong can
//! still load (an x86 DLL with no code loads in a 64-bit process), in which case the cause is
//! `ok`.

use serde::Serialize;

use crate::arch::Bits;
use crate::pe::ImageInfo;
use crate::vocab::{HostEnd, Stage, Win32Error};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Ok,
    MissingFile,
    MissingDependency,
    WrongBitness,
    OtherMachine,
    NotAnImage,
    CorruptImage,
    MissingExport,
    FilterRefused,
    Crashed,
    TimedOut,
    RawDataUnsupported,
    /// Windows's loader: an import (by name, 127; by ordinal, 182) that its dependency does
    /// not export.
    MissingImport,
    /// Windows's loader: the only copy of a dependency is of the other machine type (193).
    DependencyWrongBitness,
    /// Windows's loader: a dependency found on the search path is no image (193).
    DependencyNotAnImage,
    /// A dependency's DllMain returned FALSE (1114).
    DependencyInitFailed,
    /// A manifest dependency the server's WinSxS lacks (14001).
    SideBySideMissing,
    /// A C runtime the server lacks (126): its redistributable is not installed.
    RuntimeNotInstalled,
    /// The host was ended by a limit of the run (memory, processes, disk) before the filter's
    /// step finished: the filter's doing, but no crash of its own.
    LimitReached,
}

/// How the host process ended, as far as the cause of a filter result is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostDeath {
    Crashed,
    TimedOut,
    /// Ended at a limit of the run.
    Limit,
    Other,
}

impl HostDeath {
    pub fn of(end: HostEnd) -> HostDeath {
        match end {
            HostEnd::Crashed { .. } => HostDeath::Crashed,
            // A host that floods its output never finishes its start either.
            HostEnd::TimedOut | HostEnd::Flooded => HostDeath::TimedOut,
            HostEnd::MemoryLimit { .. }
            | HostEnd::ProcessLimit { .. }
            | HostEnd::DiskLimit { .. } => HostDeath::Limit,
            HostEnd::Died { .. } | HostEnd::Completed => HostDeath::Other,
        }
    }
}

/// The cause of one filter's result. `image` is what the headers of the file at the configured
/// path say (None when there is no file); `bits` is the loading process's bitness; `death`
/// says how the host ended when the filter's step never finished. None for a filter that was
/// not attempted.
pub fn classify(
    stage: Stage,
    error: Option<Win32Error>,
    image: Option<&ImageInfo>,
    bits: Bits,
    death: HostDeath,
) -> Option<Cause> {
    let unfinished = match death {
        HostDeath::Crashed => Cause::Crashed,
        HostDeath::TimedOut => Cause::TimedOut,
        HostDeath::Limit => Cause::LimitReached,
        HostDeath::Other => Cause::Crashed,
    };
    Some(match (stage, error) {
        (Stage::NotAttempted, _) => return None,
        (Stage::Loaded, _) => Cause::Ok,
        (Stage::Probe, _) => Cause::MissingFile,
        (Stage::RefusedSilently, _) => Cause::FilterRefused,
        (Stage::ReadRawDataRefused, _) => Cause::RawDataUnsupported,
        (Stage::GetProcAddress, Some(_)) => Cause::MissingExport,
        // A module's step after the loader is the lookup of RegisterModule; a host that ended
        // before it reported the exports ended there.
        (Stage::GetProcAddress, None) => unfinished,
        (Stage::GetFilterVersion | Stage::GetExtensionVersion, Some(_)) => Cause::FilterRefused,
        (Stage::GetFilterVersion | Stage::GetExtensionVersion, None)
        | (Stage::LoadLibrary, None) => unfinished,
        (Stage::LoadLibrary, Some(Win32Error::MOD_NOT_FOUND)) if image.is_none() => {
            Cause::MissingFile
        }
        (Stage::LoadLibrary, Some(Win32Error::MOD_NOT_FOUND)) => Cause::MissingDependency,
        // DllMain returned FALSE: the filter's own code refused to start.
        (Stage::LoadLibrary, Some(Win32Error::DLL_INIT_FAILED)) => Cause::FilterRefused,
        // Wine's loader catches an access violation inside DllMain and fails the load with
        // ERROR_NOACCESS: the filter crashed, the process did not.
        (Stage::LoadLibrary, Some(Win32Error::NOACCESS)) => Cause::Crashed,
        (Stage::LoadLibrary, Some(Win32Error::BAD_EXE_FORMAT)) => bad_format_cause(image, bits),
        (Stage::LoadLibrary, Some(_)) => Cause::CorruptImage,
    })
}

/// Tells the ERROR_BAD_EXE_FORMAT cases apart by the headers: why the loader refuses (or, for
/// `diagnose`, will refuse) an image in a process of `bits`.
pub fn bad_format_cause(image: Option<&ImageInfo>, bits: Bits) -> Cause {
    let Some(image) = image else { return Cause::NotAnImage };
    if !image.mz {
        return Cause::NotAnImage;
    }
    // Unreadable headers, an unknown optional-header magic (no bitness), or a magic that
    // contradicts the machine: the image is broken before its machine even matters.
    if !image.pe
        || image.problem.is_some()
        || image.bits.is_none()
        || image.magic_matches_machine == Some(false)
    {
        return Cause::CorruptImage;
    }
    match image.machine {
        Some(machine) if machine.arch().is_some() => {
            if machine.bits() != Some(bits) {
                Cause::WrongBitness
            } else {
                // The right machine and still refused: something else in the headers is wrong.
                Cause::CorruptImage
            }
        }
        Some(_) => Cause::OtherMachine,
        None => Cause::CorruptImage,
    }
}

/// The part of the headers a filter result carries in `start --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ImageSummary {
    pub pe: bool,
    pub machine: Option<crate::pe::Machine>,
    pub bits: Option<Bits>,
    pub has_code: Option<bool>,
    /// Set when the headers could not be read whole (truncated, impossible offsets).
    pub problem: Option<String>,
}

impl ImageSummary {
    pub fn of(image: &ImageInfo) -> ImageSummary {
        ImageSummary {
            pe: image.pe,
            machine: image.machine,
            bits: image.bits,
            has_code: image.has_code,
            problem: image.problem.clone(),
        }
    }
}

/// The cause of a load that Windows's loader refuses for the dependency it stopped at.
pub fn dependency_cause(outcome: crate::windows_loader::DependencyOutcome) -> Option<Cause> {
    use crate::windows_loader::DependencyOutcome as D;
    Some(match outcome {
        D::Missing => Cause::MissingDependency,
        D::MissingImport => Cause::MissingImport,
        D::WrongBitness => Cause::DependencyWrongBitness,
        D::NotAnImage => Cause::DependencyNotAnImage,
        D::InitFailed => Cause::DependencyInitFailed,
        D::SideBySideMissing => Cause::SideBySideMissing,
        D::NotInstalled => Cause::RuntimeNotInstalled,
        D::Loaded | D::DelayLoad => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::inspect_bytes;
    use crate::pe::test_image::TestImage;

    fn cause_of(bytes: &[u8], bits: Bits) -> Cause {
        bad_format_cause(Some(&inspect_bytes(bytes)), bits)
    }

    #[test]
    fn one_error_193_many_causes() {
        assert_eq!(cause_of(&TestImage::x86().build(), Bits::B64), Cause::WrongBitness);
        assert_eq!(cause_of(&TestImage::amd64().build(), Bits::B32), Cause::WrongBitness);
        assert_eq!(
            cause_of(&TestImage::new(0xaa64, 0x20b, &[0xc0, 0x03, 0x5f, 0xd6]).build(), Bits::B64),
            Cause::OtherMachine
        );
        assert_eq!(cause_of(b"This is not a DLL.\r\n", Bits::B64), Cause::NotAnImage);
        assert_eq!(bad_format_cause(None, Bits::B64), Cause::NotAnImage);
        // Machine and magic disagree, or the magic means nothing: broken, whatever the process.
        for bits in [Bits::B32, Bits::B64] {
            assert_eq!(
                cause_of(&TestImage::new(0x014c, 0x20b, &[0xc3]).build(), bits),
                Cause::CorruptImage
            );
            assert_eq!(
                cause_of(&TestImage::new(0x014c, 0xdead, &[0xc3]).build(), bits),
                Cause::CorruptImage
            );
        }
    }
}
