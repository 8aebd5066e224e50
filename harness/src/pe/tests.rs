//! Header inspection against images built byte by byte (test_image.rs), the loader
//! ground-truth table of the module doc row by row, and a mutation test that proves no input
//! panics. The real mock filters are read in `tests/it/loader.rs`, where the build is.

use super::test_image::{
    FILE_HEADER_OFFSET, MACHINE_AMD64, MACHINE_ARM64, MACHINE_I386, MACHINE_IA64, MAGIC_PE32,
    MAGIC_PE32_PLUS, NT_OFFSET, OPTIONAL_HEADER_OFFSET, TestImage, put_u16, put_u32,
};
use super::*;

const COR_ILONLY: u32 = 0x1;
const COR_32BITREQUIRED: u32 = 0x2;
const COR_32BITPREFERRED: u32 = 0x2_0000;

fn present_all() -> IsapiExports {
    IsapiExports {
        get_filter_version: ExportStatus::Present,
        http_filter_proc: ExportStatus::Present,
        terminate_filter: ExportStatus::Present,
    }
}

#[test]
fn x86_filter_reads_as_a_32_bit_dll_with_code_and_isapi_exports() {
    let info = inspect_bytes(&TestImage::x86().isapi_filter().build());
    assert_eq!(
        info,
        ImageInfo {
            mz: true,
            pe: true,
            machine: Some(Machine::X86),
            machine_code: Some(0x014c),
            bits: Some(Bits::B32),
            has_code: Some(true),
            is_dll: Some(true),
            magic_matches_machine: Some(true),
            clr: None,
            isapi_exports: present_all(),
            exports: vec![
                "GetFilterVersion".to_owned(),
                "HttpFilterProc".to_owned(),
                "TerminateFilter".to_owned()
            ],
            imports: Vec::new(),
            problem: None,
        }
    );
    let prediction = info.predict();
    assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (true, false));
    assert_eq!(prediction.reason, PredictionReason::Native(Machine::X86));
}

#[test]
fn amd64_filter_is_predicted_for_64_bit_processes_only() {
    let info = inspect_bytes(&TestImage::amd64().isapi_filter().build());
    assert_eq!(info.machine, Some(Machine::Amd64));
    assert_eq!(info.bits, Some(Bits::B64));
    assert_eq!(info.magic_matches_machine, Some(true));
    assert!(info.isapi_exports.required_present());
    let prediction = info.predict();
    assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (false, true));
}

#[test]
fn json_has_the_contract_fields() {
    let info = inspect_bytes(&TestImage::x86().isapi_filter().build());
    let json = serde_json::to_value(&info).expect("ImageInfo serialises");
    assert_eq!(json["pe"], true);
    assert_eq!(json["machine"], "x86");
    assert_eq!(json["bits"], 32);
    assert_eq!(json["has_code"], true);
    assert_eq!(json["isapi_exports"]["GetFilterVersion"]["status"], "present");

    let not_pe = serde_json::to_value(inspect_bytes(b"")).expect("ImageInfo serialises");
    assert_eq!(not_pe["pe"], false);
    assert!(not_pe["machine"].is_null());
    assert!(not_pe["bits"].is_null());
    assert!(not_pe["has_code"].is_null());
}

#[test]
fn machines_serialise_lowercase_and_unknown_ones_as_hex() {
    let cases = [
        (Machine::X86, "x86", "x86"),
        (Machine::Amd64, "amd64", "AMD64"),
        (Machine::Arm64, "arm64", "ARM64"),
        (Machine::Arm, "arm", "ARM"),
        (Machine::Ia64, "ia64", "IA64"),
        (Machine::Other(0x1234), "0x1234", "0x1234"),
    ];
    for (machine, json, display) in cases {
        assert_eq!(serde_json::to_value(machine).expect("serialises"), json);
        assert_eq!(machine.to_string(), display);
    }
    assert_eq!(Machine::from_code(0x01c4), Machine::Arm);
    assert_eq!(Machine::from_code(0xdead), Machine::Other(0xdead));
    assert_eq!(Machine::Ia64.bits(), Some(Bits::B64));
    assert_eq!(Machine::Other(0).bits(), None);
}

