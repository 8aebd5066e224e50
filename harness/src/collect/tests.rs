//! The planning rules on disks held in memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::plan::{CGI, NOT_FOUND, SECRET};
use super::*;
use crate::arch::{Bits, Os};
use crate::pe::test_image::TestImage;
use crate::pe::{ImportedDll, ImportedFunction, Linkage, VersionInfo, inspect_bytes};
use crate::scenario::Configuration;
use crate::windows_loader::{DiskFile, Profile, WindowsVersion};
use crate::winpath::WinPath;

#[derive(Default)]
struct MemorySource {
    files: HashMap<WinPath, Arc<SourceFile>>,
}

fn path(text: &str) -> WinPath {
    WinPath::parse(text).expect("a test path")
}

const MICROSOFT: &str = "Microsoft Corporation";

impl MemorySource {
    fn put(&mut self, at: &str, bits: Bits, imports: &[&str], company: Option<&str>) -> &mut Self {
        let bytes = match bits {
            Bits::B32 => TestImage::x86().build(),
            Bits::B64 => TestImage::amd64().build(),
        };
        let linkage = Linkage {
            imports: imports
                .iter()
                .map(|dll| ImportedDll {
                    name: (*dll).to_owned(),
                    functions: Vec::<ImportedFunction>::new(),
                })
                .collect(),
            ..Linkage::default()
        };
        let version = company.map(|company| VersionInfo {
            file_version: Some("5.2.3790.4062".to_owned()),
            company: Some(company.to_owned()),
        });
        let disk = DiskFile { path: path(at), info: inspect_bytes(&bytes), linkage, os_own: false };
        self.files.insert(path(at), Arc::new(SourceFile { disk, version }));
        self
    }

    fn text(&mut self, at: &str) -> &mut Self {
        let disk = DiskFile {
            path: path(at),
            info: inspect_bytes(b"<configuration/>"),
            linkage: Linkage::default(),
            os_own: false,
        };
        self.files.insert(path(at), Arc::new(SourceFile { disk, version: None }));
        self
    }
}

impl Source for MemorySource {
    fn file(&self, path: &WinPath) -> Option<Arc<SourceFile>> {
        self.files.get(path).cloned()
    }

    fn file_names(&self, folder: &WinPath) -> Vec<String> {
        self.files
            .keys()
            .filter(|file| file.parent().as_ref() == Some(folder))
            .filter_map(|file| file.components().last().cloned())
            .collect()
    }
}

fn server(os: Os, windir: &str) -> Server {
    Server {
        os,
        profile: Profile::new(WindowsVersion::Server2003, []),
        windir: path(windir),
        extra_path: Vec::new(),
    }
}

fn metabase(filters: &[&str], script_maps: &str) -> Configuration {
    let order: Vec<String> = (0..filters.len()).map(|i| format!("F{i}")).collect();
    let keys: String = filters
        .iter()
        .enumerate()
        .map(|(i, filter)| {
            format!("<IIsFilter Location=\"/LM/W3SVC/Filters/F{i}\" FilterPath=\"{filter}\"/>\n")
        })
        .collect();
    let text = format!(
        "<?xml version =\"1.0\"?>\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\n<MBProperty>\n<IIsWebService Location=\"/LM/W3SVC\" ScriptMaps=\"{script_maps}\"/>\n<IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"{}\"/>\n{keys}</MBProperty>\n</configuration>\n",
        order.join(",")
    );
    Configuration::Metabase(
        crate::metabase::Metabase::parse(&text, Path::new("MetaBase.xml")).unwrap(),
    )
}

fn scenario(config: Configuration, os: Os) -> crate::scenario::Scenario {
    crate::scenario::Scenario::new("collect", os, config)
}

fn copies(plan: &Plan) -> Vec<&str> {
    plan.copies.iter().map(WinPath::as_str).collect()
}

