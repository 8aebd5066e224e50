/*
 * What every mock ISAPI image shares (the filter, mock-filters/filter.c, and the extension,
 * mock-extensions/extension.c): the name of the architecture it was built for, the import
 * from a DLL that never exists, and the DllMain misbehaviours. One copy, so that a filter and
 * an extension of the same variant fail the loader in exactly the same way.
 *
 * Switches (each a -D define):
 *   MOCK_CRASH_IN_DLLMAIN   DllMain writes through a NULL pointer on process attach.
 *   MOCK_EXIT_IN_DLLMAIN    DllMain ends the whole process on process attach.
 *   MOCK_FAIL_DLLMAIN       DllMain returns FALSE on process attach.
 *   MOCK_IMPORT_ABSENT      the image imports a function from a DLL that does not exist.
 */
#ifndef MOCK_IMAGE_H
#define MOCK_IMAGE_H

#include <windows.h>

#if defined(_M_AMD64) || defined(__x86_64__)
#define MOCK_ARCH "AMD64"
#elif defined(_M_IX86) || defined(__i386__)
#define MOCK_ARCH "x86"
#elif defined(_M_ARM64) || defined(__aarch64__)
#define MOCK_ARCH "ARM64"
#else
#error "unknown target architecture"
#endif

#ifdef MOCK_IMPORT_ABSENT
__declspec(dllimport) int __cdecl MockAbsentFunction(void);
#endif

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
#ifdef MOCK_CRASH_IN_DLLMAIN
        *(volatile int *)0 = 1;
#endif
#ifdef MOCK_EXIT_IN_DLLMAIN
        ExitProcess(3);
#endif
#ifdef MOCK_FAIL_DLLMAIN
        return FALSE;
#endif
    }
    return TRUE;
}

#endif
