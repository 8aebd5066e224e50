#!/usr/bin/env python3
"""Writes the regression scenarios: one metabase in IIS's own format and one expectation per case.

The expectations encode IIS 6.0's documented behaviour, independently of the harness's code:
in IIS 5.0 isolation mode (IIs5IsolationModeEnabled TRUE, the schema default when absent) the
global filters load into inetinfo.exe at service start, 64-bit on x64 whatever
Enable32BitAppOnWin64 says, and a filter that fails stops W3SVC; in worker process isolation mode
they load into w3wp.exe on the first request, 32-bit on x64 when Enable32BitAppOnWin64 is TRUE
(at AppPools, or inherited from W3SVC), and a filter that fails gives the request 503. 32-bit
Windows runs everything 32-bit. The harness computes none of this from these files: it loads the
filters for real and the test compares.

Run it from anywhere (`python3 tests/scenarios/generate.py`); it rewrites the files in place.
With a folder as its argument it writes there instead, which is how the tidy test checks that
the files in the repository are exactly what it writes. It owns `matrix/`, `quirks/`,
`extensions/` and `iis7/`; any other folder under tests/scenarios holds hand-written cases.

The extension cases follow the documented rules for ISAPI extensions on IIS 6.0: a request's
file extension is mapped by ScriptMaps (the nearest key at or above the URL's folder that sets
them); the extension runs in the pool's w3wp.exe in worker process isolation mode, and in IIS 5.0
isolation mode in inetinfo.exe for AppIsolated 0 or in dllhost.exe for 1 and 2, 64-bit on x64; an
extension of the other bitness answers 500 with the loader's 193 (KB 895976); one the Web
Service Extension list prohibits answers 404.2 and is never loaded (cc759233).
"""
import json
import pathlib
import sys

HERE = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent
FILTER_PATHS = {
    "x86": r"C:\Filters\x86\mockfilter.dll",
    "amd64": r"C:\Filters\amd64\mockfilter.dll",
}
FRAMEWORK_X86 = r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll"
FRAMEWORK = {
    "x86": r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727",
    "amd64": r"C:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727",
}


def key(element, location, attributes, nl="\r\n", children=""):
    lines = [f"<{element}\tLocation =\"{location}\""]
    lines += [f"\t\t{name}=\"{value}\"" for name, value in attributes]
    lines.append("\t>")
    text = nl.join(lines) + nl + children + f"</{element}>" + nl
    return text


def document(keys, nl="\r\n", bom=True, namespace="urn:microsoft-catalog:XML_Metabase_V64_0"):
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    head = f"<?xml version =\"1.0\"?>{nl}<configuration{xmlns}>{nl}<MBProperty>{nl}"
    tail = f"</MBProperty>{nl}</configuration>{nl}"
    text = head + "".join(keys) + tail
    return ("\ufeff" if bom else "") + text


def standard_keys(iis5, e32_w3svc, e32_pools, filters, nl="\r\n", load_order=None,
                  filters_location="/LM/W3SVC/Filters", pools_location="/LM/W3SVC/AppPools",
                  extra_filter_attributes=None, extra_keys=()):
    keys = [
        key("IIS_Global", ".", [("SessionKey", "496344627000000024d680"), ("XMLSchemaTimeStamp", "5cb0f52c7e3dc501")], nl),
        key("IIsComputer", "/LM", [("EnableEditWhileRunning", "0"), ("EnableHistory", "1"), ("MaxHistoryFiles", "10")], nl),
    ]
    w3svc = [("AppPoolId", "DefaultAppPool"), ("AllowKeepAlive", "TRUE")]
    if iis5 is not None:
        w3svc.append(("IIs5IsolationModeEnabled", iis5))
    if e32_w3svc is not None:
        w3svc.append(("Enable32BitAppOnWin64", e32_w3svc))
    w3svc.append(("AuthFlags", "AuthAnonymous | AuthNTLM"))
    keys.append(key("IIsWebService", "/LM/W3SVC", w3svc, nl))
    pools = [("AppPoolAutoStart", "TRUE")]
    if e32_pools is not None:
        pools.append(("Enable32BitAppOnWin64", e32_pools))
    keys.append(key("IIsApplicationPools", pools_location, pools, nl))
    keys.append(key("IIsApplicationPool", pools_location + "/DefaultAppPool", [("AppPoolIdentityType", "2")], nl))
    names = [name for name, _ in filters]
    order = load_order if load_order is not None else ",".join(names)
    keys.append(key("IIsFilters", filters_location, [("AdminACL", "496344627000000024d680000000"), ("FilterLoadOrder", order)], nl))
    for name, path in filters:
        attributes = [("FilterDescription", name), ("FilterEnabled", "TRUE"), ("FilterPath", path)]
        attributes += (extra_filter_attributes or {}).get(name, [])
        keys.append(key("IIsFilter", f"{filters_location}/{name}", attributes, nl))
    keys.extend(extra_keys)
    return keys