/// Ground truth row 5: a 32-bit image without code also loads in a 64-bit process.
#[test]
fn x86_without_code_is_predicted_for_both_bitnesses() {
    let info = inspect_bytes(&TestImage::x86().without_code().build());
    assert_eq!(info.has_code, Some(false));
    let prediction = info.predict();
    assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (true, true));
    assert_eq!(prediction.reason, PredictionReason::NoCode32);
}

/// Ground truth row 3: the no-code escape only works one way.
#[test]
fn amd64_without_code_still_needs_a_64_bit_process() {
    let info = inspect_bytes(&TestImage::amd64().without_code().build());
    assert_eq!(info.has_code, Some(false));
    let prediction = info.predict();
    assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (false, true));
    assert_eq!(prediction.reason, PredictionReason::NoCode64);
}

#[test]
fn has_code_follows_the_loaders_rule() {
    let mut entry_only = TestImage::x86().without_code();
    entry_only.entry_point = 0x1000;
    assert_eq!(inspect_bytes(&entry_only.build()).has_code, Some(true));

    let mut size_only = TestImage::x86().without_code();
    size_only.size_of_code = 0x200;
    assert_eq!(inspect_bytes(&size_only.build()).has_code, Some(true));

    let mut execute_only = TestImage::x86().without_code();
    execute_only.section_flags = 0x6000_0000;
    assert_eq!(inspect_bytes(&execute_only.build()).has_code, Some(true));

    // CNT_CODE without MEM_EXECUTE: neither Windows nor Wine counts it.
    let mut cnt_code_only = TestImage::x86().without_code();
    cnt_code_only.section_flags = 0x4000_0020;
    assert_eq!(inspect_bytes(&cnt_code_only.build()).has_code, Some(false));

    // A SectionAlignment below the page maps the image flat, which counts as code.
    let mut flat = TestImage::x86().without_code().build();
    put_u32(&mut flat, OPTIONAL_HEADER_OFFSET + 32, 0x200);
    assert_eq!(inspect_bytes(&flat).has_code, Some(true));
}

/// Ground truth row 7: same-bitness foreign machines load nowhere on x86/x64.
#[test]
fn foreign_machines_are_predicted_to_load_nowhere() {
    for (code, machine) in [(MACHINE_ARM64, Machine::Arm64), (MACHINE_IA64, Machine::Ia64)] {
        let info = inspect_bytes(&TestImage::new(code, MAGIC_PE32_PLUS, &[0; 16]).build());
        assert_eq!(info.machine, Some(machine));
        assert_eq!(info.bits, Some(Bits::B64));
        assert_eq!(info.magic_matches_machine, Some(true));
        assert_eq!(info.has_code, Some(true));
        let prediction = info.predict();
        assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (false, false));
        assert_eq!(prediction.reason, PredictionReason::ForeignMachine(machine));
    }
    let other = inspect_bytes(&TestImage::new(0xdead, MAGIC_PE32, &[0xc3]).build());
    assert_eq!(other.machine, Some(Machine::Other(0xdead)));
    assert_eq!(other.magic_matches_machine, None);
    assert_eq!(other.predict().reason, PredictionReason::ForeignMachine(Machine::Other(0xdead)));
}

/// Ground truth row 8.
#[test]
fn machine_and_magic_that_disagree_are_reported() {
    let x86_plus = inspect_bytes(&TestImage::new(MACHINE_I386, MAGIC_PE32_PLUS, &[0xc3]).build());
    assert_eq!((x86_plus.machine, x86_plus.bits), (Some(Machine::X86), Some(Bits::B64)));
    assert_eq!(x86_plus.magic_matches_machine, Some(false));
    assert_eq!(x86_plus.problem, None);
    assert_eq!(x86_plus.predict().reason, PredictionReason::MagicMismatch);

    let amd64_32 = inspect_bytes(&TestImage::new(MACHINE_AMD64, MAGIC_PE32, &[0xc3]).build());
    assert_eq!((amd64_32.machine, amd64_32.bits), (Some(Machine::Amd64), Some(Bits::B32)));
    assert_eq!(amd64_32.magic_matches_machine, Some(false));
    assert!(!amd64_32.predict().loads_in_64bit);
}

