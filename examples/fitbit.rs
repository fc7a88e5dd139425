//! Fitbit, after requests-oauthlib's "Fitbit OAuth 2 (Mobile Application Flow) Tutorial": the
//! implicit grant, the token read from the redirect's fragment. Deprecated (RFC 9700 §2.1.2);
//! shown because the tutorial shows it. Prefer the code flow with PKCE.
//!
//! ```sh
//! cargo run --example fitbit                       # against the demo provider
//! FITBIT_CLIENT_ID=... cargo run --example fitbit  # a public client: no secret
//! ```
//!
//! With `FITBIT_CLIENT_ID` set it uses fitbit.com: open the printed URL, authorize, and paste the
//! URL you are redirected to (`FITBIT_REDIRECT_URI`, default `https://127.0.0.1/callback`).

use std::process::ExitCode;

use examples::transcript::{Transcript, check, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, implicit_flow};
use oauth_core::oauth2::Compliance;

const FITBIT: OAuth2Tutorial = OAuth2Tutorial {
    name: "Fitbit",
    env_prefix: "FITBIT",
    authorize_url: "https://www.fitbit.com/oauth2/authorize",
    token_url: "https://api.fitbit.com/oauth2/token",
    api_url: "https://api.fitbit.com/1/user/-/profile.json",
    scope: "activity profile",
    extra_params: &[("expires_in", "604800")],
    compliance: Compliance::strict,
    auth: AuthMethod::Basic,
    redirect_uri: "https://127.0.0.1/callback",
    demo_client: "fitbit-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("fitbit", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = implicit_flow(t, &FITBIT).await?;
    let token = session.source.current().ok_or("no token")?;
    check(
        token.refresh_token().is_none(),
        "the implicit grant issues no refresh token",
    )?;
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    let name = if session.is_demo() {
        profile["name"].clone()
    } else {
        profile["user"]["displayName"].clone()
    };
    t.say(format!("logged in as {name}"));
    Ok(())
}
