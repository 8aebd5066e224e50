//! The loader layer: real mock filters in real 32- and 64-bit host processes.

use harness::arch::{Arch, Bits};
use harness::scenario::ImageSpec;
use harness::vocab::{HostEnd, Win32Error};
use rstest::rstest;

use harness::vocab::ImageKind;

use crate::support::{load_in_host, load_kind_in_host};

fn mock(arch: Arch, variant: &str) -> ImageSpec {
    ImageSpec::Mock { arch, mock: variant.parse().expect("a mock the build makes") }
}

#[rstest]
#[case::host32_loads_x86(Bits::B32, Arch::X86, None)]
#[case::host32_refuses_amd64(Bits::B32, Arch::Amd64, Some(193))]
#[case::host64_refuses_x86(Bits::B64, Arch::X86, Some(193))]
#[case::host64_loads_amd64(Bits::B64, Arch::Amd64, None)]
fn the_loader_decides_by_bitness(
    #[case] bits: Bits,
    #[case] arch: Arch,
    #[case] error: Option<u32>,
) {
    let path = format!(r"C:\it\loader\bitness-{}-{}\filter.dll", bits.number(), arch.dir_name());
    let run = load_in_host(bits, &[(&path, mock(arch, "filter"))], &[&path]);
    assert_eq!(run.end, HostEnd::Completed);
    assert_eq!(run.bits, bits);
    let filter = &run.images[0];
    assert_eq!(filter.loaded(), Some(error.is_none()), "{filter:?}");
    assert_eq!(filter.load_error().map(Win32Error::code), error, "{filter:?}");
    if error.is_none() {
        let version = filter.version.as_ref().expect("GetFilterVersion was called");
        assert!(version.accepted);
        assert_eq!(version.description, format!("Mock ISAPI filter ({arch}, filter)"));
        assert_eq!(
            filter.request.and_then(|request| request.returned),
            Some(0x0800_0002),
            "HttpFilterProc answers SF_STATUS_REQ_NEXT_NOTIFICATION"
        );
        assert_eq!(filter.terminated, Some(true));
    } else {
        assert!(filter.exports.is_none() && filter.version.is_none(), "{filter:?}");
    }
}

/// The mock extension in a real host: loaded by the loader, or refused for its bitness, and
/// when loaded, called as IIS calls an extension (GetExtensionVersion, then HttpExtensionProc
/// with an EXTENSION_CONTROL_BLOCK, then TerminateExtension).
#[rstest]
#[case::host32_runs_x86(Bits::B32, Arch::X86, None)]
#[case::host32_refuses_amd64(Bits::B32, Arch::Amd64, Some(193))]
#[case::host64_refuses_x86(Bits::B64, Arch::X86, Some(193))]
#[case::host64_runs_amd64(Bits::B64, Arch::Amd64, None)]
fn the_mock_extension_answers_a_request_in_a_host_of_its_bitness(
    #[case] bits: Bits,
    #[case] arch: Arch,
    #[case] error: Option<u32>,
) {
    let path =
        format!(r"C:\it\loader\extension-{}-{}\aspnet_isapi.dll", bits.number(), arch.dir_name());
    let run = load_kind_in_host(
        bits,
        ImageKind::Extension,
        &[(&path, mock(arch, "extension"))],
        &[&path],
    );
    assert_eq!(run.end, HostEnd::Completed);
    let extension = &run.images[0];
    assert_eq!(extension.kind, ImageKind::Extension);
    assert_eq!(extension.load_error().map(Win32Error::code), error, "{extension:?}");
    if error.is_some() {
        assert!(extension.exports.is_none() && extension.version.is_none(), "{extension:?}");
        return;
    }
    let exports = extension.exports.expect("the exports were looked up");
    assert!(exports.entry_point && exports.request_proc && exports.terminate, "{exports:?}");
    let version = extension.version.as_ref().expect("GetExtensionVersion was called");
    assert!(version.accepted);
    assert_eq!(version.version, 0x0006_0000, "HSE_VERSION 6.0");
    assert_eq!(version.description, format!("Mock ISAPI extension ({arch}, extension)"));
    let request = extension.request.expect("HttpExtensionProc was called");
    assert_eq!(request.returned, Some(1), "HSE_STATUS_SUCCESS");
    assert_eq!(request.http_status, Some(200));
    assert_eq!(extension.terminated, Some(true));
}

/// The extension's failure variants fail where their names say, in a real process.
#[test]
fn the_mock_extension_variants_fail_where_they_say() {
    let refuse = r"C:\it\loader\extension-variants\refuse.dll";
    let error = r"C:\it\loader\extension-variants\request_error.dll";
    let decorated = r"C:\it\loader\extension-variants\decorated.dll";
    let run = load_kind_in_host(
        Bits::B32,
        ImageKind::Extension,
        &[
            (refuse, mock(Arch::X86, "extension_refuse")),
            (error, mock(Arch::X86, "extension_request_error")),
            (decorated, mock(Arch::X86, "extension_decorated")),
        ],
        &[refuse, error, decorated],
    );
    let refused = run.images[0].version.as_ref().expect("GetExtensionVersion was called");
    assert!(!refused.accepted);
    assert_eq!(refused.last_error, Win32Error::ACCESS_DENIED);
    assert!(run.images[0].request.is_none(), "a refused extension gets no request");
    let failed = run.images[1].request.expect("HttpExtensionProc was called");
    assert_eq!(failed.returned, Some(4), "HSE_STATUS_ERROR");
    assert_eq!(failed.http_status, Some(500));
    let exports = run.images[2].exports.expect("the exports were looked up");
    assert!(!exports.entry_point);
    assert_eq!(exports.lookup_error, Some(Win32Error::PROC_NOT_FOUND));

    let crash = r"C:\it\loader\extension-variants\crash_in_hep.dll";
    let run = load_kind_in_host(
        Bits::B64,
        ImageKind::Extension,
        &[(crash, mock(Arch::Amd64, "extension_crash_in_hep"))],
        &[crash],
    );
    assert_eq!(run.end, HostEnd::Crashed { exception_code: 0xC000_0005 });
    assert_eq!(run.images[0].last_call.as_deref(), Some("HttpExtensionProc"));
}

