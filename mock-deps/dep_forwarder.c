/*
 * dep_forwarder.dll: a DLL of forwarders only (dep_forwarder.def): `fwd_ok` to `dep.dep_fn`,
 * which resolves when dep.dll is there, and `fwd_missing` to `dep_absent.absent_fn`, whose DLL
 * never exists. Reproduces the row "imports through a forwarder whose target DLL or function
 * is missing" with imports_forwarded.dll: Windows probably 126/127, Wine 8 loads with a stub.
 *
 * objdump -p (both builds): `[   0] +base[   1] ... Forwarder RVA -- dep_absent.absent_fn`
 * (fwd_missing, ordinal 1) and `[   1] +base[   2] ... Forwarder RVA -- dep.dep_fn` (fwd_ok,
 * ordinal 2); names are sorted, so fwd_missing comes first.
 * The code here is only the C runtime's entry, which needs a translation unit.
 */
#include <windows.h>

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