def expectation(os_, iis5, e32, arch):
    """What IIS 6.0 does with one filter of `arch`, from the documented rules."""
    iis5_mode = iis5 in ("TRUE", None)
    if os_ == "x86":
        bits = 32
    elif iis5_mode:
        bits = 64
    else:
        bits = 32 if e32 else 64
    loads = (bits == 64) == (arch == "amd64")
    if iis5_mode:
        return {
            "started": loads, "process": "inetinfo.exe", "bits": bits, "loaded": loads,
            "win32_error": None if loads else 193, "status": 200 if loads else None,
            "events": [] if loads else [2274, 2268, 7023],
        }
    return {
        "started": True, "process": "w3wp.exe", "bits": bits, "loaded": loads,
        "win32_error": None if loads else 193, "status": 200 if loads else 503,
        "events": [] if loads else [2274, 2268, 1039],
    }


def write_case(folder, name, text, spec):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xml").write_bytes(text.encode("utf-8"))
    (folder / f"{name}.json").write_text(json.dumps(spec, indent=2) + "\n")


def matrix():
    folder = HERE / "matrix"
    for os_ in ("x64", "x86"):
        for iis5_name, iis5 in (("iis5-true", "TRUE"), ("iis5-false", "FALSE"), ("iis5-absent", None)):
            for e32_name, e32_w3svc, e32_pools in (
                ("e32-apppools", None, "TRUE"),
                ("e32-w3svc-only", "TRUE", None),
                ("e32-absent", None, None),
            ):
                for arch in ("x86", "amd64"):
                    filters = [("MockFilter", FILTER_PATHS[arch])]
                    text = document(standard_keys(iis5, e32_w3svc, e32_pools, filters))
                    e32 = (e32_w3svc or e32_pools) == "TRUE"
                    spec = {
                        "os": os_,
                        "images": [f"{FILTER_PATHS[arch]}={arch}"],
                        "expected": expectation(os_, iis5, e32, arch),
                    }
                    write_case(folder, f"{os_}-{iis5_name}-{e32_name}-{arch}", text, spec)


