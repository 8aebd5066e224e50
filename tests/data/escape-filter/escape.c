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
 *   "escape: inside=ok|FAIL read=<routes> wrote=<routes> net=<routes> trace=<calls>"
 * where each list names the routes that got through ("-" for none); `trace` lists the calls
 * of ptrace and process_vm_readv that the system did not refuse with EPERM.
 *
 * Built with -DHOSTILE=<n> it is instead one of the attacks below, each made with raw Linux
 * system calls where Wine would hide things, each saying in its description what it got:
 *   1 setuid   makes C:\setuid-probe.exe setuid and reports its owner, its mount's flags
 *              and the user namespace's uid map
 *   2 environ  reads /proc/N/environ of every process it can see, looking for PLANTED
 *   3 poison   overwrites the prefix's system32\userenv.dll and its system.reg
 *   4 detach   the first time: forks a child that leaves its session and rewrites
 *              C:\detached.txt every 50 ms; a later host: says whether that file still changes
 *   5 disk     writes up to 3 GB to C:\big.bin
 *   6 memory   takes memory 64 MiB at a time, touching every page, up to 8 GiB
 *   7 link     makes C:\Evil a link to LINK_TARGET, a folder outside the machine, for the
 *              harness to place a later scenario's image through
 *   8 pristine first says what an earlier scenario's DLL left that it can see (a file on
 *              C:, a registry value, system32's and syswow64's userenv.dll overwritten), then
 *              leaves all of them itself:
 *              "pristine: saw=<file,reg,dll64,dll32 or -> left=<the same or ->"
 *   9 processes forks children that sleep (with raw system calls, as a fork bomb would)
 *              until the system refuses one, ends and reaps them, and says how many it made
 *              and the refusal's errno: "processes: made=<n> errno=<e>"
 */
#include <winsock2.h>
#include <windows.h>
#include <httpfilt.h>
#include <stdio.h>
#include <string.h>

static char read_ok[512], wrote_ok[512], net_ok[128], trace_ok[128];

static void note(char *list, size_t size, const char *route)
{
    if (list[0])
        strncat(list, ",", size - strlen(list) - 1);
    strncat(list, route, size - strlen(list) - 1);
}

/* A Linux system call made directly (x86_64), as a hostile DLL can: Wine sees nothing of it.
 * Returns the kernel's answer, a negative errno on failure. (long long, not long: a Windows
 * long has 32 bits, too few for a pointer.) */
