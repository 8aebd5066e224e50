//! The IIS 7+ model's requests, one after another: each goes to its site's pool, whose worker
//! WAS starts on demand (loading the global modules, the site's filters and the request's
//! extension), and what the worker reported decides the answer and the pool's rapid-fail clock.

use super::*;

impl Iis7<'_> {
    /// The one place a request's answer goes into the report and onto the timeline, with the
    /// page IIS shows for an error. A request with no status and no other reason got none
    /// because nothing listens.
    pub(super) fn answer(&mut self, mut request: RequestOutcome, page: Option<String>) {
        if request.status.is_some() {
            request.no_answer = None;
        } else if request.no_answer.is_none() {
            request.no_answer = Some(NoAnswer::NothingListensOnPort);
        }
        self.report.requests.push(request.clone());
        self.happen(Iis7Happening::Response { request, page });
    }

    pub(super) fn begin(&mut self) -> Next {
        self.configuration();
        if self.edition == Edition::Full {
            self.happen(Iis7Happening::ServicesStart);
        }
        self.next_request(0)
    }

    /// Sends requests from `index` on, until a worker must start.
    pub(super) fn next_request(&mut self, mut index: usize) -> Next {
        while index < self.requests.len() {
            let request = self.requests[index].clone();
            let url = request.url.text.clone();
            let (site, pool, handler) = match &request.target {
                Target::InvalidHostname => {
                    self.answer(RequestOutcome::by_http_sys(url, Some(400)), None);
                    index += 1;
                    continue;
                }
                Target::NoListener => {
                    self.answer(RequestOutcome::by_http_sys(url, None), None);
                    index += 1;
                    continue;
                }
                Target::Site { site, pool, handler } => (*site, *pool, handler.clone()),
            };
            let site_name = self.sites[site].name.clone();
            if self.edition == Edition::Express {
                match self.express[site].clone() {
                    None => {
                        let (bits, _, _) = self.context(None, Some(site));
                        self.happen(Iis7Happening::ExpressStarts { site: site_name, bits });
                        self.plan = self.plan_worker(pool, Some(site), index);
                        self.phase = Phase::Worker { pool: site, request: index };
                        return Next::Start(self.host_plan(ProcessName::IisExpress, bits));
                    }
                    Some(None) => {
                        self.answer(
                            RequestOutcome {
                                url,
                                site: Some(site_name),
                                app_pool: None,
                                status: None,
                                substatus: None,
                                win32_error: None,
                                no_answer: None,
                            },
                            None,
                        );
                    }
                    Some(Some(worker)) => self.serve(&worker, index, site, None, handler.as_ref()),
                }
                index += 1;
                continue;
            }
            let Some(pool) = pool else {
                self.answer(
                    RequestOutcome {
                        url,
                        site: Some(site_name),
                        app_pool: None,
                        status: Some(503),
                        substatus: None,
                        win32_error: None,
                        no_answer: None,
                    },
                    Some(messages::service_unavailable_page()),
                );
                index += 1;
                continue;
            };
            let state = &self.pools[pool];
            let pool_name = state.config.name.clone();
            if state.disabled {
                let status = (!state.config.rapid_fail.tcp_level).then_some(503);
                self.happen(Iis7Happening::RequestToDisabledPool {
                    url: url.clone(),
                    pool: pool_name.clone(),
                });
                self.answer(
                    RequestOutcome {
                        url,
                        site: Some(site_name),
                        app_pool: Some(pool_name),
                        status,
                        substatus: None,
                        win32_error: None,
                        no_answer: status.is_none().then_some(NoAnswer::ConnectionReset),
                    },
                    status.map(|_| messages::service_unavailable_page()),
                );
                index += 1;
                continue;
            }
            if let Some(worker) = state.worker.clone() {
                self.serve(&worker, index, site, Some(pool), handler.as_ref());
                index += 1;
                continue;
            }
            let bits = state.bits;
            self.happen(Iis7Happening::WorkerStarts {
                url,
                pool: pool_name,
                bits,
                pipeline: state.config.pipeline_mode,
            });
            self.plan = self.plan_worker(Some(pool), None, index);
            self.phase = Phase::Worker { pool, request: index };
            return Next::Start(self.host_plan(ProcessName::W3wp, bits));
        }
        self.phase = Phase::Done;
        Next::Done
    }

    pub(super) fn serve(
        &mut self,
        worker: &Worker,
        index: usize,
        site: usize,
        pool: Option<usize>,
        handler: Option<&MappedHandler>,
    ) {
        let url = self.requests[index].url.text.clone();
        let site_name = Some(self.sites[site].name.clone());
        let pool_name = pool.map(|pool| self.pools[pool].config.name.clone());
        let bits = match pool {
            Some(pool) => self.pools[pool].bits,
            None => self.context(None, Some(site)).0,
        };
        if let Some((path, error)) = worker.failed_sites.get(&site) {
            return self.answer(
                RequestOutcome {
                    url,
                    site: site_name,
                    app_pool: pool_name,
                    status: Some(500),
                    substatus: Some(0),
                    win32_error: *error,
                    no_answer: None,
                },
                Some(messages::filter_failed_page(path)),
            );
        }
        if let Some(MappedHandler::Cgi) = handler {
            return self.answer(
                RequestOutcome {
                    url,
                    site: site_name,
                    app_pool: pool_name,
                    status: None,
                    substatus: None,
                    win32_error: None,
                    no_answer: Some(NoAnswer::CgiNotRun),
                },
                None,
            );
        }
        if let Some(MappedHandler::Isapi(handler)) = handler {
            let written = handler.script_processor.clone().unwrap_or_default();
            if !self.extension_allowed(&written, &handler.name, bits) {
                return self.answer(
                    RequestOutcome {
                        url,
                        site: site_name,
                        app_pool: pool_name,
                        status: Some(404),
                        substatus: Some(2),
                        win32_error: None,
                        no_answer: None,
                    },
                    Some(messages::restricted_page()),
                );
            }
            let key = self.resolve(&written, bits).map(|path| path.key()).unwrap_or(written);
            if let Some(error) = worker.failed_extensions.get(&key) {
                let page = error.map(|error| messages::extension_failed_page(&handler.name, error));
                return self.answer(
                    RequestOutcome {
                        url,
                        site: site_name,
                        app_pool: pool_name,
                        status: Some(500),
                        substatus: Some(0),
                        win32_error: *error,
                        no_answer: None,
                    },
                    page,
                );
            }
            let status = worker
                .extension_status
                .get(&key)
                .copied()
                .flatten()
                .and_then(|status| u16::try_from(status).ok())
                .filter(|status| *status >= 100);
            return self.answer(
                RequestOutcome {
                    url,
                    site: site_name,
                    app_pool: pool_name,
                    status: Some(status.unwrap_or(200)),
                    substatus: None,
                    win32_error: None,
                    no_answer: None,
                },
                None,
            );
        }
        self.answer(
            RequestOutcome {
                url,
                site: site_name,
                app_pool: pool_name,
                status: Some(200),
                substatus: None,
                win32_error: None,
                no_answer: None,
            },
            None,
        )
    }

    pub(super) fn worker_reported(
        &mut self,
        pool: usize,
        request: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Observation { run, headers, answers } = observed;
        let plan = std::mem::take(&mut self.plan);
        let loaded: Vec<&Planned> = plan.iter().filter(|planned| planned.path.is_some()).collect();
        if run.images.len() > loaded.len() {
            bail!("the host reported {} images for {} planned", run.images.len(), loaded.len());
        }
        self.report.timeline.push(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        if let Some(probe) = run.probes.first() {
            self.happen(Iis7Happening::Opened {
                path: probe.path.clone(),
                bits: run.bits,
                opened: probe.opened.clone(),
            });
        }
        let mut modules = Vec::new();
        let mut filters = Vec::new();
        let mut extensions = Vec::new();
        let mut worker = Worker::default();
        let mut module_failure: Option<(String, Option<Win32Error>)> = None;
        let mut loaded_index = 0;
        for planned in &plan {
            let (outcome, failed) = match &planned.path {
                Some(_) => {
                    let at = loaded_index;
                    loaded_index += 1;
                    let header = headers.get(at).cloned().flatten();
                    judge(
                        planned,
                        run.images.get(at),
                        header.as_ref(),
                        &run,
                        answers.get(at).and_then(Option::as_ref),
                    )
                }
                None => (unresolved(planned), Some(None)),
            };
            self.happen(Iis7Happening::ImageResult {
                kind: kind_of(&planned.role),
                name: outcome.name.clone(),
                path: outcome.path.clone(),
                process: run.process,
                bits: run.bits,
                stage: outcome.stage,
                win32_error: outcome.win32_error,
            });
            if let Some(note) = outcome.loader_note(run.bits) {
                self.report.timeline.push(note);
            }
            match (&planned.role, failed) {
                (Role::Module, Some(error)) => {
                    module_failure.get_or_insert((outcome.path.clone(), error));
                }
                (Role::Filter { sites }, Some(error)) => {
                    for site in sites {
                        worker.failed_sites.entry(*site).or_insert((outcome.path.clone(), error));
                    }
                }
                (Role::Extension { .. }, Some(error)) => {
                    worker.failed_extensions.insert(extension_key(planned), error);
                }
                (Role::Extension { .. }, None) => {
                    let status = run
                        .images
                        .get(loaded_index - 1)
                        .and_then(|load| load.request)
                        .and_then(|request| request.http_status);
                    worker.extension_status.insert(extension_key(planned), status);
                }
                _ => {}
            }
            match planned.role {
                Role::Module => modules.push(outcome),
                Role::Filter { .. } => filters.push(outcome),
                Role::Extension { .. } => extensions.push(outcome),
            }
        }
        self.report.timeline.push(Happening::HostEnded {
            process: run.process,
            end: run.end,
            timeout: self.scenario.host_timeout,
        });
        if module_failure.is_none() && run.end != HostEnd::Completed {
            module_failure = Some((String::new(), None));
        }
        let express = self.edition == Edition::Express;
        let (pipeline, pool_name) = if express {
            (None, None)
        } else {
            (
                Some(self.pools[pool].config.pipeline_mode),
                Some(self.pools[pool].config.name.clone()),
            )
        };
        self.report.hosts.push(HostOutcome {
            process: run.process,
            bits: run.bits,
            app_pool: pool_name.clone(),
            pid: run.pid,
            end: run.end,
            exception_code: run.end.exception_code(),
            start_attempts: run.start_attempts,
            filters,
            modules,
            extensions,
            pipeline_mode: pipeline,
        });
        let Some((path, error)) = module_failure else {
            if express {
                self.express[pool] = Some(Some(worker));
            } else {
                self.pools[pool].worker = Some(worker);
            }
            return Ok(self.next_request(request));
        };
        if let Some(error) = error.filter(|_| !path.is_empty()) {
            if error == Win32Error::BAD_EXE_FORMAT {
                self.log(messages::module_architecture_mismatch(&path, run.bits, error));
            }
            self.log(messages::module_load_failed(&path, error));
        }
        let url = self.requests[request].url.text.clone();
        if express {
            let site = self.sites[pool].name.clone();
            self.express[pool] = Some(None);
            if let Some(error) = error {
                self.report
                    .timeline
                    .push(Happening::Console(messages::express_modules_failed(error)));
            }
            self.happen(Iis7Happening::ExpressEnded { site: site.clone() });
            self.answer(
                RequestOutcome {
                    url,
                    site: Some(site),
                    app_pool: None,
                    status: None,
                    substatus: None,
                    win32_error: error,
                    no_answer: None,
                },
                None,
            );
            return Ok(self.next_request(request + 1));
        }
        let Target::Site { site, .. } = self.requests[request].target else {
            unreachable!("a worker starts only for a site's request")
        };
        let site = Some(self.sites[site].name.clone());
        let name = self.pools[pool].config.name.clone();
        self.happen(Iis7Happening::WorkerFailed { pool: name.clone() });
        self.answer(
            RequestOutcome {
                url,
                site,
                app_pool: Some(name.clone()),
                status: Some(503),
                substatus: None,
                win32_error: error,
                no_answer: None,
            },
            Some(messages::service_unavailable_page()),
        );
        let state = &mut self.pools[pool];
        let rapid = state.config.rapid_fail;
        let policy = RapidFailPolicy {
            enabled: rapid.enabled,
            max_crashes: rapid.max_crashes,
            interval: rapid.interval,
        };
        if let Some(failures) = state.rapid_fail_clock.worker_failed(policy) {
            state.disabled = true;
            let interval_minutes = u32::try_from(rapid.interval.as_secs() / 60).unwrap_or(u32::MAX);
            self.log(messages::app_pool_disabled(&name));
            self.report.timeline.push(Happening::PoolDisabled {
                pool: name,
                failures,
                interval_minutes,
            });
        }
        Ok(self.next_request(request + 1))
    }
}
