/*
 * A hostile filter, built by the sandbox tests: inside GetFilterVersion it tries every way out
 * of the simulated machine that Wine offers, then loads as if nothing happened.
 *
 * The test compiles in where its secrets and its listener are:
 *   SECRET_DIR  a folder under the real /tmp holding secret.txt   (e.g. "/tmp/isapi-escape-1")
 *   HOME_DIR    the real home folder, holding HOME_SECRET         (e.g. "/root")
 *   HOME_SECRET the name of the secret file there, also the stem of the home markers
 *   PORT        a TCP port the test listens on at 127.0.0.1
 * and reads the outcome from the description GetFilterVersion returns:
 *   "escape: inside=ok|FAIL read=<routes> wrote=<routes> net=<routes>"
 * where each list names the routes that got through ("-" for none).
 */
#include <winsock2.h>
#include <windows.h>
#include <httpfilt.h>
#include <stdio.h>
#include <string.h>

static char read_ok[512], wrote_ok[512], net_ok[128];

static void note(char *list, size_t size, const char *route)
{
    if (list[0])
        strncat(list, ",", size - strlen(list) - 1);
    strncat(list, route, size - strlen(list) - 1);
}

/* "/tmp/x" -> "<prefix>\tmp\x" */
static void windows_path(char *out, size_t size, const char *prefix, const char *unix_path,
                         const char *file)
{
    char *p;
    snprintf(out, size, "%s%s/%s", prefix, unix_path, file);
    for (p = out; *p; p++)
        if (*p == '/')
            *p = '\\';
}

static int try_read(const char *path)
{
    char buffer[64];
    DWORD got = 0;
    HANDLE file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return 0;
    ReadFile(file, buffer, sizeof buffer, &got, NULL);
    CloseHandle(file);
    return got > 0;
}

static int try_write(const char *path)
{
    DWORD put = 0;
    HANDLE file = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return 0;
    WriteFile(file, "escaped", 7, &put, NULL);
    CloseHandle(file);
    return put == 7;
}

static void escape(void)
{
    /* Route name, prefix before the Unix path. */
    static const char *routes[][2] = {
        { "z", "Z:" },
        { "unix", "\\\\?\\unix" },
        { "qz", "\\\\?\\Z:" },
        { "globalz", "\\\\.\\Z:" },
    };
    char path[MAX_PATH * 2], profile[MAX_PATH];
    int i;
    const char *links[] = { "Desktop", "Documents", "Downloads", "Music", "Pictures", "Videos" };

    for (i = 0; i < (int)(sizeof routes / sizeof routes[0]); i++) {
        char name[64];
        windows_path(path, sizeof path, routes[i][1], SECRET_DIR, "secret.txt");
        if (try_read(path)) {
            snprintf(name, sizeof name, "%s-tmp", routes[i][0]);
            note(read_ok, sizeof read_ok, name);
        }
        windows_path(path, sizeof path, routes[i][1], HOME_DIR, HOME_SECRET);
        if (try_read(path)) {
            snprintf(name, sizeof name, "%s-home", routes[i][0]);
            note(read_ok, sizeof read_ok, name);
        }
        windows_path(path, sizeof path, routes[i][1], "/etc", "shadow");
        if (try_read(path)) {
            snprintf(name, sizeof name, "%s-shadow", routes[i][0]);
            note(read_ok, sizeof read_ok, name);
        }
        snprintf(name, sizeof name, "marker-%s.txt", routes[i][0]);
        windows_path(path, sizeof path, routes[i][1], SECRET_DIR, name);
        if (try_write(path)) {
            snprintf(name, sizeof name, "%s-tmp", routes[i][0]);
            note(wrote_ok, sizeof wrote_ok, name);
        }
        snprintf(name, sizeof name, "%s-%s.txt", HOME_SECRET, routes[i][0]);
        windows_path(path, sizeof path, routes[i][1], HOME_DIR, name);
        if (try_write(path)) {
            snprintf(name, sizeof name, "%s-home", routes[i][0]);
            note(wrote_ok, sizeof wrote_ok, name);
        }
    }

    /* Wine's profile folders were links to the home folder. */
    if (!ExpandEnvironmentStringsA("%USERPROFILE%", profile, sizeof profile))
        strcpy(profile, "C:\\users\\root");
    for (i = 0; i < (int)(sizeof links / sizeof links[0]); i++) {
        char name[64];
        snprintf(path, sizeof path, "%s\\%s\\%s", profile, links[i], HOME_SECRET);
        if (try_read(path)) {
            snprintf(name, sizeof name, "%s", links[i]);
            note(read_ok, sizeof read_ok, name);
        }
        snprintf(path, sizeof path, "%s\\%s\\%s-%s.txt", profile, links[i], HOME_SECRET, links[i]);
        if (try_write(path)) {
            /* A write that stayed inside the machine is no escape; the test checks the home. */
            snprintf(name, sizeof name, "%s(maybe)", links[i]);
            note(wrote_ok, sizeof wrote_ok, name);
            DeleteFileA(path);
        }
    }

    /* The network: the test listens on 127.0.0.1:PORT. */
    {
        WSADATA wsa;
        if (WSAStartup(MAKEWORD(2, 2), &wsa) == 0) {
            SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
            if (s != INVALID_SOCKET) {
                struct sockaddr_in to;
                memset(&to, 0, sizeof to);
                to.sin_family = AF_INET;
                to.sin_port = htons(PORT);
                to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                if (connect(s, (struct sockaddr *)&to, sizeof to) == 0)
                    note(net_ok, sizeof net_ok, "tcp-loopback");
                closesocket(s);
            }
            WSACleanup();
        }
    }
}

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *version)
{
    /* A control: writing and reading inside the machine works, so a "nothing got through" is
     * the sandbox's doing, not a broken filter. */
    int inside = try_write("C:\\escape-inside.txt") && try_read("C:\\escape-inside.txt");
    DeleteFileA("C:\\escape-inside.txt");
    escape();
    version->dwFilterVersion = HTTP_FILTER_REVISION;
    snprintf(version->lpszFilterDesc, SF_MAX_FILTER_DESC_LEN,
             "escape: inside=%s read=%s wrote=%s net=%s", inside ? "ok" : "FAIL",
             read_ok[0] ? read_ok : "-", wrote_ok[0] ? wrote_ok : "-", net_ok[0] ? net_ok : "-");
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
