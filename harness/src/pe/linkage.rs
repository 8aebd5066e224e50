//! What an image asks of the loader before it can run, and what it offers other images: its
//! static imports (each function by name or ordinal), its delay-loaded DLLs, its exports with
//! their forwarders, the side-by-side assemblies its embedded manifest depends on, and whether
//! it is one of Wine's own DLLs. This is what the Windows loader's rules
//! (`crate::windows_loader`) walk; like the rest of `pe`, it reads bytes and loads nothing.
//!
//! Every input is untrusted (a user's DLL, its dependencies, anything on the simulated disk):
//! nothing here panics, and a part that cannot be read is left empty with the reason in
//! [`Linkage::problem`].

use std::collections::HashMap;

use object::LittleEndian as LE;
use object::ReadRef;
use object::pe;
use object::read::pe::{
    ExportTarget, ImageNtHeaders, Import, PeFile, ResourceDirectory, ResourceNameOrId,
};

/// One function an image imports from a DLL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImportedFunction {
    Name(String),
    Ordinal(u16),
}

impl std::fmt::Display for ImportedFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportedFunction::Name(name) => f.write_str(name),
            ImportedFunction::Ordinal(ordinal) => write!(f, "ordinal {ordinal}"),
        }
    }
}

/// One DLL of the import table, with the functions taken from it, in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDll {
    pub name: String,
    pub functions: Vec<ImportedFunction>,
}

/// Where an export leads: code in the image, or another DLL's export (a forwarder, which the
/// loader follows when it binds an import to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportedAs {
    Code,
    Forward { dll: String, function: ImportedFunction },
}

/// A side-by-side assembly an embedded manifest depends on (`<dependentAssembly>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssemblyDependency {
    pub name: String,
    pub version: Option<String>,
    pub processor_architecture: Option<String>,
}

/// What an image links to and offers, as the loader binds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Linkage {
    pub imports: Vec<ImportedDll>,
    /// The DLLs named by the delay-load table: resolved at the first call, not at load.
    pub delay_imports: Vec<String>,
    /// Exports by name.
    pub exports_by_name: HashMap<String, ExportedAs>,
    /// Exports by ordinal (every slot of the address table that holds an address).
    pub exports_by_ordinal: HashMap<u16, ExportedAs>,
    /// The assemblies the embedded manifest (RT_MANIFEST, the ID a DLL's loader activates)
    /// depends on.
    pub manifest_dependencies: Vec<AssemblyDependency>,
    /// The DOS stub says "Wine builtin DLL" (or "Wine placeholder DLL"): one of Wine's own
    /// DLLs, whose exports are Wine's and not Windows's.
    pub wine_builtin: bool,
    pub problem: Option<String>,
}

impl Linkage {
    /// Whether the image exports what an import asks for.
    pub fn export(&self, function: &ImportedFunction) -> Option<&ExportedAs> {
        match function {
            ImportedFunction::Name(name) => self.exports_by_name.get(name),
            ImportedFunction::Ordinal(ordinal) => self.exports_by_ordinal.get(ordinal),
        }
    }
}

/// Reads an image's linkage. `bits` is what the headers said (`ImageInfo::bits`); a file
/// that is no PE image has none and is never read here.
pub fn read_linkage<'data, R: ReadRef<'data>>(bytes: R, bits: crate::arch::Bits) -> Linkage {
    let mut linkage = Linkage {
        wine_builtin: bytes.read_bytes_at(0x40, 32).is_ok_and(|stub| {
            stub.starts_with(b"Wine builtin DLL") || stub.starts_with(b"Wine placeholder DLL")
        }),
        ..Linkage::default()
    };
    // One of Wine's own DLLs is never walked (its imports and exports are Wine's): its mark is
    // all the rules read, and kernel32's export table is not parsed at every start.
    if linkage.wine_builtin {
        return linkage;
    }
    let read = match bits {
        crate::arch::Bits::B32 => read_pe::<pe::ImageNtHeaders32, R>(bytes, &mut linkage),
        crate::arch::Bits::B64 => read_pe::<pe::ImageNtHeaders64, R>(bytes, &mut linkage),
    };
    if let Err(problem) = read {
        linkage.problem.get_or_insert(problem);
    }
    linkage
}