#[test]
fn a_vendor_filter_is_copied_with_its_dependency_and_the_os_files_are_recorded() {
    let mut source = MemorySource::default();
    source
        .put(
            r"C:\Filters\vendor.dll",
            Bits::B32,
            &["dep.dll", "kernel32.dll", "msvcr100.dll"],
            None,
        )
        .put(r"C:\Filters\dep.dll", Bits::B32, &["kernel32.dll"], Some("Vendor Inc."))
        .put(r"C:\WINDOWS\system32\kernel32.dll", Bits::B32, &[], Some(MICROSOFT))
        .put(r"C:\WINDOWS\system32\msvcr100.dll", Bits::B32, &[], Some(MICROSOFT))
        .text(r"C:\Filters\web.config")
        .text(r"C:\Filters\readme.txt");
    let config = metabase(&[r"C:\Filters\vendor.dll"], "");
    let (named, left_out) = named_images(&scenario(config, Os::X86)).unwrap();
    assert!(left_out.is_empty());
    let plan = plan(&named, &server(Os::X86, r"C:\WINDOWS"), &source);
    assert_eq!(
        copies(&plan),
        [r"C:\Filters\dep.dll", r"C:\Filters\vendor.dll", r"C:\WINDOWS\system32\msvcr100.dll"],
        "the redistributable runtime is the server's own even in System32"
    );
    assert_eq!(plan.system_files.len(), 1);
    let kernel32 = &plan.system_files[0];
    assert_eq!(kernel32.path, r"C:\WINDOWS\system32\kernel32.dll");
    assert_eq!(kernel32.version.as_deref(), Some("5.2.3790.4062"));
    assert_eq!(kernel32.machine.as_deref(), Some("x86"));
    assert_eq!(plan.left_out.len(), 1);
    assert_eq!(plan.left_out[0].path, r"C:\Filters\web.config");
    assert_eq!(plan.left_out[0].why, SECRET);
}

#[test]
fn what_is_absent_is_left_out_with_who_named_it() {
    let mut source = MemorySource::default();
    source.put(r"C:\Filters\vendor.dll", Bits::B64, &["gone.dll"], None);
    let config = metabase(&[r"C:\Filters\vendor.dll", r"D:\Filters\missing.dll"], "");
    let (named, _) = named_images(&scenario(config, Os::X64)).unwrap();
    let plan = plan(&named, &server(Os::X64, r"C:\WINDOWS"), &source);
    let left: Vec<(&str, &str)> =
        plan.left_out.iter().map(|out| (out.path.as_str(), out.why.as_str())).collect();
    assert_eq!(
        left,
        [
            ("gone.dll", &*format!("{NOT_FOUND} (imported by vendor.dll)")),
            (r"D:\Filters\missing.dll", NOT_FOUND),
        ]
    );
    assert_eq!(copies(&plan), [r"C:\Filters\vendor.dll"]);
}

#[test]
fn a_vendors_dll_in_system32_is_copied_and_windows_own_images_are_only_recorded() {
    let mut source = MemorySource::default();
    source
        .put(
            r"C:\WINDOWS\system32\vendorfilter.dll",
            Bits::B32,
            &["kernel32.dll"],
            Some("Vendor Inc."),
        )
        .put(r"C:\WINDOWS\system32\inetsrv\asp.dll", Bits::B32, &["never.dll"], Some(MICROSOFT))
        .put(r"C:\WINDOWS\system32\kernel32.dll", Bits::B32, &[], Some(MICROSOFT));
    let config = metabase(
        &[r"C:\WINDOWS\system32\vendorfilter.dll"],
        r".asp,C:\WINDOWS\system32\inetsrv\asp.dll,5,GET,HEAD
.pl,C:\Perl\bin\perl.exe &quot;%s&quot; %s,5",
    );
    let (named, left_out) = named_images(&scenario(config, Os::X86)).unwrap();
    assert_eq!(left_out.len(), 1);
    assert_eq!(
        (left_out[0].path.as_str(), left_out[0].why.as_str()),
        (r"C:\Perl\bin\perl.exe", CGI)
    );
    let plan = plan(&named, &server(Os::X86, r"C:\WINDOWS"), &source);
    assert_eq!(copies(&plan), [r"C:\WINDOWS\system32\vendorfilter.dll"]);
    let recorded: Vec<&str> = plan.system_files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(
        recorded,
        [r"C:\WINDOWS\system32\inetsrv\asp.dll", r"C:\WINDOWS\system32\kernel32.dll"],
        "an OS image is recorded and not walked: its imports are the simulated machine's"
    );
    assert!(plan.left_out.is_empty(), "{:?}", plan.left_out);
}

