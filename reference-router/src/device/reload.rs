//! A reload as the supervisor runs it: the file read and planned
//! ([`Reload::plan`]: parsed, checked whole, compared key by key), checked
//! against the machine ([`super::host::check`]), the device side prepared
//! (TUNs of subscribers added opened, a new export socket, a new metrics
//! listener — any failure refuses the reload and closes what was opened),
//! then every worker asked to check it against its state between bursts and,
//! only if all say yes, told to apply it. A refusal at any step changes
//! nothing.

use super::exporter::Exporter;
use super::loops::{Prepared, ReloadAsk, Request};
use super::metrics;
use super::service::Supervisor;
use crate::Reload;
use crate::config::{Config, ConfigError, Ipfix};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the workers have to answer whether they can apply a reload.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// How a reload ended.
pub(super) enum Outcome {
    /// Applied: the file, and one line per changed key.
    Applied(PathBuf, Vec<String>),
    /// Nothing to change in the file.
    Unchanged(PathBuf),
    /// Refused, nothing changed: the file (if known), every reason.
    Refused(Option<PathBuf>, Vec<String>),
}

impl Outcome {
    /// The control socket's answer: `reloaded PATH`, `unchanged PATH` or
    /// `refused PATH`, then a line per change or reason.
    pub(super) fn answer(&self) -> String {
        let (word, path, lines) = match self {
            Outcome::Applied(p, lines) => ("reloaded", Some(p), lines.as_slice()),
            Outcome::Unchanged(p) => ("unchanged", Some(p), &[][..]),
            Outcome::Refused(p, lines) => ("refused", p.as_ref(), lines.as_slice()),
        };
        let mut out = match path {
            Some(p) => format!("{word} {}", p.display()),
            None => word.to_string(),
        };
        for l in lines {
            out.push('\n');
            out.push_str(l);
        }
        out
    }

    /// Logs the outcome of a reload asked by `by`.
    pub(super) fn log(&self, by: &str) {
        match self {
            Outcome::Applied(p, lines) => {
                tracing::info!(by, file = %p.display(), changes = lines.len(), "configuration reloaded");
                for l in lines {
                    tracing::info!(by, "changed {l}");
                }
            }
            Outcome::Unchanged(p) => {
                tracing::info!(by, file = %p.display(), "configuration reloaded: no change");
            }
            Outcome::Refused(p, lines) => {
                let file = p
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                tracing::error!(
                    by,
                    file,
                    problems = lines.len(),
                    "configuration refused; the running one stays"
                );
                for l in lines {
                    tracing::error!(by, "refused: {l}");
                }
            }
        }
    }
}

/// Whether the export goes elsewhere or as another exporter (collector,
/// source, namespace, observation domain): a new exporter is started, a new
/// Transport Session whose first message is the start message. A new
/// template interval is taken by the running exporter in place.
fn export_changes(old: &Ipfix, new: &Ipfix) -> bool {
    let identity = |x: &Ipfix| (x.collector, x.source, x.netns.clone(), x.observation_domain);
    identity(old) != identity(new)
}

/// The metrics endpoint after a reload.
enum Metrics {
    /// As it is.
    Same,
    /// A new listener, bound before the reload applies.
    Listener(Option<std::net::TcpListener>),
    /// The same address with other settings: the old one closes first.
    Rebind,
}

