/*
 * A filter that stands for a user's own DLL: built by the test itself, outside the mock-filters
 * machinery, to show that the harness loads whatever file a user points it at.
 */
#include <windows.h>
#include <httpfilt.h>

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *version)
{
    version->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(version->lpszFilterDesc, "A user's own filter", SF_MAX_FILTER_DESC_LEN);
    version->dwFlags = SF_NOTIFY_ORDER_DEFAULT | SF_NOTIFY_NONSECURE_PORT | SF_NOTIFY_END_OF_REQUEST;
    return TRUE;
}

DWORD WINAPI HttpFilterProc(HTTP_FILTER_CONTEXT *context, DWORD notification, VOID *data)
{
    (void)context;
    (void)notification;
    (void)data;
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}
