/*
 * A stand-in for bcryptprimitives.dll, for Wine versions that lack it.
 *
 * Rust's standard library for the windows-gnu targets imports ProcessPrng from
 * bcryptprimitives.dll, which Windows 10 and later have and Wine 8.0 does not: without it the
 * host process ends before main with STATUS_DLL_NOT_FOUND and prints nothing. `cargo xtask build`
 * builds this file beside the host executables only when the loader in use lacks the DLL.
 */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
