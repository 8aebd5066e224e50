//! Worker process isolation mode's half of the IIS 6.0 model, and the requests of either mode:
//! each request goes to the process that serves its site (a pool's w3wp.exe, started for it,
//! or the running inetinfo.exe), and a worker that fails is counted by WAS's rapid-fail clock.

use super::*;

impl Iis6<'_> {
    /// Sends the requests from `requests[from]` on, until one needs a host to start.
    pub(super) fn serve(&mut self, from: usize) -> Next {
        for request in from..self.requests.len() {
            let Request { url, ordinal, target, .. } = self.requests[request].clone();
            let (site, pool) = match target {
                Target::Site { site, pool } => (site, pool),
                // HTTP.sys's own answer: no site, no worker.
                Target::InvalidHostname => {
                    self.respond(request, Some(400), None);
                    continue;
                }
                Target::NoAnswer(_) => {
                    self.respond(request, None, None);
                    continue;
                }
            };
            if let Some(error) = self.sites[site].failed {
                let id = self.sites[site].config.id.clone();
                self.happen(Iis6Happening::RequestToFailedSite { ordinal, url, site: id });
                self.respond(request, Some(503), error);
                continue;
            }
            if self.mode == IsolationMode::Iis5 {
                let Some(inetinfo) = &self.inetinfo else {
                    unreachable!("IIS 5.0 isolation mode serves only once inetinfo.exe runs")
                };
                let status = inetinfo.status_for(&self.sites[site]);
                self.happen(Iis6Happening::ServedBySameWorker {
                    ordinal,
                    url,
                    process: ProcessName::Inetinfo,
                    pool: None,
                });
                match status {
                    Some(status) => {
                        if let Some(next) = self.deliver(request, status) {
                            return next;
                        }
                    }
                    None => self.respond(request, None, None),
                }
                continue;
            }
            let name = self.pools[pool].name.clone();
            if self.pools[pool].disabled {
                self.happen(Iis6Happening::RequestToDisabledPool { ordinal, url, pool: name });
                let error = self.pools[pool].last_error;
                self.respond(request, Some(503), error);
                continue;
            }
            let (_, bits) = self.filter_host();
            let site_id = self.sites[site].config.id.clone();
            match &self.pools[pool].worker {
                None => {
                    self.happen(Iis6Happening::WorkerStartsForRequest {
                        ordinal,
                        url,
                        site: site_id,
                        pool: name,
                        bits,
                        site_filters: self.sites[site].filters.len(),
                    });
                    self.phase = Phase::Worker { pool, request, new_worker: true };
                    let chain = self.chain(&[site]);
                    return Next::Start(self.host_plan(ProcessName::W3wp, bits, &chain));
                }
                Some(worker) => match worker.status_for(&self.sites[site]) {
                    Some(status) => {
                        self.happen(Iis6Happening::ServedBySameWorker {
                            ordinal,
                            url,
                            process: ProcessName::W3wp,
                            pool: Some(name),
                        });
                        if let Some(next) = self.deliver(request, status) {
                            return next;
                        }
                    }
                    None => {
                        let pid = worker.pid;
                        self.happen(Iis6Happening::WorkerLoadsSiteFilters {
                            ordinal,
                            url,
                            site: site_id,
                            pool: name,
                            pid,
                            bits,
                        });
                        self.phase = Phase::Worker { pool, request, new_worker: false };
                        let chain = self.chain(&[site]);
                        return Next::Start(self.host_plan(ProcessName::W3wp, bits, &chain));
                    }
                },
            }
        }
        self.phase = Phase::Done;
        Next::Done
    }

    pub(super) fn worker_reported(
        &mut self,
        pool: usize,
        request: usize,
        new_worker: bool,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Target::Site { site, .. } = self.requests[request].target else {
            bail!("a worker started for a request that no site takes");
        };
        let name = self.pools[pool].name.clone();
        let chain = self.chain(&[site]);
        let (host, failure) = self.take(observed, &chain, Some(&name))?;
        let (pid, bits) = (host.pid, host.bits);
        let status = Self::chain_status(&host.filters);
        let globals = self.filters.len();
        let global_status = Self::chain_status(&host.filters[..globals.min(host.filters.len())]);
        self.report.hosts.push(host);
        let site_id = self.sites[site].config.id.clone();
        match failure {
            None => {
                let worker = self.pools[pool].worker.get_or_insert(Worker {
                    pid,
                    global_status,
                    site_status: Vec::new(),
                });
                if !self.sites[site].filters.is_empty() {
                    worker.site_status.push((site_id, status));
                }
                if let Some(next) = self.deliver(request, status) {
                    return Ok(next);
                }
            }
            Some(failure) if failure.site().is_some() => {
                // A site filter failed: the site does not start, the worker goes on serving
                // the pool's other sites (a harness decision, see the header).
                self.failure_events(&failure, bits);
                if let (Some(error), Some(pid)) = (failure.error(), pid) {
                    self.log(messages::worker_reported_failure(&name, pid, error));
                }
                if new_worker {
                    self.pools[pool].worker =
                        Some(Worker { pid, global_status, site_status: Vec::new() });
                }
                self.site_failed(site, failure.error());
                self.respond(request, Some(503), failure.error());
            }
            Some(failure) => self.worker_failed(pool, request, pid, bits, &failure),
        }
        Ok(self.serve(request + 1))
    }

    /// A worker died or did not load a global filter: the request gets 503, WAS counts the
    /// failure, and rapid-fail protection may disable the pool.
    pub(super) fn worker_failed(
        &mut self,
        pool: usize,
        request: usize,
        pid: Option<u32>,
        bits: Bits,
        failure: &HostFailure,
    ) {
        self.worker_lost(pool, pid, bits, failure);
        self.respond(request, Some(503), failure.error());
    }

    /// A pool's worker is gone: WAS logs it, counts the failure towards rapid-fail protection
    /// (which may disable the pool), and the pool's next request starts a new worker.
    pub(super) fn worker_lost(
        &mut self,
        pool: usize,
        pid: Option<u32>,
        bits: Bits,
        failure: &HostFailure,
    ) {
        let name = self.pools[pool].name.clone();
        self.failure_events(failure, bits);
        if let (Some(error), Some(pid)) = (failure.error(), pid) {
            self.log(messages::worker_reported_failure(&name, pid, error));
        }
        let exit_code = match failure {
            HostFailure::Crashed { exception_code } => Some(*exception_code),
            HostFailure::Died { exit_code } => exit_code.map(|code| code as u32),
            _ => None,
        };
        if let (Some(exit_code), Some(pid)) = (exit_code, pid) {
            self.log(messages::worker_terminated(&name, pid, exit_code));
        }
        self.pools[pool].worker = None;
        self.pools[pool].last_error = failure.error();
        let pool = &mut self.pools[pool];
        let rapid_fail = pool.rapid_fail;
        let policy = RapidFailPolicy {
            enabled: rapid_fail.enabled,
            max_crashes: rapid_fail.max_crashes,
            interval: Duration::from_secs(u64::from(rapid_fail.interval_minutes) * 60),
        };
        if let Some(failures) = pool.rapid_fail_clock.worker_failed(policy) {
            pool.disabled = true;
            let interval_minutes = rapid_fail.interval_minutes;
            self.log(messages::app_pool_disabled(&name));
            self.happen(Happening::PoolDisabled { pool: name, failures, interval_minutes });
        }
    }
}
