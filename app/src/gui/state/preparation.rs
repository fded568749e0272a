//! The GPU prepared in the background while the user sets a run up (docs/platform.md, "On a
//! GPU"): once the draft has stood still for [`SETTLE`], an engine (`Launch::Prepare`) compiles
//! and tunes the kernels of a run of its shape, so that Start is followed by the first
//! iteration at speed rather than by minutes of compilation. Nothing is prepared on the CPU
//! backend, nor while a run iterates (they would compete for the device).

use std::time::{Duration, Instant};

use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;
use sim_engine::protocol::Event;
use sim_engine::run::RunOptions;
use sim_engine::session::{Launch, Session, Waker};

/// How long the draft must stay unchanged before it is prepared for (a slider being dragged
/// asks for nothing).
pub const SETTLE: Duration = Duration::from_millis(1500);

/// What the status bar says of the preparation.
#[derive(Clone, Debug, PartialEq)]
pub enum PreparationStatus {
    /// Under way: what the engine says it does, and since when.
    Preparing(String, Instant),
    /// The draft's shape is prepared, in this many seconds.
    Prepared(f64),
    /// It failed; the engine's message (Start will say it again).
    Failed(String),
}

/// The background preparation of the GPU for the draft.
#[derive(Default)]
pub struct Preparation {
    /// The engine preparing, the shape it prepares, and its status.
    running: Option<(Session, String, PreparationStatus)>,
    /// The last shape prepared (or failed), and how it went.
    done: Option<(String, PreparationStatus)>,
    /// The draft's shape, and since when it has not changed.
    wanted: Option<(String, Instant)>,
    /// The backend choices that turned out to mean the CPU (nothing to prepare for them).
    on_cpu: Vec<BackendChoice>,
}

impl Preparation {
    /// Reads the preparing engine's events, and starts preparing for `draft` when it has
    /// settled, is valid, is not prepared yet, may run on a GPU, and no run iterates (`busy`).
    /// Returns how long to wait before asking again (`None`: nothing pending).
    pub fn update(
        &mut self,
        draft: &RunConfig,
        options: &RunOptions,
        busy: bool,
        waker: impl FnOnce() -> Waker,
    ) -> Option<Duration> {
        self.drain(options.backend);
        let wanted = self.want(draft, options.backend, Instant::now())?;
        if !wanted.is_zero() || busy || self.running.is_some() {
            return Some(wanted.max(Duration::from_millis(250)));
        }
        let key = key(draft, options.backend);
        match Session::spawn(
            Launch::Prepare(Box::new(draft.clone())),
            options.clone(),
            Some(waker()),
        ) {
            Ok(session) => {
                let status = PreparationStatus::Preparing(
                    "preparing the GPU: loading".into(),
                    Instant::now(),
                );
                self.running = Some((session, key, status));
            }
            Err(e) => {
                let status = PreparationStatus::Failed(format!("cannot start an engine: {e}"));
                self.done = Some((key, status));
            }
        }
        None
    }

    /// How long until `draft` should be prepared for: zero when it is due, `None` when there
    /// is nothing to prepare (the CPU, an invalid draft, or prepared already or under way).
    fn want(
        &mut self,
        draft: &RunConfig,
        backend: BackendChoice,
        now: Instant,
    ) -> Option<Duration> {
        if backend == BackendChoice::Cpu || self.on_cpu.contains(&backend) {
            return None;
        }
        if draft.validate().is_err() {
            return None;
        }
        let key = key(draft, backend);
        let known = |k: &Option<(String, PreparationStatus)>| {
            k.as_ref().is_some_and(|(shape, _)| *shape == key)
        };
        let running = self
            .running
            .as_ref()
            .is_some_and(|(_, shape, _)| *shape == key);
        if known(&self.done) || running {
            return None;
        }
        match &self.wanted {
            Some((shape, since)) if *shape == key => {
                Some(SETTLE.saturating_sub(now.saturating_duration_since(*since)))
            }
            _ => {
                self.wanted = Some((key, now));
                Some(SETTLE)
            }
        }
    }

