//! GitHub, after requests-oauthlib's "GitHub OAuth 2 Tutorial": the web application flow, with
//! the compliance hook for GitHub's legacy form-encoded token response.
//!
//! ```sh
//! cargo run --example github                       # against the demo provider
//! GITHUB_CLIENT_ID=... GITHUB_CLIENT_SECRET=... cargo run --example github
//! ```
//!
//! With the variables set it uses github.com: open the printed URL, authorize, and paste the URL
//! you are redirected to (`GITHUB_REDIRECT_URI`, default `https://127.0.0.1/callback`, must match
//! the OAuth app's callback URL). The demo provider answers the token request form-encoded with
//! a comma-separated scope, as GitHub does without `Accept: application/json`;
//! `Compliance::github()` accepts that.

use std::process::ExitCode;

use examples::transcript::{Transcript, check, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, code_flow};
use oauth_core::oauth2::Compliance;

const GITHUB: OAuth2Tutorial = OAuth2Tutorial {
    name: "GitHub",
    env_prefix: "GITHUB",
    authorize_url: "https://github.com/login/oauth/authorize",
    token_url: "https://github.com/login/oauth/access_token",
    api_url: "https://api.github.com/user",
    scope: "read:user user:email",
    extra_params: &[],
    compliance: Compliance::github,
    auth: AuthMethod::Post,
    redirect_uri: "https://127.0.0.1/callback",
    demo_client: "github-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("github", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = code_flow(t, &GITHUB).await?;
    let token = session.source.current().ok_or("no token")?;
    check(
        token.scope().is_some_and(|s| s.len() == 2),
        "the comma-separated scope was read as two scopes",
    )?;
    t.say(format!(
        "granted scope: {}",
        token.scope().map(|s| s.to_string()).unwrap_or_default()
    ));
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    t.say(format!("logged in as {}", profile["login"]));
    Ok(())
}
