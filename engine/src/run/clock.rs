//! [`TrainingClock`]: a run's training seconds — the time spent iterating, paused time left
//! out, carried over a resume from a checkpoint.

use std::time::Instant;

/// Seconds of training: what earlier stretches banked, plus the stretch now running.
#[derive(Clone, Debug)]
pub struct TrainingClock {
    banked_s: f64,
    running_since: Option<Instant>,
}

impl TrainingClock {
    /// A stopped clock that already reads `banked_s` (a resumed run's training time).
    pub fn new(banked_s: f64) -> Self {
        Self {
            banked_s,
            running_since: None,
        }
    }

    /// Starts or stops the clock; setting the state it is in changes nothing.
    pub fn set_running(&mut self, running: bool) {
        match (running, self.running_since) {
            (true, None) => self.running_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.banked_s += since.elapsed().as_secs_f64();
                self.running_since = None;
            }
            _ => {}
        }
    }

    /// Training seconds so far.
    pub fn seconds(&self) -> f64 {
        self.banked_s
            + self
                .running_since
                .map_or(0.0, |s| s.elapsed().as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::TrainingClock;

    /// Stopped time is not counted; running time is, on top of what was banked.
    #[test]
    fn only_running_time_counts() {
        let mut clock = TrainingClock::new(5.0);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.seconds(), 5.0, "a stopped clock does not move");
        clock.set_running(true);
        clock.set_running(true);
        std::thread::sleep(Duration::from_millis(30));
        clock.set_running(false);
        let after_run = clock.seconds();
        assert!((5.03..5.5).contains(&after_run), "{after_run}");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.seconds(), after_run, "paused: frozen");
    }
}