    /// Applies the preparing engine's events; ends it when it is done.
    fn drain(&mut self, backend: BackendChoice) {
        let Some((session, key, status)) = &mut self.running else {
            return;
        };
        let mut outcome = None;
        while let Some(event) = session.try_recv() {
            match event {
                Event::Preparing { message, .. } => {
                    if let PreparationStatus::Preparing(m, _) = status {
                        *m = message;
                    }
                }
                Event::Prepared { seconds, on_gpu } => {
                    if on_gpu {
                        tracing::info!("the GPU prepared for the draft in {seconds:.1} s");
                    } else {
                        self.on_cpu.push(backend);
                    }
                    outcome = Some(PreparationStatus::Prepared(seconds));
                }
                Event::Failed(m) | Event::Crashed(m) => {
                    outcome = Some(PreparationStatus::Failed(m))
                }
                _ => {}
            }
        }
        if outcome.is_none() && session.is_finished() {
            outcome = Some(PreparationStatus::Failed(
                "the preparing engine stopped without a word".into(),
            ));
        }
        if let Some(outcome) = outcome {
            let key = std::mem::take(key);
            if let Some((session, _, _)) = self.running.take() {
                session.shutdown();
            }
            self.done = Some((key, outcome));
        }
    }

    /// What to show for `draft`: its preparation under way, done or failed; `None` when none
    /// concerns it (or it was prepared on the CPU, where there is nothing to tell).
    pub fn status(&self, draft: &RunConfig, backend: BackendChoice) -> Option<&PreparationStatus> {
        if self.on_cpu.contains(&backend) {
            return None;
        }
        let key = key(draft, backend);
        match (&self.running, &self.done) {
            (Some((_, shape, status)), _) if *shape == key => Some(status),
            (_, Some((shape, status))) if *shape == key => Some(status),
            _ => None,
        }
    }

    /// Stops the preparing engine between its steps and waits for its thread (at exit).
    pub fn shutdown(&mut self) {
        if let Some((session, _, _)) = self.running.take() {
            session.shutdown();
        }
    }
}

/// What is prepared for: the backend choice and the config's shape (`RunConfig::shape`).
fn key(draft: &RunConfig, backend: BackendChoice) -> String {
    format!("{backend:?}\n{}", draft.shape())
}

impl PreparationStatus {
    /// The status bar's words, e.g. "preparing the GPU: … 12 s".
    pub fn describe(&self) -> String {
        match self {
            Self::Preparing(message, since) => {
                format!("{message} … {:.0} s", since.elapsed().as_secs_f64())
            }
            Self::Prepared(seconds) => {
                format!("GPU prepared for this setup ({seconds:.1} s): Start runs at speed")
            }
            Self::Failed(message) => format!("GPU preparation failed: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draft is prepared for once it has stood still for `SETTLE`, never on the CPU backend,
    /// never twice, and a changed draft waits again.
    #[test]
    fn a_settled_draft_is_prepared_once() {
        let mut preparation = Preparation::default();
        let draft = RunConfig::default();
        let t0 = Instant::now();
        assert_eq!(preparation.want(&draft, BackendChoice::Cpu, t0), None);
        assert_eq!(
            preparation.want(&draft, BackendChoice::Gpu, t0),
            Some(SETTLE)
        );
        let half = t0 + SETTLE / 2;
        assert_eq!(
            preparation.want(&draft, BackendChoice::Gpu, half),
            Some(SETTLE / 2)
        );
        let mut changed = draft.clone();
        changed.distill.batch *= 2;
        assert_eq!(
            preparation.want(&changed, BackendChoice::Gpu, half),
            Some(SETTLE),
            "a new shape waits again"
        );
        // Name, seed and length do not change the kernels.
        let mut renamed = changed.clone();
        renamed.name = "other".into();
        renamed.seed += 1;
        renamed.iterations += 1;
        let due = half + SETTLE;
        assert_eq!(
            preparation.want(&renamed, BackendChoice::Gpu, due),
            Some(Duration::ZERO)
        );
        preparation.done = Some((
            key(&changed, BackendChoice::Gpu),
            PreparationStatus::Prepared(3.0),
        ));
        assert_eq!(preparation.want(&renamed, BackendChoice::Gpu, due), None);
        assert_eq!(
            preparation.status(&renamed, BackendChoice::Gpu),
            Some(&PreparationStatus::Prepared(3.0))
        );
        preparation.on_cpu.push(BackendChoice::Auto);
        assert_eq!(preparation.want(&draft, BackendChoice::Auto, due), None);
        let mut invalid = draft.clone();
        invalid.distill.batch = 0;
        assert_eq!(preparation.want(&invalid, BackendChoice::Gpu, due), None);
    }
}
