//! Job progress for people: a bar on a terminal, a line per tenth of the job otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal; a line per tenth of the job otherwise.
#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    printed_tenths: u64,
}

impl Progress {
    /// Starts showing a job of `total` tasks.
    pub fn start(&mut self, total: u64) {
        self.total = total;
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style =
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tasks, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        } else {
            eprintln!("progress: 0/{total} tasks");
        }
    }

    /// One more task done.
    pub fn advance(&mut self) {
        self.set(self.done + 1);
    }

    /// `done` tasks done.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None => {
                let tenths = self.done * 10 / self.total.max(1);
                if tenths > self.printed_tenths {
                    self.printed_tenths = tenths;
                    eprintln!(
                        "progress: {}/{} tasks ({}%)",
                        self.done,
                        self.total,
                        self.done * 100 / self.total.max(1)
                    );
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
