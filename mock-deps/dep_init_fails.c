/*
 * dep_init_fails.dll: a dependency whose DllMain returns FALSE on process attach. Reproduces the
 * row "a dependency's DllMain returns FALSE" of windows-loader-vs-wine.md: Windows and Wine both
 * fail the importing filter (imports_dep_init.dll) with 1114, ERROR_DLL_INIT_FAILED.
 *
 * objdump -p (both builds): exports `init_fn` (ordinal 1); imports KERNEL32.dll and msvcrt.dll.
 */
#include <windows.h>

int __cdecl init_fn(void)
{
    return 1;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reserved;
    return reason != DLL_PROCESS_ATTACH;
}