/// Ground truth row 9.
#[test]
fn unknown_magic_leaves_bits_unknown() {
    let info = inspect_bytes(&TestImage::new(MACHINE_I386, 0xdead, &[0xc3]).build());
    assert!(info.pe);
    assert_eq!(info.bits, None);
    assert_eq!(info.has_code, None);
    assert_eq!(info.magic_matches_machine, Some(false));
    assert_eq!(
        info.problem.as_deref(),
        Some("unknown optional header magic 0xdead (PE32 is 0x10b, PE32+ is 0x20b)")
    );
    assert_eq!(info.predict().reason, PredictionReason::UnknownMagic);
}

/// Ground truth row 6.
#[test]
fn il_only_images_are_read_from_the_cor20_header() {
    let il_only = inspect_bytes(&TestImage::x86().with_cor(COR_ILONLY, 2, 5).build());
    assert_eq!(
        il_only.clr,
        Some(ClrInfo {
            il_only: true,
            requires_32bit: false,
            prefers_32bit: false,
            native_entry_point: false,
            major_runtime_version: 2,
            minor_runtime_version: 5,
        })
    );
    assert_eq!(il_only.has_code, Some(true));
    let prediction = il_only.predict();
    assert_eq!((prediction.loads_in_32bit, prediction.loads_in_64bit), (true, true));
    assert_eq!(prediction.reason, PredictionReason::IlOnly);

    let required = inspect_bytes(
        &TestImage::x86()
            .with_cor(COR_ILONLY | COR_32BITREQUIRED | COR_32BITPREFERRED, 2, 5)
            .build(),
    );
    let clr = required.clr.expect("COR20 header read");
    assert!(clr.requires_32bit && clr.prefers_32bit);
    assert_eq!(required.predict().reason, PredictionReason::IlOnly32BitRequired);

    let old = inspect_bytes(&TestImage::x86().with_cor(COR_ILONLY, 2, 0).build());
    assert_eq!(old.predict().reason, PredictionReason::IlOnlyOldRuntime);

    let mixed = inspect_bytes(&TestImage::x86().with_cor(0, 2, 5).build());
    assert_eq!(mixed.clr.map(|clr| clr.il_only), Some(false));
    assert_eq!(mixed.predict().reason, PredictionReason::Native(Machine::X86));
}

#[test]
fn a_cor20_directory_outside_every_section_is_a_problem_not_a_failure() {
    let mut bytes = TestImage::x86().isapi_filter().build();
    let directories = OPTIONAL_HEADER_OFFSET + 96;
    put_u32(&mut bytes, directories + 14 * 8, 0x9000);
    put_u32(&mut bytes, directories + 14 * 8 + 4, 72);
    let info = inspect_bytes(&bytes);
    assert_eq!(info.clr, None);
    assert!(info.isapi_exports.required_present());
    assert!(info.problem.as_deref().is_some_and(|p| p.contains("CLR (COR20) header")), "{info:?}");
}

#[test]
fn decorated_exports_are_recognised() {
    let decorated = inspect_bytes(
        &TestImage::x86()
            .with_exports(&["GetFilterVersion@4", "HttpFilterProc@12", "TerminateFilter@4"])
            .build(),
    );
    assert_eq!(
        decorated.isapi_exports,
        IsapiExports {
            get_filter_version: ExportStatus::Decorated("GetFilterVersion@4".to_owned()),
            http_filter_proc: ExportStatus::Decorated("HttpFilterProc@12".to_owned()),
            terminate_filter: ExportStatus::Decorated("TerminateFilter@4".to_owned()),
        }
    );
    assert!(!decorated.isapi_exports.required_present());
    let json = serde_json::to_value(&decorated.isapi_exports).expect("serialises");
    assert_eq!(json["HttpFilterProc"]["status"], "decorated");
    assert_eq!(json["HttpFilterProc"]["exported_as"], "HttpFilterProc@12");

    let cases = [
        ("_GetFilterVersion@4", true),
        ("_GetFilterVersion", true),
        ("?GetFilterVersion@@YGHPAU_HTTP_FILTER_VERSION@@@Z", true),
        ("GetFilterVersion@", false),
        ("GetFilterVersion@4x", false),
        ("GetFilterVersionEx", false),
        ("__GetFilterVersion", false),
        ("?GetFilterVersionEx@@YAXXZ", false),
    ];
    for (name, decoration) in cases {
        assert_eq!(is_decoration_of(name, "GetFilterVersion"), decoration, "{name}");
    }
    // The plain name wins over a decorated twin.
    let both = IsapiExports::from_names(&["GetFilterVersion@4", "GetFilterVersion"]);
    assert_eq!(both.get_filter_version, ExportStatus::Present);
    assert_eq!(both.terminate_filter, ExportStatus::Missing);
}

