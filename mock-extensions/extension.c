/*
 * The mock ISAPI extension: one source, built for x86 and AMD64, with compile-time variants.
 *
 * A normal build behaves like ASP.NET's aspnet_isapi.dll as far as IIS can see: it accepts
 * GetExtensionVersion, answers every request with 200 and a short page that names its own
 * architecture, and lets itself be unloaded. The variants listed in variants.txt switch on one
 * misbehaviour each, the extension twins of the mock filter's, so that a request mapped to a
 * broken extension fails in a real process the way it would on a server.
 *
 * Variant switches (each a -D define; the DllMain and import ones are mock_image.h's):
 *   MOCK_REFUSE_ERROR=n     GetExtensionVersion calls SetLastError(n) and returns FALSE.
 *   MOCK_CRASH_IN_GEV       GetExtensionVersion writes through a NULL pointer.
 *   MOCK_CRASH_IN_DLLMAIN   DllMain writes through a NULL pointer on process attach.
 *   MOCK_FAIL_DLLMAIN       DllMain returns FALSE on process attach.
 *   MOCK_HANG_IN_GEV        GetExtensionVersion never returns.
 *   MOCK_CRASH_IN_HEP       HttpExtensionProc writes through a NULL pointer.
 *   MOCK_REQUEST_ERROR      HttpExtensionProc sets status 500 and returns HSE_STATUS_ERROR.
 *   MOCK_IMPORT_ABSENT      the extension imports a function from a DLL that does not exist.
 */
#include "../mock-filters/mock_image.h"
#include <httpext.h>

#ifndef MOCK_VARIANT
#define MOCK_VARIANT "extension"
#endif

#define MOCK_DESCRIPTION "Mock ISAPI extension (" MOCK_ARCH ", " MOCK_VARIANT ")"

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *version)
{
#ifdef MOCK_IMPORT_ABSENT
    /* Referenced so that the linker keeps the import; never reached, as the load fails first. */
    if (version == NULL)
        return MockAbsentFunction();
#endif
#ifdef MOCK_CRASH_IN_GEV
    *(volatile int *)0 = 1;
#endif
#ifdef MOCK_HANG_IN_GEV
    for (;;)
        Sleep(INFINITE);
#endif
    version->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(version->lpszExtensionDesc, MOCK_DESCRIPTION, HSE_MAX_EXT_DLL_NAME_LEN);
#ifdef MOCK_REFUSE_ERROR
    SetLastError(MOCK_REFUSE_ERROR);
    return FALSE;
#endif
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *ecb)
{
#ifdef MOCK_CRASH_IN_HEP
    *(volatile int *)0 = 1;
#endif
#ifdef MOCK_REQUEST_ERROR
    ecb->dwHttpStatusCode = 500;
    return HSE_STATUS_ERROR;
#else
    static char header[] = "Content-Type: text/html\r\n\r\n";
    static char page[] = "<html><body>" MOCK_DESCRIPTION "</body></html>";
    DWORD header_len = sizeof header - 1;
    DWORD page_len = sizeof page - 1;
    ecb->dwHttpStatusCode = 200;
    if (!ecb->ServerSupportFunction(ecb->ConnID, HSE_REQ_SEND_RESPONSE_HEADER, "200 OK",
                                    &header_len, (LPDWORD)header))
        return HSE_STATUS_ERROR;
    if (!ecb->WriteClient(ecb->ConnID, page, &page_len, HSE_IO_SYNC))
        return HSE_STATUS_ERROR;
    return HSE_STATUS_SUCCESS;
#endif
}

BOOL WINAPI TerminateExtension(DWORD flags)
{
    (void)flags;
    return TRUE;
}
