//! Where rotor's words go.
//!
//! Text mode: the narrative (one plain line per step) and the result on stdout. JSON mode:
//! the narrative on stderr and one JSON document on stdout. Metrics mode (`status
//! --output openmetrics`): the narrative on stderr, and stdout is the command's metrics. A progress bar is drawn only
//! when stderr is a terminal; `NO_COLOR` turns colour off.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// What stdout carries: the narrative and result as text, or one JSON document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// OpenMetrics text on stdout (`rotor status` only).
    Metrics,
}

/// A document with the schema it follows in front.
#[derive(Debug, serde::Serialize)]
pub struct Tagged<'a, T: ?Sized> {
    schema: &'static str,
    #[serde(flatten)]
    doc: &'a T,
}

impl<'a, T: ?Sized> Tagged<'a, T> {
    pub fn new(doc: &'a T) -> Self {
        Tagged {
            schema: crate::schema::ID,
            doc,
        }
    }
}

/// The document of a command that failed before it could run (a bad flag value, a
/// state directory refused), as one line.
pub fn failure_document(command: &str, e: &crate::error::Error) -> String {
    let doc = Document {
        command,
        body: crate::error::Failure::of(e),
    };
    serde_json::to_string(&Tagged::new(&doc)).unwrap_or_default()
}

/// Every command's JSON document: its name, then the fields of its report.
#[derive(Debug, serde::Serialize)]
struct Document<'a, B> {
    command: &'a str,
    #[serde(flatten)]
    body: B,
}

#[derive(Debug)]
pub struct Output {
    pub format: Format,
    terminal: bool,
    /// The JSON document was printed (there is one per command, success or not).
    documented: std::cell::Cell<bool>,
}

impl Output {
    pub fn new(format: Format) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color {
            console::set_colors_enabled(false);
            console::set_colors_enabled_stderr(false);
        }
        Output {
            format,
            terminal: std::io::stderr().is_terminal(),
            documented: std::cell::Cell::new(false),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// One line of narrative. Control characters from runbook values (an escape
    /// sequence in an `exec` argument, say) are shown escaped, never sent raw to the
    /// terminal.
    pub fn line(&self, s: &str) {
        self.raw(&printable(s));
    }

    fn raw(&self, s: &str) {
        if self.format != Format::Text {
            rotor_provider::warn_line(s);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
        }
    }

    /// A heading line, bold on a terminal.
    pub fn heading(&self, s: &str) {
        self.raw(&console::style(printable(s)).bold().to_string());
    }

    /// The command's JSON document (json mode only): `{"command": …}` and the fields of
    /// `body`, a typed report.
    pub fn report<B: serde::Serialize>(&self, command: &str, body: B) {
        self.document(&Document { command, body });
    }

    /// Marks the command's output as given in another form (JSON Lines): no document
    /// follows, not even an error's.
    pub fn documented(&self) {
        self.documented.set(true);
    }

    /// The final JSON document (json mode only), tagged with the schema it follows
    /// (`"schema": "rotor/v1"`, see `rotor schema`).
    pub fn document<T: serde::Serialize + ?Sized>(&self, doc: &T) {
        if self.is_json() && !self.documented.replace(true) {
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut out, &Tagged::new(doc));
            let _ = writeln!(out);
        }
    }

    /// A bar counting satisfied checks, drawn on a terminal only.
    pub fn progress(&self, label: &str, total: u64) -> Progress {
        if !self.terminal || total == 0 {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:20}] {pos}/{len} checks")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }
}

#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A progress display that shows nothing.
    pub fn none() -> Progress {
        Progress(None)
    }

    pub fn is_drawn(&self) -> bool {
        self.0.is_some()
    }

    pub fn set(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// `s` with every control character but newline and tab written as `\u{..}`.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod printable_tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::printable("plain"), "plain");
        assert_eq!(super::printable("a\x1b[2Jb\r"), "a\\u{1b}[2Jb\\u{d}");
        assert_eq!(super::printable("two\nlines"), "two\nlines");
    }
}