fn read_pe<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    bytes: R,
    linkage: &mut Linkage,
) -> Result<(), String> {
    let file =
        PeFile::<Pe, R>::parse(bytes).map_err(|error| format!("headers unreadable: {error}"))?;
    if let Err(error) = read_imports(&file, linkage) {
        linkage.problem.get_or_insert(format!("import table unreadable: {error}"));
    }
    if let Err(error) = read_delay_imports(&file, linkage) {
        linkage.problem.get_or_insert(format!("delay-load table unreadable: {error}"));
    }
    if let Err(error) = read_exports(&file, linkage) {
        linkage.problem.get_or_insert(format!("export table unreadable: {error}"));
    }
    if let Err(error) = read_manifest(&file, bytes, linkage) {
        linkage.problem.get_or_insert(format!("manifest unreadable: {error}"));
    }
    Ok(())
}

/// The most functions read from one DLL's thunk list: a corrupt table must end somewhere.
const MAX_THUNKS: usize = 65_536;

fn read_imports<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    file: &PeFile<'data, Pe, R>,
    linkage: &mut Linkage,
) -> object::Result<()> {
    let Some(table) = file.import_table()? else { return Ok(()) };
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        let name = lossy(table.name(descriptor.name.get(LE))?);
        // The lookup table names what is imported; old binders left it 0 and only the
        // address table, which the loader then reads instead.
        let lookup = descriptor.original_first_thunk.get(LE);
        let thunks_at = if lookup != 0 { lookup } else { descriptor.first_thunk.get(LE) };
        let mut functions = Vec::new();
        let mut thunks = table.thunks(thunks_at)?;
        while let Some(thunk) = thunks.next::<Pe>()? {
            functions.push(match table.import::<Pe>(thunk)? {
                Import::Ordinal(ordinal) => ImportedFunction::Ordinal(ordinal),
                Import::Name(_, name) => ImportedFunction::Name(lossy(name)),
            });
            if functions.len() >= MAX_THUNKS {
                break;
            }
        }
        linkage.imports.push(ImportedDll { name, functions });
    }
    Ok(())
}

fn read_delay_imports<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    file: &PeFile<'data, Pe, R>,
    linkage: &mut Linkage,
) -> object::Result<()> {
    let Some(table) = file.delay_load_import_table()? else { return Ok(()) };
    let mut descriptors = table.descriptors()?;
    while let Some(descriptor) = descriptors.next()? {
        linkage.delay_imports.push(lossy(table.name(descriptor.dll_name_rva.get(LE))?));
    }
    Ok(())
}

fn read_exports<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    file: &PeFile<'data, Pe, R>,
    linkage: &mut Linkage,
) -> object::Result<()> {
    let Some(table) = file.export_table()? else { return Ok(()) };
    for export in table.exports()? {
        let target = match export.target {
            // An empty slot of the address table exports nothing at that ordinal.
            ExportTarget::Address(0) => continue,
            ExportTarget::Address(_) => ExportedAs::Code,
            ExportTarget::ForwardByName(dll, function) => ExportedAs::Forward {
                dll: lossy(dll),
                function: ImportedFunction::Name(lossy(function)),
            },
            ExportTarget::ForwardByOrdinal(dll, ordinal) => ExportedAs::Forward {
                dll: lossy(dll),
                function: ImportedFunction::Ordinal(ordinal.0),
            },
        };
        if let Some(name) = export.name {
            linkage.exports_by_name.insert(lossy(name), target.clone());
        }
        linkage.exports_by_ordinal.insert(export.ordinal.0, target);
    }
    Ok(())
}

/// The manifest a DLL's loader activates is RT_MANIFEST with ID 2
/// (ISOLATIONAWARE_MANIFEST_RESOURCE_ID); ID 1 is an executable's, which a DLL's load ignores.
const DLL_MANIFEST_ID: u16 = 2;
/// No real manifest comes near this; a bigger one is not read.
const MAX_MANIFEST: usize = 256 * 1024;

fn read_manifest<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    file: &PeFile<'data, Pe, R>,
    bytes: R,
    linkage: &mut Linkage,
) -> object::Result<()> {
    let sections = file.section_table();
    let Some(directory) = file.data_directories().resource_directory(bytes, &sections)? else {
        return Ok(());
    };
    let Some(data) = manifest_bytes(directory, &sections, bytes)? else { return Ok(()) };
    linkage.manifest_dependencies = manifest_dependencies(&data);
    Ok(())
}

