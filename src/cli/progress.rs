//! A progress line on stderr for the commands that send files (`import`,
//! `screen`): redrawn in place on a terminal, printed every few seconds
//! otherwise (a log of a nightly job stays short).
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    unit: &'static str,
    terminal: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// A bar for `total` things called `unit` ("lines", "addresses").
    pub fn new(total: usize, unit: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            unit,
            terminal: std::io::stderr().is_terminal(),
            started: now,
            last: now,
        }
    }

    /// Shows `done` of the total, then `detail`; `last` ends the line.
    pub fn show(&mut self, done: usize, detail: &str, last: bool) {
        if !self.terminal && !last && self.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last = Instant::now();
        const WIDTH: usize = 30;
        let filled = (done * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let unit = self.unit;
        let text = format!(
            "[{bar}] {done}/{} {unit}, {detail}, {rate:.0} {unit}/s",
            self.total
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r{text}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{text}");
        }
    }
}