#[rstest]
fn a_missing_path_is_126(#[values(Bits::B32, Bits::B64)] bits: Bits) {
    let path = format!(r"C:\it\loader\missing-{}\nothing.dll", bits.number());
    let run = load_in_host(bits, &[], &[&path]);
    assert_eq!(run.images[0].loaded(), Some(false));
    assert_eq!(run.images[0].load_error(), Some(Win32Error::MOD_NOT_FOUND));
}

/// The x86 exports are undecorated because the build links with filter.def: without it the
/// DLL still loads, and GetFilterVersion is then not found (127), which is what IIS reports.
#[test]
fn decorated_x86_exports_load_and_then_miss_get_filter_version() {
    let decorated = r"C:\it\loader\decorated\filter.dll";
    let plain = r"C:\it\loader\decorated\plain.dll";
    let run = load_in_host(
        Bits::B32,
        &[(decorated, mock(Arch::X86, "decorated")), (plain, mock(Arch::X86, "filter"))],
        &[decorated, plain],
    );
    let decorated = &run.images[0];
    assert_eq!(decorated.loaded(), Some(true));
    let exports = decorated.exports.expect("the exports were looked up");
    assert!(!exports.entry_point && !exports.request_proc && !exports.terminate);
    assert_eq!(exports.lookup_error, Some(Win32Error::PROC_NOT_FOUND));
    let plain = &run.images[1];
    let exports = plain.exports.expect("the exports were looked up");
    assert!(exports.entry_point && exports.request_proc && exports.terminate);
}

#[test]
fn one_host_loads_several_filters_in_order() {
    let first = r"C:\it\loader\order\first.dll";
    let second = r"D:\it\loader\order\second.dll";
    let run = load_in_host(
        Bits::B64,
        &[(first, mock(Arch::Amd64, "filter")), (second, mock(Arch::Amd64, "refuse"))],
        &[first, second],
    );
    assert_eq!(run.images.len(), 2);
    assert_eq!(run.images[0].path, first);
    assert_eq!(run.images[1].path, second, "D: exists and is loaded by its Windows path");
    let refused = run.images[1].version.as_ref().expect("GetFilterVersion was called");
    assert!(!refused.accepted);
    assert_eq!(refused.last_error, Win32Error::ACCESS_DENIED);
}

/// The headers of the mock filters as `cargo xtask build` makes them: the images every load
/// test above relies on, read from where the build put them.
#[test]
fn the_mock_filters_read_as_built() {
    use harness::pe::{ExportStatus, IsapiExports, Machine, inspect};
    let artifacts = crate::support::machine().artifacts();
    let read = |arch: Arch, variant: &str| {
        let path = artifacts
            .mock(arch, variant.parse().expect("a mock the build makes"))
            .expect("the mock filter is built");
        inspect(&path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
    };
    let plain = IsapiExports {
        get_filter_version: ExportStatus::Present,
        http_filter_proc: ExportStatus::Present,
        terminate_filter: ExportStatus::Present,
    };
    for (arch, machine, bits) in
        [(Arch::X86, Machine::X86, Bits::B32), (Arch::Amd64, Machine::Amd64, Bits::B64)]
    {
        let info = read(arch, "filter");
        assert_eq!(info.machine, Some(machine), "{arch} filter: {info:?}");
        assert_eq!(info.bits, Some(bits), "{arch} filter");
        assert_eq!(info.has_code, Some(true), "{arch} filter");
        assert_eq!(info.is_dll, Some(true), "{arch} filter");
        assert_eq!(info.magic_matches_machine, Some(true), "{arch} filter");
        assert_eq!(info.clr, None, "{arch} filter");
        assert_eq!(info.isapi_exports, plain, "{arch} filter: {:?}", info.exports);
        assert_eq!(info.problem, None, "{arch} filter");
    }
    let decorated = read(Arch::X86, "decorated");
    assert_eq!(
        decorated.isapi_exports,
        IsapiExports {
            get_filter_version: ExportStatus::Decorated("GetFilterVersion@4".to_owned()),
            http_filter_proc: ExportStatus::Decorated("HttpFilterProc@12".to_owned()),
            terminate_filter: ExportStatus::Decorated("TerminateFilter@4".to_owned()),
        },
        "x86 decorated exports {:?}",
        decorated.exports
    );
    // AMD64 has no stdcall decoration: the same variant exports plain names there.
    assert_eq!(read(Arch::Amd64, "decorated").isapi_exports, plain);
}