def quirks():
    """One case per parsing quirk, each on the seed's failing configuration (x64, IIS 5.0
    isolation mode, the 32-bit Framework filter) unless the quirk needs another."""
    folder = HERE / "quirks"
    seed_filter = [("ASP.NET_2.0.50727.0", FRAMEWORK_X86)]
    fails = expectation("x64", "TRUE", True, "x86")
    loads_in_wow64 = expectation("x64", "FALSE", True, "x86")

    def case(name, text, expected, images=()):
        write_case(folder, name, text, {"os": "x64", "images": list(images), "expected": expected})

    case("bom-crlf-v64-namespace", document(standard_keys("TRUE", None, "TRUE", seed_filter)), fails)
    case("no-bom-lf-no-namespace",
         document(standard_keys("TRUE", None, "TRUE", seed_filter, nl="\n"), nl="\n", bom=False, namespace=None), fails)
    case("v54-namespace",
         document(standard_keys("TRUE", None, "TRUE", seed_filter), namespace="urn:microsoft-catalog:XML_Metabase_V54_0"), fails)
    case("lowercase-key-paths",
         document(standard_keys("FALSE", None, "TRUE", seed_filter, filters_location="/lm/w3svc/filters",
                                pools_location="/LM/W3SVC/apppools")), loads_in_wow64)
    multiline = key("IIsWebVirtualDir", "/LM/W3SVC/1/ROOT", [
        ("AccessFlags", "AccessRead | AccessScript"),
        ("ScriptMaps", ".asp,C:\\WINDOWS\\system32\\inetsrv\\asp.dll,5,GET,HEAD,POST,TRACE\r\n\t\t\t.aspx,"
                       + FRAMEWORK_X86.replace("aspnet_filter.dll", "aspnet_isapi.dll") + ",1,GET,HEAD,POST,DEBUG"),
    ])
    case("values-over-several-lines",
         document(standard_keys("TRUE", None, "TRUE", seed_filter, extra_keys=[multiline])), fails)
    compression = key("IIsCompressionSchemes", "/LM/W3SVC/Filters/Compression/Parameters", [("HcSendCacheHeaders", "FALSE")]) \
        + key("IIsCompressionScheme", "/LM/W3SVC/Filters/Compression/gzip", [("HcDoStaticCompression", "TRUE"),
              ("HcFileExtensions", "htm\r\n\t\t\thtml\r\n\t\t\ttxt")])
    case("load-order-blanks-and-compression",
         document(standard_keys("TRUE", None, "TRUE", seed_filter, load_order="  ASP.NET_2.0.50727.0 , Compression ,",
                                extra_keys=[compression])), fails)
    disabled = document(standard_keys("TRUE", None, "TRUE", seed_filter,
                                      extra_filter_attributes={"ASP.NET_2.0.50727.0": [("FilterEnabled", "FALSE")]}))
    # A disabled filter is not loaded at all: the service starts with no filter to report.
    disabled = disabled.replace('\t\tFilterEnabled="TRUE"\r\n\t\tFilterPath', '\t\tFilterPath')
    case("filter-enabled-false", disabled,
         {"started": True, "process": None, "bits": None, "loaded": None, "win32_error": None, "status": 200, "events": []})
    two = [("AMD64Filter", FILTER_PATHS["amd64"]), ("ASP.NET_2.0.50727.0", FRAMEWORK_X86)]
    case("load-order-decides-first-load", document(standard_keys("TRUE", None, "TRUE", two)),
         {"started": False, "process": "inetinfo.exe", "bits": 64, "loaded": True, "win32_error": None, "status": None,
          "events": [2274, 2268, 7023]},
         images=[f"{FILTER_PATHS['amd64']}=amd64"])
    # IIS looks for a filter's file before it loads it, so a file that is not there fails with
    # the file check's ERROR_FILE_NOT_FOUND (event data 02 00 00 00), not the loader's 126;
    # ERROR_PATH_NOT_FOUND when not even its folder is there.
    case("missing-file-is-2",
         document(standard_keys("TRUE", None, None, [("Gone", r"C:\Filters\gone\nothing.dll")])),
         {"started": False, "process": "inetinfo.exe", "bits": 64, "loaded": False, "win32_error": 2, "status": None,
          "events": [2214, 2268, 7023]},
         images=[r"C:\Filters\gone\neighbour.dll=amd64"])
    case("missing-folder-is-3",
         document(standard_keys("TRUE", None, None, [("Gone", r"C:\Filters\nowhere\nothing.dll")])),
         {"started": False, "process": "inetinfo.exe", "bits": 64, "loaded": False, "win32_error": 3, "status": None,
          "events": [2214, 2268, 7023]})


