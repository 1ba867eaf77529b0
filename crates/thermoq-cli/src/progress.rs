//! Stage progress for long exact analyses (`spectrum`, `snr`): a spinner with the current stage
//! and elapsed time on a terminal, plain `thermoq <cmd>: <stage>` lines on standard error
//! otherwise (so logs of batch jobs show where the time went).
//!
//! The libraries only compute; the CLI announces each stage before it starts it.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Announces the stages of one command.
pub struct Stages {
    cmd: &'static str,
    bar: Option<ProgressBar>,
    start: Instant,
    enabled: bool,
}

impl Stages {
    /// Stages of `cmd`; `enabled` is false for runs too small to need progress.
    pub fn new(cmd: &'static str, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self {
            cmd,
            bar,
            start: Instant::now(),
            enabled,
        }
    }

    /// Starts a stage.
    pub fn stage(&self, what: &str) {
        if !self.enabled {
            return;
        }
        match &self.bar {
            Some(b) => b.set_message(format!("{}: {what}", self.cmd)),
            None => eprintln!(
                "thermoq {}: [{:.1} s] {what}",
                self.cmd,
                self.start.elapsed().as_secs_f64()
            ),
        }
    }
}

impl Drop for Stages {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        } else if self.enabled {
            eprintln!(
                "thermoq {}: [{:.1} s] done",
                self.cmd,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}
