/*
 * msvcr100.dll: a vendor's app-local copy of the Visual C++ 2010 runtime, shipped beside its
 * filter. It exports `strlen`, its own implementation, and its DllMain prints one line so that
 * a test can see whether this copy ran at all. Reproduces the row "the vendor ships an
 * app-local msvcr100.dll beside its DLL": Windows runs the vendor's copy, Wine 8 its builtin
 * under the vendor's file name.
 *
 * objdump -p (both builds): exports `strlen` (ordinal 1).
 * Built with -fno-builtin and -fno-tree-loop-distribute-patterns, so that the loop below stays
 * a loop and does not become a call to some other strlen.
 */
#include <windows.h>
#include <stddef.h>

size_t __cdecl strlen(const char *text)
{
    const char *end = text;
    while (*end != '\0')
        end++;
    return (size_t)(end - text);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        static const char line[] = "mock-deps vendor msvcr100.dll attached\r\n";
        DWORD written;
        WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), line, sizeof line - 1, &written, NULL);
    }
    return TRUE;
}