#[test]
fn a_dll_without_exports_has_every_entry_point_missing() {
    let info = inspect_bytes(&TestImage::x86().build());
    assert_eq!(info.exports, Vec::<String>::new());
    assert_eq!(info.isapi_exports, IsapiExports::none());
    assert_eq!(info.problem, None);
}

/// Ground truth rows 10 and 16.
#[test]
fn files_that_are_not_pe_say_what_they_are() {
    let empty = inspect_bytes(b"");
    assert!(!empty.pe);
    assert_eq!(empty.problem.as_deref(), Some("empty file"));
    assert_eq!(empty.predict().reason, PredictionReason::NotPe);

    let text = inspect_bytes(b"This is not a DLL.\r\n");
    assert!(!text.pe);
    assert_eq!(
        text.problem.as_deref(),
        Some("no MZ signature: it looks like a text file (\"This is not a DLL.\")")
    );

    let binary = inspect_bytes(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    assert_eq!(
        binary.problem.as_deref(),
        Some("no MZ signature (the file starts with 7f 45 4c 46)")
    );
}

/// Ground truth rows 12, 15 and 11.
#[test]
fn broken_headers_say_where_they_break() {
    let image = TestImage::x86().isapi_filter().build();

    let mut bad_lfanew = image.clone();
    put_u32(&mut bad_lfanew, 0x3c, 0x9876_0000);
    let info = inspect_bytes(&bad_lfanew);
    assert!(!info.pe);
    assert_eq!(
        info.problem,
        Some(format!(
            "e_lfanew points past the end of the file: 0x98760000, in a file of {} bytes",
            image.len()
        ))
    );
    assert_eq!(info.predict().reason, PredictionReason::NotPe);

    let cut_before_nt = inspect_bytes(&image[..NT_OFFSET]);
    assert_eq!(
        cut_before_nt.problem.as_deref(),
        Some(
            "e_lfanew points past the end of the file: 0x40, in a file of 64 bytes (is the file truncated?)"
        )
    );

    let dos_only = inspect_bytes(&image[..30]);
    assert_eq!(
        dos_only.problem.as_deref(),
        Some("truncated at byte 30: the DOS header needs 64 bytes")
    );

    let first_100 = inspect_bytes(&image[..100]);
    assert!(first_100.pe);
    assert_eq!(first_100.machine, Some(Machine::X86));
    assert_eq!(first_100.bits, Some(Bits::B32));
    assert_eq!(first_100.has_code, None);
    assert_eq!(
        first_100.problem.as_deref(),
        Some("truncated at byte 100: the optional header at 0x58 needs 96 bytes")
    );
    assert_eq!(first_100.predict().reason, PredictionReason::Unreadable);

    let signature_cut = inspect_bytes(&image[..NT_OFFSET + 2]);
    assert_eq!(
        signature_cut.problem.as_deref(),
        Some("truncated at byte 66: the PE signature at 0x40 needs 4 bytes")
    );

    let file_header_cut = inspect_bytes(&image[..FILE_HEADER_OFFSET + 10]);
    assert!(!file_header_cut.pe);
    assert!(file_header_cut.problem.as_deref().is_some_and(|p| p.contains("file header")));

    let mut ne = image.clone();
    ne[NT_OFFSET..NT_OFFSET + 4].copy_from_slice(b"NE\x05\x01");
    let info = inspect_bytes(&ne);
    assert!(!info.pe);
    assert_eq!(
        info.problem.as_deref(),
        Some(
            "no PE signature at e_lfanew 0x40 (found 4e 45 05 01): a 16-bit NE (Windows 3.x / OS/2) image"
        )
    );

    let mut dead = image.clone();
    put_u32(&mut dead, NT_OFFSET, 0xdeadbeef);
    assert!(inspect_bytes(&dead).problem.as_deref().is_some_and(|p| p.contains("no PE signature")));

    // The section table lies past the end: everything up to it is still reported.
    let sections_cut = inspect_bytes(&image[..OPTIONAL_HEADER_OFFSET + 224 + 20]);
    assert!(sections_cut.pe);
    assert_eq!(sections_cut.has_code, None);
    assert_eq!(
        sections_cut.problem.as_deref(),
        Some("truncated at byte 332: 1 section headers at 0x138 need 40 bytes")
    );
}

/// Ground truth row 13.
#[test]
fn a_short_size_of_optional_header_is_a_problem() {
    let mut bytes = TestImage::x86().build();
    put_u16(&mut bytes, FILE_HEADER_OFFSET + 16, 0);
    let info = inspect_bytes(&bytes);
    assert_eq!(info.has_code, None);
    assert_eq!(
        info.problem.as_deref(),
        Some("SizeOfOptionalHeader is 0, smaller than the 96 bytes of a PE32 optional header")
    );
    assert_eq!(info.predict().reason, PredictionReason::Unreadable);
}

#[test]
fn absurd_counts_are_clamped_or_reported() {
    let image = TestImage::x86().isapi_filter().build();

    let mut many_directories = image.clone();
    put_u32(&mut many_directories, OPTIONAL_HEADER_OFFSET + 92, u32::MAX);
    let info = inspect_bytes(&many_directories);
    assert!(info.isapi_exports.required_present(), "{info:?}");

    let mut many_sections = image.clone();
    put_u16(&mut many_sections, FILE_HEADER_OFFSET + 2, u16::MAX);
    let info = inspect_bytes(&many_sections);
    assert_eq!(info.has_code, None);
    assert!(info.problem.as_deref().is_some_and(|p| p.contains("65535 section headers")));

    let mut many_names = image.clone();
    // NumberOfNames of the export directory at RVA 0x1010 (file offset 0x210).
    put_u32(&mut many_names, 0x210 + 24, u32::MAX);
    let info = inspect_bytes(&many_names);
    assert!(info.problem.as_deref().is_some_and(|p| p.contains("export table")), "{info:?}");
    assert!(info.exports.is_empty());
}

/// A minimal linear congruential generator (Knuth's MMIX constants): deterministic, and no
/// dependency for a test that only needs scrambled bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn mutated_images_never_panic() {
    let seeds = [
        TestImage::x86().isapi_filter().with_cor(COR_ILONLY, 2, 5).build(),
        TestImage::amd64().isapi_filter().build(),
    ];
    // Offsets worth hitting more often than chance would: e_lfanew, the file and optional
    // headers, the section header, the export directory and the data directories.
    let hot: Vec<usize> = (0x3c..0x40).chain(NT_OFFSET..0x180).chain(0x200..0x260).collect();
    let mut rng = Lcg(0x1515_a915);
    for round in 0..5000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(8) {
            let at =
                if rng.below(2) == 0 { hot[rng.below(hot.len())] } else { rng.below(bytes.len()) };
            bytes[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                _ => rng.next() as u8,
            };
        }
        if rng.below(10) == 0 {
            let keep = rng.below(bytes.len());
            bytes.truncate(keep);
        }
        let info = inspect_bytes(&bytes);
        let _ = info.predict().to_owned();
        serde_json::to_value(&info).expect("any ImageInfo serialises");
    }
}

