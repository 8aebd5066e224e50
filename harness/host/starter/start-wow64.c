/*
 * start-wow64.exe: a 64-bit Windows program that starts the 32-bit program named by the rest
 * of its command line, with the same standard handles, waits for it and exits with its exit
 * code.
 *
 * Why it exists: Wine 8, asked on its command line for a 32-bit program, first starts its own
 * start.exe as a 64-bit process (which loads the shell, the window system and the fonts) and
 * lets that create the 32-bit process. This program does only the CreateProcess, as IIS's own
 * 64-bit services start a 32-bit w3wp.exe, at less than half of start.exe's cost. The harness
 * uses it under Wine only; on Windows it starts every host itself.
 */
#include <windows.h>
#include <stdio.h>

/* The command line after this program's own name (quoted or not) and the blanks after it:
 * the child's command line, exactly as this program was given it. */
static WCHAR *after_own_name(WCHAR *line)
{
    BOOL quoted = FALSE;
    for (; *line; line++) {
        if (*line == L'"')
            quoted = !quoted;
        else if (!quoted && (*line == L' ' || *line == L'\t'))
            break;
    }
    while (*line == L' ' || *line == L'\t')
        line++;
    return line;
}

int main(void)
{
    STARTUPINFOW startup = { sizeof(startup) };
    PROCESS_INFORMATION child;
    DWORD code = 1;
    WCHAR *command_line = after_own_name(GetCommandLineW());

    if (!*command_line) {
        fputs("start-wow64: name the program to start\n", stderr);
        return 2;
    }
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    startup.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessW(NULL, command_line, NULL, NULL, TRUE, 0, NULL, NULL, &startup, &child)) {
        fprintf(stderr, "start-wow64: CreateProcess failed with error %lu\n", GetLastError());
        return 1;
    }
    WaitForSingleObject(child.hProcess, INFINITE);
    GetExitCodeProcess(child.hProcess, &code);
    return (int)code;
}