def extensions():
    """ASP.NET pages on x64: the filter and the extension each at their standard Framework path
    (where the harness places the matching mock), ScriptMaps at the root or below, and the Web
    Service Extension list as aspnet_regiis -enable writes it. A request that an extension
    answers pins the process that ran it, as `extension_ran_in`."""
    folder = HERE / "extensions"

    def isapi(arch):
        return FRAMEWORK[arch] + "\\aspnet_isapi.dll"

    def maps(arch, nl="\r\n"):
        line = ",{},1,GET,HEAD,POST,DEBUG"
        return (".aspx" + line.format(isapi(arch)) + nl + "\t\t.asmx" + line.format(isapi(arch)))

    def allowed(arch, nl="\r\n"):
        return (f"0,*.dll{nl}\t\t0,*.exe{nl}\t\t1,{isapi(arch)},0,ASP.NET v2.0.50727,ASP.NET v2.0.50727")

    def case(name, iis5, e32, filter_arch, root_maps, restriction, app_isolated, requests, events,
             sub_maps=None, root_cgi="", sub_element="IIsWebVirtualDir", site_maps=None,
             w3svc_extra=(), images=()):
        """`requests`: (url, status, substatus, win32_error[, the process that ran its
        extension]). `sub_maps`: the ScriptMaps of /ROOT/legacy (an `IIsWebVirtualDir`, or
        `sub_element`), an architecture (ASP.NET's two maps) or a list as written. `root_cgi`:
        entries (escaped for XML) added to the root's ScriptMaps. `site_maps`: ScriptMaps on
        the site's own key, /LM/W3SVC/1."""
        keys = standard_keys(iis5, None, e32, [("ASP.NET_2.0.50727.0", FRAMEWORK[filter_arch] + "\\aspnet_filter.dll")])
        w3svc = next(i for i, k in enumerate(keys) if k.startswith("<IIsWebService"))
        extra = [("ScriptMaps", maps(root_maps) + root_cgi)]
        if restriction is not None:
            extra.append(("WebSvcExtRestrictionList", restriction))
        extra += list(w3svc_extra)
        keys[w3svc] = keys[w3svc].replace("\t>\r\n</IIsWebService>",
                                          "".join(f"\t\t{n}=\"{v}\"\r\n" for n, v in extra) + "\t>\r\n</IIsWebService>")
        site = [("ServerBindings", ":80:"), ("ServerComment", "Default Web Site")]
        if site_maps is not None:
            site.append(("ScriptMaps", maps(site_maps)))
        keys.append(key("IIsWebServer", "/LM/W3SVC/1", site))
        keys.append(key("IIsWebVirtualDir", "/LM/W3SVC/1/ROOT",
                        [("AppIsolated", str(app_isolated)), ("AppRoot", "/LM/W3SVC/1/ROOT"), ("Path", r"C:\Inetpub\wwwroot")]))
        if sub_maps is not None:
            sub_maps = maps(sub_maps) if sub_maps in FRAMEWORK else sub_maps
            attributes = [("ScriptMaps", sub_maps)]
            if sub_element == "IIsWebVirtualDir":
                attributes.insert(0, ("Path", r"C:\Inetpub\legacy"))
            keys.append(key(sub_element, "/LM/W3SVC/1/ROOT/legacy", attributes))
        iis5_mode = iis5 == "TRUE"
        bits = 64 if iis5_mode or e32 != "TRUE" else 32
        expected = {
            "started": True, "process": "inetinfo.exe" if iis5_mode else "w3wp.exe", "bits": bits,
            "loaded": True, "win32_error": None, "status": requests[0][1], "events": events,
            "requests": [],
        }
        for url, status, sub, error, *ran_in in requests:
            request = {"url": url, "status": status, "substatus": sub, "win32_error": error}
            if ran_in:
                request["extension_ran_in"] = ran_in[0]
            expected["requests"].append(request)
        write_case(folder, name, document(keys), {"os": "x64", "images": list(images), "expected": expected})

    ok, wrong, prohibited = (200, None, None), (500, None, 193), (404, 2, 1260)
    w3wp32, w3wp64 = "32-bit w3wp.exe", "64-bit w3wp.exe"
    inetinfo64, dllhost64 = "64-bit inetinfo.exe", "64-bit dllhost.exe"
    # Fix A of the seed: 32-bit workers, the 32-bit filter and extension.
    case("wpm-32bit-workers-x86-extension", "FALSE", "TRUE", "x86", "x86", allowed("x86"), 2,
         [("/default.aspx", *ok, w3wp32), ("/index.htm", *ok)], [])
    # David Wang's "%1 is not a valid Win32 application": 32-bit workers, .aspx mapped to Framework64.
    case("wpm-32bit-workers-amd64-extension-is-500-193", "FALSE", "TRUE", "x86", "amd64", allowed("amd64"), 2,
         [("/default.aspx", *wrong, w3wp32), ("/index.htm", *ok)], [])
    # Fix B of the seed: IIS 5.0 isolation mode, everything 64-bit, the pooled root in dllhost.exe.
    case("iis5-pooled-app-amd64-extension-in-dllhost", "TRUE", None, "amd64", "amd64", allowed("amd64"), 2,
         [("/default.aspx", *ok, dllhost64)], [])
    case("iis5-in-process-app-x86-extension-is-500-193", "TRUE", "TRUE", "amd64", "x86", allowed("x86"), 0,
         [("/default.aspx", *wrong, inetinfo64)], [])
    case("iis5-isolated-app-x86-extension-is-500-193", "TRUE", None, "amd64", "x86", allowed("x86"), 1,
         [("/default.aspx", *wrong, dllhost64)], [])
    # A DLL listed in InProcessIsapiApps stays in inetinfo.exe, whatever the application's protection.
    case("iis5-in-process-isapi-app-runs-in-inetinfo", "TRUE", None, "amd64", "amd64", allowed("amd64"), 2,
         [("/default.aspx", *ok, inetinfo64)], [], w3svc_extra=[("InProcessIsapiApps", isapi("amd64"))])
    # Installed but not allowed: aspnet_regiis -i without -enable.
    case("prohibited-extension-is-404-2", "FALSE", None, "amd64", "amd64",
         allowed("amd64").replace("\t\t1,", "\t\t0,"), 2, [("/default.aspx", *prohibited), ("/index.htm", *ok)], [])
    # ScriptMaps set below the root replace the root's for that folder only.
    case("script-maps-below-the-root-replace-the-root-s", "FALSE", "TRUE", "x86", "x86",
         allowed("x86") + "\r\n\t\t1," + isapi("amd64") + ",0,ASP.NET v2.0.50727,ASP.NET v2.0.50727", 2,
         [("/default.aspx", *ok, w3wp32), ("/legacy/default.aspx", *wrong, w3wp32)], [], sub_maps="amd64")
    # The same on a plain folder (an IIsWebDirectory key, no virtual directory of its own).
    case("script-maps-on-a-web-directory-replace-the-root-s", "FALSE", "TRUE", "x86", "x86",
         allowed("x86") + "\r\n\t\t1," + isapi("amd64") + ",0,ASP.NET v2.0.50727,ASP.NET v2.0.50727", 2,
         [("/default.aspx", *ok, w3wp32), ("/legacy/default.aspx", *wrong, w3wp32)], [], sub_maps="amd64",
         sub_element="IIsWebDirectory")
    # ScriptMaps on the site's key replace /LM/W3SVC's for the whole site.
    case("script-maps-on-the-site-replace-the-service-s", "FALSE", None, "amd64", "x86",
         allowed("amd64") + "\r\n\t\t1," + isapi("x86") + ",0,ASP.NET v2.0.50727,ASP.NET v2.0.50727", 2,
         [("/default.aspx", *ok, w3wp64), ("/legacy/default.aspx", *ok, w3wp64)], [], site_maps="amd64")
    # A wildcard application map takes every request below it first, even one for a file with
    # an entry of its own and one for a folder.
    both_allowed = allowed("x86") + "\r\n\t\t1," + isapi("amd64") + ",0,ASP.NET v2.0.50727,ASP.NET v2.0.50727"
    case("wildcard-map-takes-every-request-below-it", "FALSE", "TRUE", "x86", "x86", both_allowed, 2,
         [("/default.aspx", *ok, w3wp32), ("/legacy/default.aspx", *wrong, w3wp32), ("/legacy/", *wrong, w3wp32),
          ("/index.htm", *ok)],
         [], sub_maps="*," + isapi("amd64") + ",0\r\n\t\t" + maps("x86"))
    # An extension whose file is not there: the loader's 126, and IIS answers 500.
    case("missing-extension-is-500-126", "FALSE", None, "amd64", "amd64", allowed("amd64"), 2,
         [("/default.aspx", 500, None, 126, w3wp64)], [], images=[isapi("amd64") + "=missing"])
    # What the extension's own code answers is what the client gets: HSE_STATUS_ERROR is a 500.
    case("extension-request-error-is-500", "FALSE", None, "amd64", "amd64", allowed("amd64"), 2,
         [("/default.aspx", 500, None, None, w3wp64)], [], images=[isapi("amd64") + "=amd64:extension_request_error"])
    # A map to a CGI program (an .exe, here an interpreter with its arguments) is started as a
    # process by IIS, not loaded: the harness runs none and reports no status; the Web Service
    # Extension list still answers 404.2 for a CGI it prohibits (0,*.exe).
    perl = r"C:\Perl\bin\perl.exe &quot;%s&quot; %s"
    case("cgi-maps-are-never-loaded", "FALSE", "TRUE", "x86", "x86",
         allowed("x86") + "\r\n\t\t1," + perl + ",0,Perl CGI,Perl CGI", 2,
         [("/default.aspx", *ok, w3wp32), ("/cgi-bin/test.pl", None, None, None), ("/index.php", *prohibited)], [],
         root_cgi="\r\n\t\t.pl," + perl + ",5,GET,HEAD,POST\r\n\t\t.php,C:\\PHP\\php-cgi.exe,5")


