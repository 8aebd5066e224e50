//! Where each of a scenario's requests goes on IIS 7+: HTTP.sys's bindings pick the site, the
//! longest application path its pool, and the handlers the ISAPI extension or CGI program.

use super::*;

impl Iis7<'_> {
    pub(super) fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|pool| pool.config.name.eq_ignore_ascii_case(name))
    }

    pub(super) fn started_sites(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.sites.len()).filter(|&at| self.sites[at].auto_start)
    }

    /// The URLs to send: the scenario's own, else one `GET /` to each started site at its
    /// first binding; each sent `repeat_requests` times.
    pub(super) fn urls(&self) -> Vec<RequestUrl> {
        let mut urls: Vec<RequestUrl> = self.scenario.requests.clone();
        if urls.is_empty() {
            for site in self.started_sites() {
                let Some(binding) = self.sites[site].bindings.first() else { continue };
                let host = match (&binding.host, binding.ip) {
                    (Some(host), _) => host.clone(),
                    (None, Some(ip)) => ip.to_string(),
                    (None, None) => "localhost".to_owned(),
                };
                if let Ok(url) = RequestUrl::parse(&format!("http://{host}:{}/", binding.port)) {
                    urls.push(url);
                }
            }
        }
        urls.into_iter()
            .flat_map(|url| std::iter::repeat_n(url, self.scenario.repeat_requests as usize))
            .collect()
    }

    pub(super) fn route_requests(&self) -> Vec<Request> {
        self.urls().into_iter().map(|url| Request { target: self.route(&url), url }).collect()
    }

    pub(super) fn route(&self, url: &RequestUrl) -> Target {
        let site = match url.host {
            None => match self.started_sites().min_by_key(|&at| self.sites[at].id) {
                Some(site) => Route::Site(site),
                None => Route::NoListener,
            },
            Some(_) => {
                let listeners = self.started_sites().flat_map(|at| {
                    self.sites[at].bindings.iter().map(move |binding| (at, binding))
                });
                http_sys::route(listeners, url)
            }
        };
        let site = match site {
            Route::Site(site) => site,
            Route::InvalidHostname => return Target::InvalidHostname,
            Route::NoListener => return Target::NoListener,
        };
        let config = &self.sites[site];
        let application = config
            .applications
            .iter()
            .filter(|app| path_under(&url.path, &app.path))
            .max_by_key(|app| app.path.trim_end_matches('/').len());
        let pool = application.and_then(|app| self.pool_index(&app.pool));
        let location = match application {
            Some(app) if app.path.trim_matches('/').is_empty() => config.name.clone(),
            Some(app) => format!("{}/{}", config.name, app.path.trim_matches('/')),
            None => config.name.clone(),
        };
        let first = pool.and_then(|pool| {
            let pool = &self.pools[pool];
            self.apphost
                .handlers(&location)
                .into_iter()
                .filter(|handler| handler_matches(handler, &url.path))
                .find(|handler| {
                    preconditions_hold(
                        &handler.preconditions,
                        self.scenario.os,
                        pool.bits,
                        pool.config.pipeline_mode,
                        &pool.config.runtime_version,
                    )
                    .is_none()
                })
        });
        let handler = first.and_then(|handler| {
            let module = |name: &str| handler.modules.eq_ignore_ascii_case(name);
            if module("CgiModule") || module("FastCgiModule") {
                Some(MappedHandler::Cgi)
            } else if module("IsapiModule") && handler.script_processor.is_some() {
                Some(MappedHandler::Isapi(Box::new(handler)))
            } else {
                None
            }
        });
        Target::Site { site, pool, handler }
    }
}