#[test]
fn inspect_reads_files_and_fails_only_when_it_cannot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("filter.dll");
    std::fs::write(&path, TestImage::x86().isapi_filter().build()).expect("write");
    assert_eq!(inspect(&path).expect("readable").machine, Some(Machine::X86));

    let empty = dir.path().join("empty.dll");
    std::fs::write(&empty, b"").expect("write");
    assert_eq!(inspect(&empty).expect("readable").problem.as_deref(), Some("empty file"));

    // The system's own words for a missing file, which differ between Linux and Windows.
    let absent = dir.path().join("absent.dll");
    let missing = inspect(&absent).expect_err("missing file");
    let not_found = std::fs::metadata(&absent).expect_err("the file is absent");
    assert_eq!(not_found.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(missing.to_string(), not_found.to_string());

    // Only the headers are read: a 1 GB sparse file starting like a PE image costs nothing.
    let big = dir.path().join("big.dll");
    std::fs::write(&big, TestImage::x86().isapi_filter().build()).expect("write");
    let file = std::fs::OpenOptions::new().write(true).open(&big).expect("open");
    file.set_len(1 << 30).expect("a sparse file");
    assert_eq!(inspect(&big).expect("readable").machine, Some(Machine::X86));
}

/// An image for each row of the ground-truth table in the module doc, as (row, 32-bit process
/// loads, 64-bit process loads) from the table's own text. Row 14 ("depends on the Windows
/// version") has no single answer and no image here.
fn image_for_row(row: u32) -> Option<Vec<u8>> {
    let filter = TestImage::x86().isapi_filter().build();
    Some(match row {
        // Row 1 is checked for both natives below; the x86 one stands for it here.
        1 | 4 => filter,
        2 => TestImage::amd64().isapi_filter().build(),
        3 => TestImage::amd64().without_code().build(),
        5 => TestImage::x86().without_code().build(),
        6 => TestImage::x86().with_cor(COR_ILONLY, 2, 5).build(),
        7 => TestImage::new(MACHINE_ARM64, MAGIC_PE32_PLUS, &[0; 16]).build(),
        8 => TestImage::new(MACHINE_I386, MAGIC_PE32_PLUS, &[0xc3]).build(),
        9 => TestImage::new(MACHINE_I386, 0xdead, &[0xc3]).build(),
        10 => b"This is not a DLL.\r\n".to_vec(),
        11 => {
            let mut ne = filter[..NT_OFFSET].to_vec();
            ne.extend_from_slice(b"NE\x05\x01");
            ne.resize(NT_OFFSET + 64, 0);
            ne
        }
        12 => filter[..NT_OFFSET].to_vec(),
        13 => {
            let mut image = filter;
            put_u16(&mut image, FILE_HEADER_OFFSET + 16, 0);
            image
        }
        15 => filter[..100].to_vec(),
        16 => Vec::new(),
        _ => return None,
    })
}