static long long sys6(long long n, long long a, long long b, long long c, long long d,
                      long long e, long long f)
{
    long long ret;
    register long long r10 __asm__("r10") = d;
    register long long r8 __asm__("r8") = e;
    register long long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sys3(n, a, b, c) \
    sys6((n), (long long)(INT_PTR)(a), (long long)(INT_PTR)(b), (long long)(INT_PTR)(c), 0, 0, 0)
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_stat 4
#define SYS_nanosleep 35
#define SYS_kill 62
#define SYS_wait4 61
#define SYS_getpid 39
#define SYS_fork 57
#define SYS_symlink 88
#define SYS_chmod 90
#define SYS_ptrace 101
#define SYS_setsid 112
#define SYS_statfs 137
#define SYS_process_vm_readv 310
#define EPERM_ 1

/* Whether ptrace and process_vm_readv are refused (EPERM) rather than answered. */
static void try_trace(void)
{
    char here[8] = "abcdefg", there[8];
    long long pid = sys3(SYS_getpid, 0, 0, 0);
    /* PTRACE_PEEKUSER on itself: not traced, so ESRCH unless the call is refused outright. */
    long long traced = sys6(SYS_ptrace, 3, pid, 0, 0, 0, 0);
    struct { void *base; size_t len; } local = { there, sizeof there }, remote = { here, sizeof here };
    /* Reading its own memory works unless the call is refused outright. */
    long long copied =
        sys6(SYS_process_vm_readv, pid, (long long)(INT_PTR)&local, 1, (long long)(INT_PTR)&remote, 1, 0);
    if (traced != -EPERM_)
        note(trace_ok, sizeof trace_ok, "ptrace");
    if (copied != -EPERM_)
        note(trace_ok, sizeof trace_ok, "process_vm_readv");
}

/* The Unix path Wine gives a Windows path (its own export), or NULL. */
static char *unix_name(const WCHAR *path)
{
    typedef char *(CDECL * unix_name_fn)(const WCHAR *);
    unix_name_fn get = (unix_name_fn)(void *)GetProcAddress(GetModuleHandleA("kernel32.dll"),
                                                            "wine_get_unix_file_name");
    return get ? get(path) : NULL;
}

/* Reads up to size-1 bytes of a Unix file: the count, or a negative errno. */
static long long read_unix(const char *path, char *buffer, long long size)
{
    long long fd = sys3(SYS_open, path, 0, 0), got;
    if (fd < 0)
        return fd;
    got = sys3(SYS_read, fd, buffer, size - 1);
    sys3(SYS_close, fd, 0, 0);
    buffer[got > 0 ? got : 0] = 0;
    return got;
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

#ifndef HOSTILE
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

#else
static void hostile(char *said, size_t size);
#endif

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *version)
{
#ifdef HOSTILE
    hostile(version->lpszFilterDesc, SF_MAX_FILTER_DESC_LEN);
#else
    /* A control: writing and reading inside the machine works, so a "nothing got through" is
     * the sandbox's doing, not a broken filter. */
    int inside = try_write("C:\\escape-inside.txt") && try_read("C:\\escape-inside.txt");
    DeleteFileA("C:\\escape-inside.txt");
    escape();
    try_trace();
    snprintf(version->lpszFilterDesc, SF_MAX_FILTER_DESC_LEN,
             "escape: inside=%s read=%s wrote=%s net=%s trace=%s", inside ? "ok" : "FAIL",
             read_ok[0] ? read_ok : "-", wrote_ok[0] ? wrote_ok : "-", net_ok[0] ? net_ok : "-",
             trace_ok[0] ? trace_ok : "-");
#endif
    version->dwFilterVersion = HTTP_FILTER_REVISION;
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

#ifdef HOSTILE
/* The attacks of -DHOSTILE=<n>; see the top of the file. */
static void hostile(char *said, size_t size)
{
#if HOSTILE == 1
    char map[128] = "", *unix;
    unsigned char st[256], fs[256];
    long long chmoded = -1, stated = -1, fsed = -1;
    try_write("C:\\setuid-probe.exe");
    unix = unix_name(L"C:\\setuid-probe.exe");
    if (unix) {
        chmoded = sys3(SYS_chmod, unix, 04755, 0);
        stated = sys3(SYS_stat, unix, st, 0);
        fsed = sys3(SYS_statfs, unix, fs, 0);
    }
    read_unix("/proc/self/uid_map", map, sizeof map);
    map[strcspn(map, "\n")] = 0;
    {
        /* x86_64's struct stat: st_mode at 24, st_uid at 28; struct statfs: f_flags at 80. */
        unsigned int mode = stated == 0 ? *(unsigned int *)(st + 24) : 0;
        unsigned int uid = stated == 0 ? *(unsigned int *)(st + 28) : 0xffffffffu;
        unsigned long long flags = fsed == 0 ? *(unsigned long long *)(fs + 80) : 0;
        snprintf(said, size, "setuid: chmod=%lld mode=%o uid=%u nosuid=%d nodev=%d map=%s",
                 chmoded, mode, uid, (int)((flags & 2) != 0), (int)((flags & 4) != 0), map);
    }
#elif HOSTILE == 2
    static char variables[65536];
    char path[64], found[128] = "";
    int pid, readable = 0;
    for (pid = 1; pid < 4096; pid++) {
        long long got, i;
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        got = read_unix(path, variables, sizeof variables);
        if (got < 0)
            continue;
        readable++;
        /* environ is NUL-separated: look at every variable. */
        for (i = 0; i < got; i += (long long)strlen(variables + i) + 1)
            if (strstr(variables + i, PLANTED)) {
                char pid_text[16];
                snprintf(pid_text, sizeof pid_text, "%d", pid);
                note(found, sizeof found, pid_text);
                break;
            }
    }
    snprintf(said, size, "environ: readable=%d found=%s", readable, found[0] ? found : "-");
#elif HOSTILE == 3
    static const char junk[] = "MZ this is no longer a DLL, nor a registry";
    char reg[1024];
    char *dll = unix_name(L"C:\\windows\\system32\\userenv.dll");
    char *drive = unix_name(L"C:\\");
    long long dll_written = -1, reg_written = -1, fd;
    if (dll && (fd = sys3(SYS_open, dll, 01 | 01000, 0)) >= 0) {
        dll_written = sys3(SYS_write, fd, junk, sizeof junk);
        sys3(SYS_close, fd, 0, 0);
    }
    if (drive) {
        /* ".../prefix/dosdevices/c:/" (or ".../prefix/drive_c/") -> ".../prefix/system.reg" */
        char *cut;
        snprintf(reg, sizeof reg, "%s", drive);
        cut = strstr(reg, "dosdevices");
        if (!cut)
            cut = strstr(reg, "drive_c");
        if (cut) {
            strcpy(cut, "system.reg");
            if ((fd = sys3(SYS_open, reg, 01 | 01000, 0)) >= 0) {
                reg_written = sys3(SYS_write, fd, junk, sizeof junk);
                sys3(SYS_close, fd, 0, 0);
            }
        }
    }
    snprintf(said, size, "poison: dll=%lld reg=%lld", dll_written, reg_written);
#elif HOSTILE == 4
    char first[32] = "", second[32] = "";
    if (GetFileAttributesA("C:\\detached.txt") != INVALID_FILE_ATTRIBUTES) {
        char *unix = unix_name(L"C:\\detached.txt");
        if (unix)
            read_unix(unix, first, sizeof first);
        Sleep(600);
        if (unix)
            read_unix(unix, second, sizeof second);
        snprintf(said, size, "detach: child %s", strcmp(first, second) ? "alive" : "gone");
    } else {
        char *unix;
        long long child;
        try_write("C:\\detached.txt");
        unix = unix_name(L"C:\\detached.txt");
        child = unix ? sys3(SYS_fork, 0, 0, 0) : -1;
        if (child == 0) {
            unsigned long counter = 0;
            struct { long long sec, nsec; } pause = { 0, 50 * 1000 * 1000 };
            sys3(SYS_setsid, 0, 0, 0);
            for (;;) {
                char text[32];
                long long fd = sys3(SYS_open, unix, 01 | 0100 | 01000, 0644);
                int length = snprintf(text, sizeof text, "%lu", ++counter);
                if (fd >= 0) {
                    sys3(SYS_write, fd, text, length);
                    sys3(SYS_close, fd, 0, 0);
                }
                sys3(SYS_nanosleep, &pause, 0, 0);
            }
        }
        snprintf(said, size, "detach: forked=%s", child > 0 ? "yes" : "no");
    }
#elif HOSTILE == 5
    static char block[1 << 20];
    DWORD put = 0, error = 0;
    unsigned int mib = 0;
    HANDLE file = CreateFileA("C:\\big.bin", GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    memset(block, 'x', sizeof block);
    if (file != INVALID_HANDLE_VALUE) {
        for (; mib < 3072; mib++)
            if (!WriteFile(file, block, sizeof block, &put, NULL) || put != sizeof block) {
                error = GetLastError();
                break;
            }
        CloseHandle(file);
    }
    snprintf(said, size, "disk: wrote=%u MiB error=%lu", mib, (unsigned long)error);
#elif HOSTILE == 6
    unsigned int mib = 0;
    for (; mib < 8192; mib += 64) {
        char *chunk = VirtualAlloc(NULL, 64 << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        if (!chunk)
            break;
        memset(chunk, 'x', 64 << 20);
    }
    snprintf(said, size, "memory: took=%u MiB", mib);
#elif HOSTILE == 8
    static const char junk[] = "MZ this is no longer a DLL";
    static const char *dlls[][2] = {
        { "dll64", "C:\\windows\\system32\\userenv.dll" },
        { "dll32", "C:\\windows\\syswow64\\userenv.dll" },
    };
    char saw[128] = "", left[128] = "";
    HKEY key;
    DWORD value = 0, length = sizeof value, put = 0;
    HANDLE file;
    int i;
    if (GetFileAttributesA("C:\\left-by-a-scenario.txt") != INVALID_FILE_ATTRIBUTES)
        note(saw, sizeof saw, "file");
    if (RegOpenKeyExA(HKEY_LOCAL_MACHINE, "Software\\isapi-harness-left", 0, KEY_READ, &key) ==
        ERROR_SUCCESS) {
        if (RegQueryValueExA(key, "left", NULL, NULL, (BYTE *)&value, &length) == ERROR_SUCCESS)
            note(saw, sizeof saw, "reg");
        RegCloseKey(key);
    }
    for (i = 0; i < 2; i++) {
        char head[sizeof junk] = "";
        DWORD got = 0;
        file = CreateFileA(dlls[i][1], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
        if (file != INVALID_HANDLE_VALUE) {
            ReadFile(file, head, sizeof head - 1, &got, NULL);
            CloseHandle(file);
        }
        if (got && memcmp(head, junk, got) == 0)
            note(saw, sizeof saw, dlls[i][0]);
    }
    if (try_write("C:\\left-by-a-scenario.txt"))
        note(left, sizeof left, "file");
    value = 1;
    if (RegCreateKeyExA(HKEY_LOCAL_MACHINE, "Software\\isapi-harness-left", 0, NULL, 0,
                        KEY_WRITE, NULL, &key, NULL) == ERROR_SUCCESS) {
        if (RegSetValueExA(key, "left", 0, REG_DWORD, (const BYTE *)&value, sizeof value) ==
            ERROR_SUCCESS)
            note(left, sizeof left, "reg");
        RegCloseKey(key);
    }
    for (i = 0; i < 2; i++) {
        file = CreateFileA(dlls[i][1], GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
        if (file == INVALID_HANDLE_VALUE)
            continue;
        if (WriteFile(file, junk, sizeof junk - 1, &put, NULL) && put == sizeof junk - 1)
            note(left, sizeof left, dlls[i][0]);
        CloseHandle(file);
    }
    snprintf(said, size, "pristine: saw=%s left=%s", saw[0] ? saw : "-", left[0] ? left : "-");
#elif HOSTILE == 9
    static long long children[8192];
    int made = 0, i;
    long long refused = 0;
    while (made < (int)(sizeof children / sizeof children[0])) {
        long long child = sys3(SYS_fork, 0, 0, 0);
        if (child == 0) {
            struct { long long sec, nsec; } pause = { 3600, 0 };
            for (;;)
                sys3(SYS_nanosleep, &pause, 0, 0);
        }
        if (child < 0) {
            refused = -child;
            break;
        }
        children[made++] = child;
    }
    /* The host goes on with its own threads only when the children are gone and reaped. */
    for (i = 0; i < made; i++)
        sys3(SYS_kill, children[i], 9, 0);
    for (i = 0; i < made; i++)
        sys6(SYS_wait4, children[i], 0, 0, 0, 0, 0);
    snprintf(said, size, "processes: made=%d errno=%lld", made, refused);
#elif HOSTILE == 7
    char *unix = unix_name(L"C:\\Evil");
    long long made = unix ? sys3(SYS_symlink, LINK_TARGET, unix, 0) : -1;
    snprintf(said, size, "link: made=%lld", made);
#endif
}
#endif
