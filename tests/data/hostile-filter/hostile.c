/*
 * A filter that attacks the harness rather than the machine, built by the matrix tests. Inside
 * GetFilterVersion it does one of two things, chosen when it is compiled:
 *   -DKILL_SERVER      ends every process it may signal (Linux's kill(-1, SIGKILL), as a raw
 *                      system call that Wine does not see), the wineserver among them: the
 *                      run's Wine machine is gone, and every host after it would fail to start.
 *   -DMALFORMED_REPORT writes a line with the host protocol's marker that is no report, as if
 *                      the host had said something the harness cannot read.
 * Either way a matrix must fail this scenario with its reason and go on with the others.
 */
#include <windows.h>
#include <httpfilt.h>

#if defined(KILL_SERVER)
/* x86_64 Linux: kill is system call 62, SIGKILL is 9, and pid -1 means every process the
 * caller may signal but itself. */
static long linux_kill(long pid, long signal)
{
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(62L), "D"(pid), "S"(signal)
                     : "rcx", "r11", "memory");
    return result;
}
#endif

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *version)
{
#if defined(KILL_SERVER)
    linux_kill(-1, 9);
    /* The server's end takes this process with it; give it the time to arrive. */
    Sleep(5000);
#elif defined(MALFORMED_REPORT)
    static const char line[] = "\n@isapi-host/1 {}\n";
    DWORD written = 0;
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), line, sizeof line - 1, &written, NULL);
#else
#error "build with -DKILL_SERVER or -DMALFORMED_REPORT"
#endif
    version->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(version->lpszFilterDesc, "A hostile filter", SF_MAX_FILTER_DESC_LEN);
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
