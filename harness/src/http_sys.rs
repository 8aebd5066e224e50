//! HTTP.sys's half of a request: which site's binding takes a URL. IIS 6.0 and IIS 7+ both
//! write a site's bindings as `IP:port:host header` and register them with HTTP.sys, which
//! routes each request before any IIS code sees it; so this module serves both models.
//!
//! HTTP.sys ranks the URL prefixes a binding registers (the "UrlPrefix Strings" reference of the
//! HTTP Server API): a binding with a host header (`http://host:port/`) before one with only
//! an IP address (`http://10.0.0.5:port/`) before the wildcard of "All Unassigned"
//! (`http://*:port/`). A binding with both an IP and a host header is the most specific of all.
//! A request on a port that some binding listens on but whose host no binding accepts gets
//! HTTP.sys's own 400 ("Bad Request - Invalid Hostname"); a port nobody listens on is refused
//! by TCP, so there is no answer at all.
//!
//! The IP address a request arrives on is the URL's host when that is an IPv4 literal. For a
//! host name the harness cannot know which of the server's addresses it resolves to, so it
//! takes one that no IP-specific binding names: such a request reaches host-header and
//! "All Unassigned" bindings only.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `ServerBindings` (IIS 6.0) or `bindingInformation` (IIS 7+) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// None for "All Unassigned" (an empty or `*` IP part).
    pub ip: Option<IpAddr>,
    pub port: u16,
    /// None for a binding without a host header. Kept in lower case: host names are
    /// compared without regard to case.
    pub host: Option<String>,
}

impl Binding {
    /// Parses `IP:port:host`, where IP and host may be empty (`:80:`), IP may be `*`, and an
    /// IPv6 address is in brackets (`[fe80::1]:80:`).
    pub fn parse(text: &str) -> Result<Binding, String> {
        let malformed = || format!("binding `{text}` is not IP:port:host header (like `:80:`)");
        let trimmed = text.trim();
        // An IPv6 address is written in brackets, since it holds colons itself.
        let (ip, rest) = match trimmed.strip_prefix('[') {
            Some(bracketed) => {
                let (address, rest) = bracketed.split_once("]:").ok_or_else(malformed)?;
                let ip = address
                    .parse::<Ipv6Addr>()
                    .map_err(|_| format!("binding `{text}`: `{address}` is not an IPv6 address"))?;
                (Some(IpAddr::V6(ip)), rest)
            }
            None => {
                let (ip, rest) = trimmed.split_once(':').ok_or_else(malformed)?;
                let ip = match ip.trim() {
                    "" | "*" => None,
                    ip => Some(IpAddr::V4(ip.parse::<Ipv4Addr>().map_err(|_| {
                        format!("binding `{text}`: `{ip}` is not an IP address, empty, or `*`")
                    })?)),
                };
                (ip, rest)
            }
        };
        let (port, host) = rest.split_once(':').ok_or_else(malformed)?;
        let port =
            port.trim().parse::<u16>().ok().filter(|&port| port != 0).ok_or_else(|| {
                format!("binding `{text}`: `{port}` is not a port from 1 to 65535")
            })?;
        let host = host.trim();
        let host = (!host.is_empty()).then(|| host.to_ascii_lowercase());
        Ok(Binding { ip, port, host })
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = match self.ip {
            Some(IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => String::new(),
        };
        write!(f, "{ip}:{}:{}", self.port, self.host.as_deref().unwrap_or(""))
    }
}

/// A request's target: `http://host[:port]/path`, or `/path` for "the first site".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    /// As the user wrote it.
    pub text: String,
    /// None for a bare `/path`. Lower case.
    pub host: Option<String>,
    pub port: u16,
    /// From the first `/`, query string excluded.
    pub path: String,
}

impl RequestUrl {
    pub fn parse(text: &str) -> Result<RequestUrl, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('/') {
            return Ok(RequestUrl {
                text: trimmed.to_owned(),
                host: None,
                port: 80,
                path: without_query(trimmed).to_owned(),
            });
        }
        let Some(rest) = strip_prefix_ignore_case(trimmed, "http://") else {
            return Err(format!(
                "request `{text}` is neither `/path` nor `http://host[:port]/path` (https is not modelled)"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().ok().filter(|&port| port != 0).ok_or_else(|| {
                    format!("request `{text}`: `{port}` is not a port from 1 to 65535")
                })?;
                (host, port)
            }
            None => (authority, 80),
        };
        if host.is_empty() || host.contains(['@', '[', ']', ' ']) {
            return Err(format!("request `{text}`: `{host}` is not a host name or IPv4 address"));
        }
        Ok(RequestUrl {
            text: trimmed.to_owned(),
            host: Some(host.to_ascii_lowercase()),
            port,
            path: without_query(path).to_owned(),
        })
    }

    /// The address the request arrives on, when the URL says it.
    fn ip(&self) -> Option<IpAddr> {
        self.host.as_deref().and_then(|host| host.parse().ok())
    }
}

impl fmt::Display for RequestUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Where HTTP.sys sends a request with a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<K> {
    /// The site whose binding is the most specific match.
    Site(K),
    /// Some binding listens on the port, none accepts the host: HTTP.sys answers 400 itself.
    InvalidHostname,
    /// Nothing listens on the port: the connection is refused and nothing answers.
    NoListener,
}

/// The bindings of the sites that started, indexed the way HTTP.sys looks them up, so that
/// routing a request costs the same on a server with thousands of sites as on one with one.
pub struct Router<K> {
    host_and_ip: HashMap<(u16, String, IpAddr), K>,
    host: HashMap<(u16, String), K>,
    ip: HashMap<(u16, IpAddr), K>,
    all_unassigned: HashMap<u16, K>,
    listened: HashSet<u16>,
}