APPHOST_MODULES = ["loghttp.dll", "static.dll", "isapi.dll", "filter.dll"]
MODULE_PATHS = {"x86": r"C:\Modules\x86\mockmodule.dll", "amd64": r"C:\Modules\amd64\mockmodule.dll"}


def apphost(own, defaults, filter_path, precondition, module_path=None):
    """An applicationHost.config as IIS 7+ writes it (CRLF, no BOM): one pool, one site on :80,
    the standard modules from %windir%\System32\inetsrv, one global filter."""
    nl = "\r\n"
    own_attr = f' enable32BitAppOnWin64="{own}"' if own is not None else ""
    defaults_attr = f' enable32BitAppOnWin64="{defaults}"' if defaults is not None else ""
    modules = [f'            <add name="M{i}" image="%windir%\\System32\\inetsrv\\{dll}" />' for i, dll in enumerate(APPHOST_MODULES)]
    if module_path:
        modules.append(f'            <add name="ThirdPartyModule" image="{module_path}" />')
    pre = f' preCondition="{precondition}"' if precondition else ""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<configuration>",
        "    <configSections>",
        '        <sectionGroup name="system.applicationHost">',
        '            <section name="applicationPools" allowDefinition="AppHostOnly" overrideModeDefault="Deny" />',
        '            <section name="sites" allowDefinition="AppHostOnly" overrideModeDefault="Deny" />',
        "        </sectionGroup>",
        '        <sectionGroup name="system.webServer">',
        '            <section name="globalModules" allowDefinition="AppHostOnly" overrideModeDefault="Deny" />',
        '            <section name="isapiFilters" allowDefinition="MachineToApplication" overrideModeDefault="Deny" />',
        "        </sectionGroup>",
        "    </configSections>",
        "    <system.applicationHost>",
        "        <applicationPools>",
        f'            <add name="DefaultAppPool"{own_attr} />',
        f'            <applicationPoolDefaults managedRuntimeVersion="v4.0"{defaults_attr}>',
        '                <processModel identityType="ApplicationPoolIdentity" />',
        "            </applicationPoolDefaults>",
        "        </applicationPools>",
        "        <sites>",
        '            <site name="Default Web Site" id="1">',
        '                <application path="/">',
        '                    <virtualDirectory path="/" physicalPath="%SystemDrive%\\inetpub\\wwwroot" />',
        "                </application>",
        "                <bindings>",
        '                    <binding protocol="http" bindingInformation="*:80:" />',
        "                </bindings>",
        "            </site>",
        '            <applicationDefaults applicationPool="DefaultAppPool" />',
        "        </sites>",
        "    </system.applicationHost>",
        "    <system.webServer>",
        "        <globalModules>",
        *modules,
        "        </globalModules>",
        "        <isapiFilters>",
        f'            <filter name="MockFilter" path="{filter_path}"{pre} />',
        "        </isapiFilters>",
        "    </system.webServer>",
        "</configuration>",
    ]
    return nl.join(lines) + nl


