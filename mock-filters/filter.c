/*
 * The mock ISAPI filter: one source, built for x86 and AMD64, with compile-time variants.
 *
 * A normal build behaves like a well-mannered global filter (ASP.NET's filter is the model:
 * low priority, pre-processed headers and URL mapping). The variants listed in variants.txt
 * switch on one misbehaviour each, so that every way a filter load can fail is produced by a
 * real DLL in a real process rather than described.
 *
 * Variant switches (each a -D define; the DllMain and import ones are mock_image.h's):
 *   MOCK_REFUSE_ERROR=n     GetFilterVersion calls SetLastError(n) and returns FALSE.
 *   MOCK_CRASH_IN_GFV       GetFilterVersion writes through a NULL pointer.
 *   MOCK_CRASH_IN_DLLMAIN   DllMain writes through a NULL pointer on process attach.
 *   MOCK_FAIL_DLLMAIN       DllMain returns FALSE on process attach.
 *   MOCK_HANG_IN_GFV        GetFilterVersion never returns.
 *   MOCK_FLOOD_STDOUT       GetFilterVersion writes to standard output without end.
 *   MOCK_EXIT_IN_DLLMAIN    DllMain ends the whole process on process attach.
 *   MOCK_READ_RAW_DATA      the filter also asks for SF_NOTIFY_READ_RAW_DATA.
 *   MOCK_IMPORT_ABSENT      the filter imports a function from a DLL that does not exist.
 *
 * mock-deps/imports.c includes this file after defining MOCK_DEPENDENCY_USE(), an expression
 * that uses the one import its filter exists for; it is referenced in GetFilterVersion so that
 * the linker keeps the import.
 */
#include "mock_image.h"
#include <httpfilt.h>

#ifndef MOCK_VARIANT
#define MOCK_VARIANT "filter"
#endif

#define MOCK_DESCRIPTION "Mock ISAPI filter (" MOCK_ARCH ", " MOCK_VARIANT ")"

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *version)
{
#ifdef MOCK_IMPORT_ABSENT
    /* Referenced so that the linker keeps the import; never reached, as the load fails first. */
    if (version == NULL)
        return MockAbsentFunction();
#endif
#ifdef MOCK_DEPENDENCY_USE
    /* As above: the import is what the loader is tested on, and some of them are stubs under
     * Wine that must never be called. */
    if (version == NULL)
        return MOCK_DEPENDENCY_USE();
#endif
#ifdef MOCK_CRASH_IN_GFV
    *(volatile int *)0 = 1;
#endif
#ifdef MOCK_FLOOD_STDOUT
    {
        static const char line[] = "a filter that will not stop talking\r\n";
        HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
        DWORD written;
        for (;;)
            WriteFile(out, line, sizeof line - 1, &written, NULL);
    }
#endif
#ifdef MOCK_HANG_IN_GFV
    for (;;)
        Sleep(INFINITE);
#endif
    version->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(version->lpszFilterDesc, MOCK_DESCRIPTION, SF_MAX_FILTER_DESC_LEN);
    version->dwFlags = SF_NOTIFY_ORDER_LOW | SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT
        | SF_NOTIFY_PREPROC_HEADERS | SF_NOTIFY_URL_MAP | SF_NOTIFY_END_OF_REQUEST;
#ifdef MOCK_READ_RAW_DATA
    version->dwFlags |= SF_NOTIFY_READ_RAW_DATA;
#endif
#ifdef MOCK_REFUSE_ERROR
    SetLastError(MOCK_REFUSE_ERROR);
    return FALSE;
#endif
    return TRUE;
}

DWORD WINAPI HttpFilterProc(HTTP_FILTER_CONTEXT *context, DWORD notification, VOID *data)
{
    (void)context;
    (void)notification;
    (void)data;
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}

BOOL WINAPI TerminateFilter(DWORD flags)
{
    (void)flags;
    return TRUE;
}