impl<K: Copy> Router<K> {
    /// Among equally specific bindings the first listed wins, as a deterministic stand-in for
    /// a configuration IIS itself refuses to start (two sites with the same binding).
    pub fn new<'b>(listeners: impl IntoIterator<Item = (K, &'b Binding)>) -> Router<K> {
        let mut router = Router {
            host_and_ip: HashMap::new(),
            host: HashMap::new(),
            ip: HashMap::new(),
            all_unassigned: HashMap::new(),
            listened: HashSet::new(),
        };
        for (site, binding) in listeners {
            router.listened.insert(binding.port);
            let port = binding.port;
            match (&binding.host, binding.ip) {
                (Some(host), Some(ip)) => {
                    router.host_and_ip.entry((port, host.clone(), ip)).or_insert(site);
                }
                (Some(host), None) => {
                    router.host.entry((port, host.clone())).or_insert(site);
                }
                (None, Some(ip)) => {
                    router.ip.entry((port, ip)).or_insert(site);
                }
                (None, None) => {
                    router.all_unassigned.entry(port).or_insert(site);
                }
            }
        }
        router
    }

    /// Where `url` (which must have a host) goes: the most specific binding that takes it.
    pub fn route(&self, url: &RequestUrl) -> Route<K> {
        let port = url.port;
        let host = url.host.clone().unwrap_or_default();
        let ip = url.ip();
        let found = ip
            .and_then(|ip| self.host_and_ip.get(&(port, host.clone(), ip)))
            .or_else(|| self.host.get(&(port, host)))
            .or_else(|| ip.and_then(|ip| self.ip.get(&(port, ip))))
            .or_else(|| self.all_unassigned.get(&port));
        match found {
            Some(&site) => Route::Site(site),
            None if self.listened.contains(&port) => Route::InvalidHostname,
            None => Route::NoListener,
        }
    }
}

/// Routes one request: [`Router::new`] then [`Router::route`].
pub fn route<'b, K: Copy>(
    listeners: impl IntoIterator<Item = (K, &'b Binding)>,
    url: &RequestUrl,
) -> Route<K> {
    Router::new(listeners).route(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(texts: &[&str]) -> Vec<Binding> {
        texts.iter().map(|text| Binding::parse(text).unwrap()).collect()
    }

    fn route_to(sites: &[(u32, &[&str])], url: &str) -> Route<u32> {
        let parsed: Vec<(u32, Vec<Binding>)> =
            sites.iter().map(|(id, texts)| (*id, bindings(texts))).collect();
        let listeners =
            parsed.iter().flat_map(|(id, list)| list.iter().map(move |binding| (*id, binding)));
        route(listeners, &RequestUrl::parse(url).unwrap())
    }

    #[test]
    fn bindings_parse_in_every_written_form() {
        assert_eq!(Binding::parse(":80:").unwrap(), Binding { ip: None, port: 80, host: None });
        assert_eq!(
            Binding::parse("10.0.0.5:8080:WWW.Example.com").unwrap(),
            Binding {
                ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
                port: 8080,
                host: Some("www.example.com".into())
            }
        );
        assert_eq!(Binding::parse("*:443:").unwrap().ip, None);
        let v6 = Binding::parse("[fe80::1]:8080:").unwrap();
        assert_eq!((v6.ip, v6.port), (Some("fe80::1".parse().unwrap()), 8080));
        assert_eq!(v6.to_string(), "[fe80::1]:8080:");
        assert_eq!(
            Binding::parse("10.0.0.5:8080:WWW.Example.com").unwrap().to_string(),
            "10.0.0.5:8080:www.example.com"
        );
        for bad in ["80", ":0:", ":http:", "300.1.1.1:80:", ":65536:"] {
            assert!(Binding::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_parse_with_default_port_and_without_query() {
        let url = RequestUrl::parse("http://Intranet:8080/app/page.aspx?x=1").unwrap();
        assert_eq!(
            (url.host.as_deref(), url.port, url.path.as_str()),
            (Some("intranet"), 8080, "/app/page.aspx")
        );
        let url = RequestUrl::parse("http://example.com").unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        assert_eq!(RequestUrl::parse("/default.aspx").unwrap().host, None);
        for bad in ["ftp://x/", "https://x/", "http://:80/", "http://x:0/", "default.aspx"] {
            assert!(RequestUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_most_specific_binding_wins() {
        let sites: &[(u32, &[&str])] =
            &[(1, &[":80:"]), (2, &[":80:shop.example.com"]), (3, &["10.0.0.5:80:"])];
        assert_eq!(route_to(sites, "http://shop.example.com/"), Route::Site(2));
        assert_eq!(route_to(sites, "http://SHOP.example.com/"), Route::Site(2));
        assert_eq!(route_to(sites, "http://other.example.com/"), Route::Site(1));
        assert_eq!(route_to(sites, "http://10.0.0.5/"), Route::Site(3));
        assert_eq!(route_to(sites, "http://10.0.0.6/"), Route::Site(1));
    }

    #[test]
    fn an_unaccepted_host_on_a_listened_port_is_400_and_an_unlistened_port_gets_nothing() {
        let sites: &[(u32, &[&str])] = &[(1, &[":80:www.example.com"]), (2, &[":8080:"])];
        assert_eq!(route_to(sites, "http://other.example.com/"), Route::InvalidHostname);
        assert_eq!(route_to(sites, "http://other.example.com:8080/"), Route::Site(2));
        assert_eq!(route_to(sites, "http://www.example.com:81/"), Route::NoListener);
    }
}
