/*
 * The mock IIS 7+ native module: one source, built for x86 and AMD64.
 *
 * IIS loads a global module's DLL into every worker whose preconditions it meets and calls its
 * exported RegisterModule with IIS's own server interfaces (IHttpModuleRegistrationInfo,
 * IHttpServer). The harness has no such interfaces, so the host only resolves RegisterModule
 * and never calls it; this DLL exists so that the loader's answer for a module of either
 * architecture comes from a real image. Calling it anyway would find it refusing: it returns
 * E_NOTIMPL without touching its arguments.
 */
#include <windows.h>

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}

/* HRESULT WINAPI RegisterModule(DWORD dwServerVersion, IHttpModuleRegistrationInfo *pModuleInfo,
 *                               IHttpServer *pGlobalInfo), as httpserv.h declares it. */
HRESULT WINAPI RegisterModule(DWORD server_version, void *module_info, void *global_info)
{
    (void)server_version;
    (void)module_info;
    (void)global_info;
    return E_NOTIMPL;
}
