//! Running an example against the real provider instead of the demo one.
//!
//! Each per-provider example reads its client credentials from two environment variables
//! (`GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET`, say; Fitbit's implicit grant only the id).
//! When they are set it talks to the real endpoints, prints the authorization URL and reads the
//! URL the browser was redirected to from standard input, as requests-oauthlib's tutorials do;
//! otherwise it runs non-interactively against [`DemoProvider`](crate::provider::DemoProvider).

use std::io::{BufRead, Write};

use oauth_core::secret::ClientSecret;

use crate::Result;

/// Client credentials read from the environment.
#[derive(Debug)]
pub struct RealCredentials {
    /// The client identifier.
    pub client_id: String,
    /// The client secret.
    pub client_secret: ClientSecret,
}

/// The credentials in `id_var` and `secret_var`, if both are set and not empty.
pub fn credentials(id_var: &str, secret_var: &str) -> Option<RealCredentials> {
    let id = std::env::var(id_var).ok().filter(|v| !v.is_empty())?;
    let secret = std::env::var(secret_var).ok().filter(|v| !v.is_empty())?;
    Some(RealCredentials {
        client_id: id,
        client_secret: ClientSecret::new(secret),
    })
}

/// An environment variable, or `default`.
pub fn var_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Prints `authorization_url` and reads the full redirect URL the user pastes back.
pub fn prompt_for_redirect(authorization_url: &str) -> Result<String> {
    println!("Please go here and authorize:\n\n    {authorization_url}\n");
    print!("Paste the full redirect URL here: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err("no redirect URL given".into());
    }
    Ok(line)
}

/// Prints a prompt and reads one line (an OAuth 1 verifier typed by the user, say).
pub fn prompt(question: &str) -> Result<String> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