#[test]
fn every_row_of_the_loader_table_is_what_predict_says() {
    let doc = include_str!("mod.rs");
    let mut rows = 0;
    for line in doc.lines().filter_map(|line| line.strip_prefix("//! | ")) {
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Ok(row) = cells[0].parse::<u32>() else { continue };
        rows += 1;
        let loads = |cell: &str| match cell.split_whitespace().next() {
            Some("loads") => Some(true),
            Some("193") => Some(false),
            _ => None,
        };
        let (Some(in_32), Some(in_64)) =
            (loads(cells[2]), loads(cells[3].trim_end_matches('|').trim()))
        else {
            assert!(image_for_row(row).is_none(), "row {row} has no single answer, yet an image");
            continue;
        };
        let image =
            image_for_row(row).unwrap_or_else(|| panic!("add an image for row {row}: {line}"));
        let prediction = inspect_bytes(&image).predict();
        if row == 1 {
            // "Native": each native image loads in the process of its own bitness.
            assert!(prediction.loads_in_32bit && in_32, "row 1, x86");
            let amd64 = inspect_bytes(&TestImage::amd64().isapi_filter().build()).predict();
            assert!(amd64.loads_in_64bit && in_64, "row 1, AMD64");
            continue;
        }
        assert_eq!(
            (prediction.loads_in_32bit, prediction.loads_in_64bit),
            (in_32, in_64),
            "row {row} ({}): {prediction:?}",
            cells[1]
        );
    }
    assert_eq!(rows, 16, "the table in the module doc has 16 rows");
}
