/*
 * dep.dll: the dependency every mock-deps/ filter's "dep" case imports from. Exports
 * `dep_fn` (ordinal 1) and `dep_other` (ordinal 2) by name (dep.def), and nothing at ordinal 77,
 * so that imports_dep_missing_name.dll and imports_dep_missing_ordinal.dll each ask it for one
 * thing it lacks.
 *
 * Its DllMain prints one line, so that a test can tell that this copy (not some other file of
 * the same name) is the one the loader attached.
 *
 * objdump -p (both builds): ordinal base 1, `[   0] dep_fn` and `[   1] dep_other` in the
 * name table (ordinals 1 and 2); imports KERNEL32.dll and msvcrt.dll only.
 */
#include <windows.h>

int __cdecl dep_fn(void)
{
    return 1;
}

int __cdecl dep_other(void)
{
    return 2;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        static const char line[] = "mock-deps dep.dll attached\r\n";
        DWORD written;
        WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), line, sizeof line - 1, &written, NULL);
    }
    return TRUE;
}
