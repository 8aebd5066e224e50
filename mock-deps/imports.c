/*
 * The dependency filters: each is mock-filters/filter.c's well-behaved filter (included below,
 * so all of them export GetFilterVersion, HttpFilterProc and TerminateFilter through
 * mock-filters/filter.def) with one import added, chosen by one switch. Each row of
 * shared/reference/windows-loader-vs-wine.md's "Measured" table that concerns a dependency has
 * a filter here; the build (xtask/src/mock_deps.rs) links each against an import library made
 * from a .def in this folder rather than against a real DLL, so the import table names exactly
 * the DLL and function (or ordinal) the row needs.
 *
 * Switches (each a -D define) and what `objdump -p` shows in the import table (both builds;
 * every filter also imports KERNEL32.dll and msvcrt.dll for mingw-w64's own start-up code):
 *   DEPS_IMPORT_DEP_FN         imports_dep.dll: dep.dll, `dep_fn`. delay_imports_dep.dll (with
 *                              the delay-load library instead): no ordinary import of it; the
 *                              delay-load descriptor naming dep_absent.dll and `dep_fn` is in
 *                              .idata, but GNU ld 2.40 leaves data directory 13 (Delay Import
 *                              Directory) empty, so objdump shows no delay import table.
 *   DEPS_IMPORT_DEP_MISSING    imports_dep_missing_name.dll: dep.dll, `dep_missing`.
 *   DEPS_IMPORT_DEP_BY_ORDINAL imports_dep_missing_ordinal.dll: dep.dll, ordinal 77 (no name).
 *   DEPS_IMPORT_INIT_FN        imports_dep_init.dll: dep_init_fails.dll, `init_fn`.
 *   DEPS_IMPORT_FWD_MISSING    imports_forwarded.dll: dep_forwarder.dll, `fwd_missing`.
 *   DEPS_IMPORT_STRLEN         imports_msvcr100.dll: msvcr100.dll, `strlen`.
 *   DEPS_IMPORT_MEMSET         imports_vcruntime140.dll: vcruntime140.dll, `memset`.
 *   DEPS_IMPORT_MFC42          imports_mfc42.dll: mfc42.dll, ordinal 1 (no name).
 *   DEPS_IMPORT_COR_DLL_MAIN   imports_mscoree.dll: mscoree.dll, `_CorDllMain`.
 *   (none)                     manifest_vc90.dll: no extra import; its resource directory holds
 *                              type 24 (RT_MANIFEST), ID 2, from manifest_vc90.rc, asking for
 *                              Microsoft.VC90.CRT of the build's processorArchitecture.
 *
 * Built with -fno-builtin, so that the compiler keeps strlen and memset as calls into the
 * runtime DLL rather than working them out itself.
 */
#include <windows.h>
#include <string.h>

#if defined(DEPS_IMPORT_DEP_FN)
__declspec(dllimport) int __cdecl dep_fn(void);
#define MOCK_DEPENDENCY_USE() dep_fn()
#elif defined(DEPS_IMPORT_DEP_MISSING)
__declspec(dllimport) int __cdecl dep_missing(void);
#define MOCK_DEPENDENCY_USE() dep_missing()
#elif defined(DEPS_IMPORT_DEP_BY_ORDINAL)
__declspec(dllimport) int __cdecl dep_by_ordinal(void);
#define MOCK_DEPENDENCY_USE() dep_by_ordinal()
#elif defined(DEPS_IMPORT_INIT_FN)
__declspec(dllimport) int __cdecl init_fn(void);
#define MOCK_DEPENDENCY_USE() init_fn()
#elif defined(DEPS_IMPORT_FWD_MISSING)
__declspec(dllimport) int __cdecl fwd_missing(void);
#define MOCK_DEPENDENCY_USE() fwd_missing()
#elif defined(DEPS_IMPORT_STRLEN)
#define MOCK_DEPENDENCY_USE() (strlen(MOCK_VARIANT) != 0)
#elif defined(DEPS_IMPORT_MEMSET)
static char scratch[4];
#define MOCK_DEPENDENCY_USE() (memset(scratch, 0, sizeof scratch) != NULL)
#elif defined(DEPS_IMPORT_MFC42)
__declspec(dllimport) int __cdecl mfc42_ordinal_1(void);
#define MOCK_DEPENDENCY_USE() mfc42_ordinal_1()
#elif defined(DEPS_IMPORT_COR_DLL_MAIN)
__declspec(dllimport) int __cdecl _CorDllMain(void);
#define MOCK_DEPENDENCY_USE() _CorDllMain()
#endif

#include "../mock-filters/filter.c"
