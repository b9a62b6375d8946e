//! The old process's side of `sixfold upgrade` ([`crate::device::handover`]
//! has the protocol and the new process's side): the supervisor starts the new
//! binary, pauses its workers between bursts, sends the state and the
//! descriptors, and ends or resumes on the answer.

use super::Supervisor;
use crate::device::exporter::Exporter;
use crate::device::fdpass::{self, Channel, MAX_FDS};
use crate::device::handover::*;
use crate::device::loops::{AfterHandover, HandoverAsk, Request};
use crate::state::{self, Common, Document, ExportState};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

impl Supervisor<'_> {
    /// Hands over to `binary` (none: the one this process was started
    /// from): the new process's pid, or why not (and this router goes on).
    pub(in crate::device) fn upgrade(
        &mut self,
        binary: Option<PathBuf>,
    ) -> Result<(u32, Duration), String> {
        let binary = binary.unwrap_or_else(|| self.history_binary.clone());
        let Some(path) = self.path.clone() else {
            return Err("the router runs from no file: nothing to start the new one with".into());
        };
        if self.base.config().fastpath.on() {
            // Its XDP programs and maps are this process's: not handed over yet.
            return Err(
                "the eBPF fast path ([fastpath]) is not handed over yet: restart to upgrade".into(),
            );
        }
        if self.base.config().takeover.is_some() {
            // The fed mappings and the feed's listening socket: not handed over yet.
            return Err(
                "a backup's feed ([takeover]) is not handed over yet: restart to upgrade".into(),
            );
        }
        let (ours, theirs) = fdpass::pair().map_err(|e| format!("socket pair: {e}"))?;
        let fd = theirs
            .inheritable()
            .map_err(|e| format!("socket pair: {e}"))?;
        let mut child = Command::new(&binary)
            .arg("run")
            .arg("--config")
            .arg(&path)
            .arg("--handover-fd")
            .arg(fd.to_string())
            // systemd's WATCHDOG_PID names this process; the new one feeds
            // the watchdog once it is the main process (no PID: its own).
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        drop(theirs);
        let pid = child.id();
        let _ = ours.set_timeout(Some(ANSWER_TIME));
        let result = self.hand_to(&ours, &mut child);
        if let Err(e) = &result {
            // The new process goes; this one never stopped being the router.
            let _ = child.kill();
            let _ = child.wait();
            tracing::error!(pid, error = %e, "upgrade refused: this router goes on");
        }
        result.map(|paused| (pid, paused))
    }

    /// The handover proper: how long the loops were stopped, or why not.
    fn hand_to(&mut self, channel: &Channel, child: &mut Child) -> Result<Duration, String> {
        let pid = child.id();
        let ended = |child: &mut Child, what: &str, e: io::Error| {
            // A closed channel: the process is ending; its status says how.
            let deadline = Instant::now() + Duration::from_secs(1);
            let mut status = child.try_wait();
            while matches!(status, Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                status = child.try_wait();
            }
            match status {
                Ok(Some(status)) => format!("the new process ({pid}) ended ({status}) {what}"),
                _ => format!("the new process ({pid}) did not answer {what}: {e}"),
            }
        };
        let (hello, _) = channel
            .recv()
            .map_err(|e| ended(child, "before it asked for the state", e))?;
        let version = hello
            .strip_prefix("hello ")
            .and_then(|v| v.split(' ').next())
            .and_then(|v| v.parse::<u32>().ok());
        if version != Some(state::VERSION) {
            let why = format!(
                "the new binary reads state format {}, this router writes version {}: not upgraded",
                version.map_or_else(
                    || format!("(it said {hello:?})"),
                    |v| format!("version {v}")
                ),
                state::VERSION
            );
            let _ = channel.send(&format!("refused {why}"), &[]);
            return Err(why);
        }
        // Control clients wait in the backlog from here: the process that
        // runs next answers them.
        self.control_hold
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let pause = Instant::now();
        let paused = self.pause_workers();
        let (decide, states, shapers, fragments) = paused.inspect_err(|_| {
            self.control_hold
                .store(false, std::sync::atomic::Ordering::Relaxed);
        })?;
        let export = self.exporter.take().and_then(Exporter::hand_over);
        let sent = self.send_state(channel, (states, shapers), fragments, export.as_ref());
        let answer = sent.and_then(|()| {
            channel
                .recv()
                .map_err(|e| ended(child, "before it said it runs", e))
        });
        let ran = match &answer {
            Ok((text, _)) if text.starts_with("running") => Ok(()),
            Ok((text, _)) => Err(format!(
                "the new process ({pid}): {}",
                text.strip_prefix("refused ").unwrap_or(text)
            )),
            Err(e) => Err(e.clone()),
        };
        match ran {
            Ok(()) => {
                for d in &decide {
                    let _ = d.send(AfterHandover::Exit);
                }
                Ok(pause.elapsed())
            }
            Err(e) => {
                self.resume(decide, export);
                self.control_hold
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Asks every worker for its state between bursts; they wait for the
    /// decision. On a worker that does not answer, every one resumes.
    #[allow(clippy::type_complexity)]
    fn pause_workers(
        &mut self,
    ) -> Result<
        (
            Vec<mpsc::SyncSender<AfterHandover>>,
            Vec<Vec<u8>>,
            Vec<u8>,
            u64,
        ),
        String,
    > {
        let handles = self.loops.handles();
        let (answer, answers) = mpsc::sync_channel(handles.len());
        let mut decide = Vec::new();
        for h in handles {
            let (tx, decision) = mpsc::sync_channel(1);
            if !h.put(Request::Handover(HandoverAsk {
                answer: answer.clone(),
                decision,
            })) {
                self.resume(decide, None);
                return Err("a worker is busy with other questions: try again".into());
            }
            decide.push(tx);
        }
        let mut states = vec![Vec::new(); decide.len()];
        let mut shapers = Vec::new();
        let mut fragments = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..decide.len() {
            match answers.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(saved) => {
                    if let Some(slot) = states.get_mut(usize::from(saved.index)) {
                        *slot = saved.state;
                    }
                    if !saved.shapers.is_empty() {
                        shapers = saved.shapers;
                    }
                    fragments = saved.fragments;
                }
                Err(_) => {
                    self.resume(decide, None);
                    return Err("a worker did not stop for the handover within 5 s".into());
                }
            }
        }
        Ok((decide, states, shapers, fragments))
    }

    /// Every worker goes on, with the exporter resumed where it stopped.
    fn resume(
        &mut self,
        decide: Vec<mpsc::SyncSender<AfterHandover>>,
        export: Option<(ExportState, UdpSocket)>,
    ) {
        if let Some((state, socket)) = export {
            let config = &self.base.config().ipfix;
            match Exporter::resume(config, socket, state, Arc::clone(&self.unsent)) {
                Ok(e) => self.exporter = Some(e),
                Err(e) => tracing::error!(error = %e, "the IPFIX exporter did not resume"),
            }
        }
        let sender = self.exporter.as_ref().and_then(Exporter::sender);
        for d in decide {
            let _ = d.send(AfterHandover::Resume(sender.clone()));
        }
    }

    fn send_state(
        &self,
        channel: &Channel,
        (states, shapers): (Vec<Vec<u8>>, Vec<u8>),
        fragments: u64,
        export: Option<&(ExportState, UdpSocket)>,
    ) -> Result<(), String> {
        let document = Document {
            common: Common {
                epoch_monotonic_ns: monotonic_ns(self.epoch),
                state_since_unix_ms: self.history.state_since_unix_ms,
                upgrades: self.history.upgrades,
                export: export.map(|(s, _)| s.clone()),
                fragment_flows_dropped: fragments,
                shapers,
            },
            workers: states,
        }
        .encode();
        let failed = |e: io::Error| format!("sending the state: {e}");
        let memfd = fdpass::memfd_with(&document).map_err(failed)?;
        let handed = self.devices.handed();
        let header = Header {
            state_len: document.len(),
            config: serde_json::to_value(self.base.config()).unwrap_or_default(),
            metrics: self.metrics_listener.is_some(),
            export: export.is_some(),
            queues: handed.iter().map(|(h, _)| *h).collect(),
        };
        let mut first = vec![memfd.as_fd(), self.control_listener.as_fd()];
        first.extend(self.metrics_listener.as_ref().map(AsFd::as_fd));
        first.extend(export.map(|(_, s)| s.as_fd()));
        let text = format!(
            "state {}",
            serde_json::to_string(&header).unwrap_or_default()
        );
        channel.send(&text, &first).map_err(failed)?;
        let fds: Vec<_> = handed.iter().map(|(_, fd)| *fd).collect();
        for chunk in fds.chunks(MAX_FDS) {
            channel.send("queues", chunk).map_err(failed)?;
        }
        tracing::info!(
            bytes = document.len(),
            queues = fds.len(),
            fragment_flows_dropped = fragments,
            "state sent to the new process"
        );
        Ok(())
    }
}
