//! The service start: IIS 5.0 isolation mode loads the global filters (then each site's) in
//! inetinfo.exe and fails the service for a global one that does not load; worker process
//! isolation mode starts W3SVC with nothing loaded.

use super::*;

impl Iis6<'_> {
    pub(super) fn begin(&mut self) -> Next {
        self.configuration();
        let (process, bits) = self.filter_host();
        if self.purpose == Purpose::LoadEveryFilter {
            self.phase = Phase::Inetinfo;
            let started: Vec<usize> =
                (0..self.sites.len()).filter(|&i| self.sites[i].config.auto_start).collect();
            let chain = self.chain(&started);
            return Next::Start(self.host_plan(process, bits, &chain));
        }
        self.happen(Happening::Command("net start w3svc".to_owned()));
        match self.mode {
            IsolationMode::Iis5 => {
                self.happen(Iis6Happening::ServiceLoadsFilters { process, bits });
                self.phase = Phase::Inetinfo;
                let chain = self.chain(&[]);
                Next::Start(self.host_plan(process, bits, &chain))
            }
            IsolationMode::WorkerProcess => {
                self.happen(Iis6Happening::ServiceStartsWithoutFilters);
                self.service_started();
                self.serve(0)
            }
        }
    }

    pub(super) fn service_started(&mut self) {
        self.happen(Happening::Console(messages::net_start_succeeded()));
        self.report.service = ServiceOutcome {
            started: true,
            win32_error: None,
            net_start_output: messages::net_start_succeeded(),
        };
    }

    /// `diagnose --verify`: one host loaded every filter; nothing more happens.
    pub(super) fn every_filter_reported(&mut self, observed: Observation) -> anyhow::Result<Next> {
        let started: Vec<usize> =
            (0..self.sites.len()).filter(|&i| self.sites[i].config.auto_start).collect();
        let chain = self.chain(&started);
        let (host, _) = self.take(observed, &chain, None)?;
        self.report.hosts.push(host);
        self.phase = Phase::Done;
        Ok(Next::Done)
    }

    /// IIS 5.0 isolation mode: inetinfo.exe has loaded (or failed to load) the global filters.
    pub(super) fn inetinfo_reported(&mut self, observed: Observation) -> anyhow::Result<Next> {
        let chain = self.chain(&[]);
        let (host, failure) = self.take(observed, &chain, None)?;
        let bits = host.bits;
        let worker = Worker {
            pid: host.pid,
            global_status: Self::chain_status(&host.filters),
            site_status: Vec::new(),
        };
        self.report.hosts.push(host);
        let Some(failure) = failure else {
            self.service_started();
            self.inetinfo = Some(worker);
            return Ok(self.next_inetinfo_site(0));
        };
        // What the service reports to the service control manager: the filter's error, or
        // what a dead or silent start-up amounts to.
        let error = match &failure {
            HostFailure::Filter { error, .. } => *error,
            HostFailure::Refused { .. } => {
                unreachable!("IIS 5.0 isolation mode refuses no global filter")
            }
            HostFailure::Crashed { .. } | HostFailure::Died { .. } => Win32Error::PROCESS_ABORTED,
            HostFailure::StoppedAnswering => Win32Error::SERVICE_REQUEST_TIMEOUT,
        };
        self.failure_events(&failure, bits);
        if failure == HostFailure::StoppedAnswering {
            self.happen(Iis6Happening::ServiceRequestTimedOut);
        }
        self.log(messages::service_terminated_with_error(error));
        let console = messages::net_start_failed(error);
        self.happen(Happening::Console(console.clone()));
        self.report.service =
            ServiceOutcome { started: false, win32_error: Some(error), net_start_output: console };
        self.happen(Iis6Happening::ServiceFailed { error });
        // Nothing listens for any site: every request goes unanswered.
        for request in 0..self.requests.len() {
            self.respond(request, None, None);
        }
        self.phase = Phase::Done;
        Ok(Next::Done)
    }

    /// IIS 5.0 isolation mode: the next started site with filters of its own has them loaded
    /// at service start; after the last, the requests are served.
    pub(super) fn next_inetinfo_site(&mut self, from: usize) -> Next {
        let next = (from..self.sites.len())
            .find(|&i| self.sites[i].config.auto_start && !self.sites[i].filters.is_empty());
        let Some(site) = next else {
            return self.serve(0);
        };
        let (process, bits) = self.filter_host();
        self.happen(Iis6Happening::SiteFiltersLoadAtServiceStart {
            site: self.sites[site].config.id.clone(),
            process,
            bits,
        });
        self.phase = Phase::InetinfoSite { site };
        let chain = self.chain(&[site]);
        Next::Start(self.host_plan(process, bits, &chain))
    }

    pub(super) fn inetinfo_site_reported(
        &mut self,
        site: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let chain = self.chain(&[site]);
        let (host, failure) = self.take(observed, &chain, None)?;
        let status = Self::chain_status(&host.filters);
        let bits = host.bits;
        self.report.hosts.push(host);
        match failure {
            None => {
                let id = self.sites[site].config.id.clone();
                if let Some(inetinfo) = &mut self.inetinfo {
                    inetinfo.site_status.push((id, status));
                }
            }
            Some(failure) => {
                // Whatever failed while the site's filters loaded, the site does not start;
                // the service and the other sites go on (a harness decision, see the header).
                self.failure_events(&failure, bits);
                self.site_failed(site, failure.error());
            }
        }
        Ok(self.next_inetinfo_site(site + 1))
    }

    pub(super) fn site_failed(&mut self, site: usize, error: Option<Win32Error>) {
        self.sites[site].failed = Some(error);
        self.happen(Iis6Happening::SiteFailed { site: self.sites[site].config.id.clone() });
    }
}