#[test]
fn the_search_finds_the_servers_own_windows_folder_and_an_x86_servers_system32() {
    let mut source = MemorySource::default();
    source.put(r"D:\Filters\vendor.dll", Bits::B32, &["helper.dll"], None).put(
        r"C:\WINNT\system32\helper.dll",
        Bits::B32,
        &[],
        None,
    );
    let config = metabase(&[r"D:\Filters\vendor.dll"], "");
    let (named, _) = named_images(&scenario(config, Os::X86)).unwrap();
    let plan = plan(&named, &server(Os::X86, r"C:\WINNT"), &source);
    assert_eq!(copies(&plan), [r"C:\WINNT\system32\helper.dll", r"D:\Filters\vendor.dll"]);
    assert!(plan.left_out.is_empty(), "{:?}", plan.left_out);
}

#[test]
fn a_64_bit_servers_32_bit_filter_finds_its_dependencies_in_syswow64() {
    let mut source = MemorySource::default();
    source
        .put(r"C:\Filters\vendor.dll", Bits::B32, &["helper.dll"], None)
        .put(r"C:\Windows\System32\helper.dll", Bits::B64, &[], None)
        .put(r"C:\Windows\SysWOW64\helper.dll", Bits::B32, &[], None);
    let config = metabase(&[r"C:\Filters\vendor.dll"], "");
    let (named, _) = named_images(&scenario(config, Os::X64)).unwrap();
    let plan = plan(&named, &server(Os::X64, r"C:\Windows"), &source);
    assert_eq!(copies(&plan), [r"C:\Filters\vendor.dll", r"C:\Windows\SysWOW64\helper.dll"]);
}

#[test]
fn an_apphost_names_its_modules_for_both_bitnesses_its_filters_and_its_handlers() {
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools><add name="DefaultAppPool" /></applicationPools>
    <sites>
      <site name="Default Web Site" id="1">
        <application path="/"><virtualDirectory path="/" physicalPath="C:\inetpub\wwwroot" /></application>
        <bindings><binding protocol="http" bindingInformation="*:80:" /></bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <globalModules><add name="Vendor" image="%windir%\System32\inetsrv\vendor.dll" /></globalModules>
    <isapiFilters><filter name="F" path="C:\Filters\f.dll" /></isapiFilters>
    <handlers><add name="X" path="*.x" verb="*" modules="IsapiModule" scriptProcessor="C:\Ext\x.dll" /></handlers>
  </system.webServer>
</configuration>
"#;
    let config = Configuration::Apphost(
        crate::apphost::Apphost::parse(text, Path::new("applicationHost.config")).unwrap(),
    );
    let (named, left_out) = named_images(&scenario(config, Os::X64)).unwrap();
    assert!(left_out.is_empty(), "{left_out:?}");
    let candidates: Vec<Vec<&str>> =
        named.iter().map(|image| image.candidates.iter().map(WinPath::as_str).collect()).collect();
    assert_eq!(
        candidates,
        [
            vec![
                r"C:\Windows\System32\inetsrv\vendor.dll",
                r"C:\Windows\SysWOW64\inetsrv\vendor.dll"
            ],
            vec![r"C:\Filters\f.dll"],
            vec![r"C:\Ext\x.dll"],
        ]
    );
}