impl Supervisor<'_> {
    /// Reloads from `path` (none: the file the router runs from), telling
    /// systemd around it; the file becomes the one the router runs from
    /// unless it is refused.
    pub(super) fn reload(&mut self, path: Option<PathBuf>) -> Outcome {
        if let Some(n) = self.notify {
            n.reloading();
        }
        let outcome = match path.or_else(|| self.path.clone()) {
            Some(p) => self.reload_from(p),
            None => Outcome::Refused(
                None,
                vec![
                    "the router runs from no file: give one (sixfold reload --config FILE)".into(),
                ],
            ),
        };
        if let Some(n) = self.notify {
            let status = self.status();
            n.ready(&status);
        }
        outcome
    }

    fn reload_from(&mut self, path: PathBuf) -> Outcome {
        let refused = |path: &PathBuf, e: Vec<ConfigError>| {
            Outcome::Refused(
                Some(path.clone()),
                e.iter().map(ToString::to_string).collect(),
            )
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                let why = format!("{}: {e}", path.display());
                return Outcome::Refused(Some(path), vec![why]);
            }
        };
        let plan = match Reload::plan(&self.base, &text, Instant::now()) {
            Ok(p) => p,
            Err(e) => return refused(&path, e),
        };
        let old = self.base.config();
        let held = |name: &str, ns: Option<&str>| holds(old, name, ns);
        let host: Vec<ConfigError> = super::host::check(plan.config(), &held)
            .into_iter()
            .map(|e| e.located(&text))
            .collect();
        if !host.is_empty() {
            return refused(&path, host);
        }
        if plan.is_empty() {
            self.path = Some(path.clone());
            return Outcome::Unchanged(path);
        }
        match self.apply(plan) {
            Ok(lines) => {
                self.path = Some(path.clone());
                Outcome::Applied(path, lines)
            }
            Err(reasons) => Outcome::Refused(Some(path), reasons),
        }
    }

    /// Prepares the device side of `plan`, asks every worker, and applies it
    /// if all can: the changed keys, or every reason it was refused.
    fn apply(&mut self, plan: Reload) -> Result<Vec<String>, Vec<String>> {
        let (old, new) = (self.base.config().clone(), plan.config().clone());
        let failed = |what: &str, e: std::io::Error| vec![format!("{what}: {e}")];
        let devices = self
            .devices
            .reopened(&new, plan.layout(), self.workers)
            .map_err(|e| failed("opening the devices of subscribers added", e))?;
        let exporter = if export_changes(&old.ipfix, &new.ipfix) {
            let started =
                Exporter::start_counting(&new.ipfix, self.epoch, Arc::clone(&self.unsent))
                    .map_err(|e| failed("ipfix", e))?;
            Some(started)
        } else {
            None
        };
        let metrics = if old.metrics == new.metrics {
            Metrics::Same
        } else if (old.metrics.listen, &old.metrics.netns)
            == (new.metrics.listen, &new.metrics.netns)
        {
            Metrics::Rebind
        } else {
            Metrics::Listener(metrics::bind(&new.metrics).map_err(|e| failed("metrics", e))?)
        };
        let lines: Vec<String> = plan.changes().iter().map(ToString::to_string).collect();
        let prepared = Arc::new(Prepared {
            exporter: exporter
                .as_ref()
                .map(|e| e.as_ref().and_then(Exporter::sender)),
            devices: Arc::new(devices),
            reload: plan,
        });
        self.ask_workers(&prepared)?;
        // The fast path follows the new mode: detached, every packet takes
        // the slow path, where every session still is (the workers give
        // theirs back on their next turn).
        #[cfg(feature = "fastpath")]
        if let Some(fp) = &prepared.devices.fastpath {
            let mut fp = fp.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = fp.tuns(&new).and_then(|()| fp.set_on(new.fastpath.on())) {
                tracing::error!(error = %e, "fast path after a reload");
            }
        }
        // Applied by every worker: the device side follows.
        self.base = prepared.reload.base_after();
        self.devices = Arc::clone(&prepared.devices);
        if let Some(e) = exporter {
            // The old one sends what it has, then stops.
            self.exporter = e;
        } else if let Some(e) = &self.exporter {
            e.set_template_refresh(new.ipfix.template_refresh);
        }
        let per_subscriber = new.metrics.per_subscriber;
        match metrics {
            Metrics::Same => {}
            Metrics::Listener(l) => {
                drop(self.metrics.take());
                self.metrics =
                    l.map(|l| metrics::Server::start(l, Arc::clone(&self.loops), per_subscriber));
            }
            Metrics::Rebind => {
                drop(self.metrics.take());
                match metrics::bind(&new.metrics) {
                    Ok(l) => {
                        self.metrics = l.map(|l| {
                            metrics::Server::start(l, Arc::clone(&self.loops), per_subscriber)
                        });
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "metrics endpoint not reopened after a reload")
                    }
                }
            }
        }
        Ok(lines)
    }

    /// Asks every worker whether it can apply `prepared`, then tells all to
    /// apply it, or none: every worker's refusals when one refuses.
    fn ask_workers(&self, prepared: &Arc<Prepared>) -> Result<(), Vec<String>> {
        let handles = self.loops.handles();
        let (answer, answers) = mpsc::sync_channel(handles.len());
        let (done, dones) = mpsc::sync_channel(handles.len());
        let mut decisions = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        for (k, h) in handles.iter().enumerate() {
            let (decide, decision) = mpsc::sync_channel(1);
            let ask = ReloadAsk {
                prepared: Arc::clone(prepared),
                answer: answer.clone(),
                decision,
                done: done.clone(),
            };
            if !h.put(Request::Reload(ask)) {
                reasons.push(format!(
                    "worker {k} is busy with other questions: try again"
                ));
                break;
            }
            decisions.push(decide);
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut answered = 0;
        while reasons.is_empty() && answered < decisions.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match answers.recv_timeout(left) {
                Ok((_, refusals)) => {
                    answered += 1;
                    reasons.extend(refusals.iter().map(ToString::to_string));
                }
                Err(_) => reasons.push(format!(
                    "{} of {} workers did not answer within {} s: nothing changed",
                    decisions.len() - answered,
                    decisions.len(),
                    ANSWER_TIMEOUT.as_secs()
                )),
            }
        }
        let commit = reasons.is_empty();
        for d in &decisions {
            let _ = d.send(commit);
        }
        if !commit {
            return Err(reasons);
        }
        for _ in 0..decisions.len() {
            if dones.recv_timeout(io_timeout()).is_err() {
                tracing::error!("a worker did not confirm the reload it was told to apply");
                break;
            }
        }
        Ok(())
    }
}

/// How long the supervisor waits for a worker that was told to apply.
fn io_timeout() -> Duration {
    super::io::DECISION_TIMEOUT
}

/// Whether `config` (the one in force) has a device `name` in namespace
/// `ns`: the router holds it.
fn holds(config: &Config, name: &str, ns: Option<&str>) -> bool {
    (config.wan.name == name && config.wan.netns.as_deref() == ns)
        || config
            .subscriber
            .iter()
            .any(|s| s.name == name && s.netns.as_deref() == ns)
        || config
            .subscriber_range
            .iter()
            .any(|r| r.name == name && r.netns.as_deref() == ns)
}