fn manifest_bytes<'data, R: ReadRef<'data>>(
    directory: ResourceDirectory<'data>,
    sections: &object::read::pe::SectionTable<'data>,
    bytes: R,
) -> object::Result<Option<Vec<u8>>> {
    let root = directory.root()?;
    let Some(by_type) = root
        .entries
        .iter()
        .find(|entry| matches!(entry.name_or_id(), ResourceNameOrId::Id(pe::RT_MANIFEST)))
        .and_then(|entry| entry.data(directory).ok()?.table())
    else {
        return Ok(None);
    };
    let Some(by_language) = by_type
        .entries
        .iter()
        .find(|entry| matches!(entry.name_or_id(), ResourceNameOrId::Id(DLL_MANIFEST_ID)))
        .and_then(|entry| entry.data(directory).ok()?.table())
    else {
        return Ok(None);
    };
    let Some(data_entry) =
        by_language.entries.first().and_then(|entry| entry.data(directory).ok()?.data())
    else {
        return Ok(None);
    };
    let rva = data_entry.offset_to_data.get(LE);
    let size = data_entry.size.get(LE) as usize;
    if size > MAX_MANIFEST {
        return Ok(None);
    }
    let Some(offset) = sections.pe_file_range_at(rva).map(|(offset, _)| offset) else {
        return Ok(None);
    };
    Ok(bytes.read_bytes_at(u64::from(offset), size as u64).ok().map(<[u8]>::to_vec))
}

/// The `<dependentAssembly><assemblyIdentity .../>` of a manifest, in order. A manifest that
/// is not XML names nothing (the loader would refuse it; that case is not modelled).
fn manifest_dependencies(manifest: &[u8]) -> Vec<AssemblyDependency> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(manifest);
    let mut in_dependent_assembly = false;
    let mut found = Vec::new();
    let mut buffer = Vec::new();
    while let Ok(event) = reader.read_event_into(&mut buffer) {
        match event {
            Event::Start(tag) if local_name(tag.name().0) == "dependentAssembly" => {
                in_dependent_assembly = true;
            }
            Event::End(tag) if local_name(tag.name().0) == "dependentAssembly" => {
                in_dependent_assembly = false;
            }
            Event::Start(tag) | Event::Empty(tag)
                if in_dependent_assembly && local_name(tag.name().0) == "assemblyIdentity" =>
            {
                let attribute = |wanted: &str| {
                    tag.attributes()
                        .flatten()
                        .find(|a| a.key.0 == wanted)
                        .map(|a| a.value.as_ref().to_owned())
                };
                if let Some(name) = attribute("name") {
                    found.push(AssemblyDependency {
                        name,
                        version: attribute("version"),
                        processor_architecture: attribute("processorArchitecture"),
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    found
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_its_dependent_assemblies_and_not_itself() {
        let manifest = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity name="Vendor.Filter" version="1.0.0.0" type="win32"/>
  <dependency>
    <dependentAssembly>
      <assemblyIdentity type="win32" name="Microsoft.VC90.CRT" version="9.0.21022.8"
        processorArchitecture="x86" publicKeyToken="1fc8b3b9a1e18e3b"></assemblyIdentity>
    </dependentAssembly>
  </dependency>
</assembly>"#;
        assert_eq!(
            manifest_dependencies(manifest),
            vec![AssemblyDependency {
                name: "Microsoft.VC90.CRT".to_owned(),
                version: Some("9.0.21022.8".to_owned()),
                processor_architecture: Some("x86".to_owned()),
            }]
        );
    }

    #[test]
    fn a_manifest_that_is_not_xml_names_nothing() {
        assert!(manifest_dependencies(b"\xff\xfe garbage <<<").is_empty());
    }

    #[test]
    fn a_file_that_is_not_an_image_has_an_empty_linkage_and_says_why() {
        let linkage = read_linkage(&b"hello"[..], crate::arch::Bits::B32);
        assert!(linkage.imports.is_empty() && !linkage.wine_builtin);
        assert!(linkage.problem.is_some());
    }
}