def iis7_expectation(bits, filter_arch, precondition, module_arch=None):
    """What IIS 7+ does on x64, from the documented rules: a filter whose bitness precondition
    does not hold is skipped; one that is loaded and of the other architecture fails with 193
    and the site answers 500; a module of the other architecture stops the worker (503,
    W3SVC-WP 2282 and 2280)."""
    skipped = precondition is not None and precondition != f"bitness{bits}"
    filter_loads = (bits == 64) == (filter_arch == "amd64")
    module_loads = module_arch is None or (bits == 64) == (module_arch == "amd64")
    if not module_loads:
        status, events = 503, [2282, 2280]
    elif skipped or filter_loads:
        status, events = 200, []
    else:
        status, events = 500, []
    if skipped:
        return {"started": True, "process": None, "bits": None, "loaded": None, "win32_error": None,
                "status": status, "events": events}
    return {"started": True, "process": "w3wp.exe", "bits": bits, "loaded": filter_loads,
            "win32_error": None if filter_loads else 193, "status": status, "events": events}


def iis7():
    """Pool bitness (own attribute, applicationPoolDefaults, neither) × filter architecture ×
    bitness precondition present or not, and module architecture × pool bitness."""
    folder = HERE / "iis7"
    for own_name, own in (("own-true", "true"), ("own-false", "false"), ("own-absent", None)):
        for defaults_name, defaults in (("defaults-true", "true"), ("defaults-false", "false"), ("defaults-absent", None)):
            e32 = own == "true" if own is not None else defaults == "true"
            bits = 32 if e32 else 64
            for arch in ("x86", "amd64"):
                for pre_name, precondition in (("no-precondition", None), ("precondition", "bitness32" if arch == "x86" else "bitness64")):
                    spec = {"os": "x64", "images": [f"{FILTER_PATHS[arch]}={arch}"],
                            "expected": iis7_expectation(bits, arch, precondition)}
                    text = apphost(own, defaults, FILTER_PATHS[arch], precondition)
                    write_apphost_case(folder, f"{own_name}-{defaults_name}-{arch}-{pre_name}", text, spec)
    for pool_name, own in (("pool-32bit", "true"), ("pool-64bit", "false")):
        bits = 32 if own == "true" else 64
        filter_arch = "x86" if bits == 32 else "amd64"
        for module_arch in ("x86", "amd64"):
            spec = {"os": "x64",
                    "images": [f"{FILTER_PATHS[filter_arch]}={filter_arch}", f"{MODULE_PATHS[module_arch]}={module_arch}:module"],
                    "expected": iis7_expectation(bits, filter_arch, None, module_arch)}
            text = apphost(own, None, FILTER_PATHS[filter_arch], None, MODULE_PATHS[module_arch])
            write_apphost_case(folder, f"module-{module_arch}-{pool_name}", text, spec)


def write_apphost_case(folder, name, text, spec):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.config").write_bytes(text.encode("utf-8"))
    (folder / f"{name}.json").write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    matrix()
    quirks()
    extensions()
    iis7()
