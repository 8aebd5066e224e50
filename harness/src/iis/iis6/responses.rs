//! What each request gets: the status its site's filters and its extension give, recorded
//! once per request, and an ISAPI extension's load and answer read from its host's report.

use super::*;

impl Iis6<'_> {
    pub(super) fn respond(
        &mut self,
        request: usize,
        status: Option<u16>,
        win32_error: Option<Win32Error>,
    ) {
        self.record(RequestOutcome { status, win32_error, ..self.addressed(request) });
    }

    /// A request that reached its site but gets no status here, for `why`.
    pub(super) fn respond_unanswered(&mut self, request: usize, why: NoAnswer) {
        self.record(RequestOutcome { no_answer: Some(why), ..self.addressed(request) });
    }

    /// Where a request went (its URL, the site that took it and that site's pool), not yet
    /// answered: what every answer to it is written on. A request HTTP.sys could not route
    /// carries why it gets no answer.
    pub(super) fn addressed(&self, request: usize) -> RequestOutcome {
        let Request { url, target, .. } = self.requests[request].clone();
        let (site, app_pool, no_answer) = match target {
            Target::Site { site, pool } => (
                Some(self.sites[site].config.id.clone()),
                // IIS 5.0 isolation mode has no pools: inetinfo.exe serves every site.
                (self.mode == IsolationMode::WorkerProcess).then(|| self.pools[pool].name.clone()),
                None,
            ),
            Target::InvalidHostname => (None, None, None),
            Target::NoAnswer(reason) => (None, None, Some(reason)),
        };
        RequestOutcome {
            url,
            site,
            app_pool,
            status: None,
            substatus: None,
            win32_error: None,
            no_answer,
        }
    }

    /// The one place a request's answer goes into the report and onto the timeline. An answer
    /// with a status has no reason for a missing one; one without says why, W3SVC not running
    /// when nothing else does.
    pub(super) fn record(&mut self, mut answered: RequestOutcome) {
        answered.no_answer = match answered.status {
            None => answered.no_answer.or(Some(NoAnswer::ServiceNotRunning)),
            Some(_) => None,
        };
        self.report.requests.push(answered.clone());
        self.happen(Happening::Response(answered));
    }

    /// A request that came through the filters with `status` goes on to its ISAPI extension,
    /// if its URL maps to one: None when the request has been answered here (no extension, a
    /// filter already failed it, or the Web Service Extension list prohibits the extension),
    /// else the host start that loads the extension in the process that runs the application.
    pub(super) fn deliver(&mut self, request: usize, status: u16) -> Option<Next> {
        let Request { url, target, extension, .. } = self.requests[request].clone();
        let (Some(mapped), Target::Site { site, .. }, 200) = (extension, target, status) else {
            self.respond(request, Some(status), None);
            return None;
        };
        let executable = mapped.mapping.executable.clone();
        if let Restriction::Prohibited { entry } = self.metabase.web_service_extension(&executable)
        {
            self.happen(Iis6Happening::ExtensionProhibited { url, executable, entry });
            self.record(extensions::prohibited(self.addressed(request)));
            return None;
        }
        if mapped.mapping.is_cgi() {
            self.respond_unanswered(request, NoAnswer::CgiNotRun);
            return None;
        }
        let (process, bits, why) = self.extension_process(request, site, &mapped);
        self.happen(Iis6Happening::ExtensionLoads {
            url,
            extension: mapped.mapping.extension.clone(),
            executable,
            set_at: mapped.mapping.set_at.clone(),
            process,
            bits,
            why,
        });
        self.phase = Phase::Extension { request };
        // A host of its own plays the process: the filters it shares a worker or inetinfo.exe
        // with were loaded, and answered for, by the host before it.
        Some(Next::Start(HostPlan {
            bits,
            process,
            probes: Vec::new(),
            images: vec![PlannedImage { kind: ImageKind::Extension, path: mapped.path }],
            stop_at_first_failure: true,
            probe_before_load: false,
            request: true,
            timeout: self.scenario.host_timeout,
        }))
    }

    /// The extension's host has reported: the request gets what IIS makes of it.
    pub(super) fn extension_reported(
        &mut self,
        request: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Observation { run, headers, answers } = observed;
        let Request { url, target, extension, .. } = self.requests[request].clone();
        let (Some(mapped), Target::Site { site, pool }) = (extension, target) else {
            bail!("an extension host started for a request without an extension");
        };
        if run.images.len() > 1 {
            bail!("the host reported {} images for one planned extension", run.images.len());
        }
        let header = headers.first().cloned().flatten();
        let load = run.images.first();
        let mut outcome = ImageOutcome::not_attempted(
            ImageKind::Extension,
            mapped.mapping.extension.clone(),
            Some(self.sites[site].config.id.clone()),
            mapped.path.to_string(),
            header.as_ref().map(ImageSummary::of),
        );
        let addressed = self.addressed(request);
        let (status, answered) = match load {
            Some(load) => {
                outcome.read_load(
                    load,
                    header.as_ref(),
                    &run,
                    answers.first().and_then(Option::as_ref),
                );
                extensions::answer(addressed, &run, load)
            }
            None => {
                // The extension was the host's only image: a host that reported nothing of it
                // ended before LoadLibraryExW returned.
                outcome.stage = Stage::LoadLibrary;
                outcome.cause = classify(
                    outcome.stage,
                    None,
                    header.as_ref(),
                    run.bits,
                    HostDeath::of(run.end),
                );
                extensions::failed(addressed, Some(Win32Error::PROCESS_ABORTED))
            }
        };
        self.happen(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        self.happen(Iis6Happening::ExtensionResult {
            url,
            outcome: Box::new(outcome.clone()),
            process: run.process,
            bits: run.bits,
            status,
        });
        if let Some(note) = outcome.loader_note(run.bits) {
            self.happen(note);
        }
        self.happen(Happening::HostEnded {
            process: run.process,
            end: run.end,
            timeout: self.scenario.host_timeout,
        });
        let in_pool = run.process == ProcessName::W3wp;
        self.report.hosts.push(HostOutcome {
            process: run.process,
            bits: run.bits,
            app_pool: in_pool.then(|| self.pools[pool].name.clone()),
            pid: run.pid,
            end: run.end,
            exception_code: run.end.exception_code(),
            start_attempts: run.start_attempts,
            filters: Vec::new(),
            modules: Vec::new(),
            extensions: vec![outcome],
            pipeline_mode: None,
        });
        self.record(answered);
        // An extension that crashes or hangs takes the worker it runs in down with it (the
        // host stands in for that worker): WAS counts the failure as for any worker's.
        if in_pool && run.end != HostEnd::Completed {
            self.worker_lost(pool, run.pid, run.bits, &host_death(run.end));
        }
        Ok(self.serve(request + 1))
    }
}
