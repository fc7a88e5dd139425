//! The printed transcript: numbered steps, checked expectations, and redaction.
//!
//! Nothing here prints a secret: [`redact`] shows at most the first four characters of a value
//! and its length.

use std::fmt;
use std::process::ExitCode;

/// A failed expectation; its message says what was expected.
#[derive(Debug)]
pub struct CheckFailed(pub String);

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check failed: {}", self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// Fails with `what` unless `condition` holds.
pub fn check(condition: bool, what: impl Into<String>) -> Result<(), CheckFailed> {
    if condition {
        Ok(())
    } else {
        Err(CheckFailed(what.into()))
    }
}

/// A secret shown safely: its first four characters, an ellipsis and its length
/// (`"2Yot…(22 chars)"`). Values of eight characters or fewer are fully hidden.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    if len <= 8 {
        return format!("…({len} chars)");
    }
    let head: String = secret.chars().take(4).collect();
    format!("{head}…({len} chars)")
}

/// A URL shown without its query values for the parameters that carry secrets (`code`,
/// `access_token`, `oauth_verifier`, `oauth_token`, `state`, `code_challenge`...), which are
/// replaced by their redacted form.
pub fn redact_url(url: &str) -> String {
    const SENSITIVE: &[&str] = &[
        "code",
        "state",
        "access_token",
        "refresh_token",
        "oauth_token",
        "oauth_verifier",
        "code_challenge",
        "nonce",
    ];
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (path, query) = match base.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base, None),
    };
    let scrub = |params: &str| -> String {
        params
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if SENSITIVE.contains(&name) => {
                    format!("{name}={}", redact(value))
                }
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut out = path.to_owned();
    if let Some(q) = query {
        out.push('?');
        out.push_str(&scrub(q));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&scrub(f));
    }
    out
}

/// Numbered steps of a transcript, printed as they run.
#[derive(Debug, Default)]
pub struct Transcript {
    steps: u32,
    section: Option<String>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a section (a heading, no number).
    pub fn section(&mut self, title: &str) {
        println!();
        println!("== {title}");
        self.section = Some(title.to_owned());
    }

    /// Starts the next numbered step.
    pub fn step(&mut self, title: &str) {
        self.steps += 1;
        println!("[{:>2}] {title}", self.steps);
    }

    /// A detail line under the current step.
    pub fn say(&self, line: impl fmt::Display) {
        println!("       {line}");
    }

    /// How many steps ran.
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

/// Prints the final line of an example (`NAME: all N steps passed`, or the failure) and turns
/// the outcome into the process exit code.
pub fn finish(name: &str, transcript: &Transcript, result: crate::Result<()>) -> ExitCode {
    match result {
        Ok(()) => {
            println!();
            println!("{name}: all {} steps passed", transcript.steps());
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The whole chain: the top message says what failed, its causes say why.
            let mut message = error.to_string();
            let mut cause = error.source();
            while let Some(next) = cause {
                message.push_str(": ");
                message.push_str(&next.to_string());
                cause = next.source();
            }
            eprintln!();
            eprintln!("{name}: step {} FAILED: {message}", transcript.steps());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_values() {
        assert_eq!(redact("2YotnFZFEjr1zCsicMWpAA"), "2Yot…(22 chars)");
        assert_eq!(redact("short"), "…(5 chars)");
        let url = redact_url("http://x/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=abcdefghijk&iss=y");
        assert!(!url.contains("SplxlOBeZQQYbYS6WxSbIA"));
        assert!(url.contains("iss=y"));
    }
}
