//! Google, after requests-oauthlib's "Google OAuth 2 Tutorial": the web application flow with
//! offline access (`access_type=offline`, `prompt=consent`), so a refresh token is issued, then a
//! refresh without the user.
//!
//! ```sh
//! cargo run --example google                       # against the demo provider
//! GOOGLE_CLIENT_ID=... GOOGLE_CLIENT_SECRET=... cargo run --example google
//! ```
//!
//! With the variables set it uses accounts.google.com: open the printed URL, authorize, and paste
//! the URL you are redirected to (`GOOGLE_REDIRECT_URI`, default `http://127.0.0.1/callback`, a
//! loopback redirect Google allows for desktop clients).

use std::process::ExitCode;

use examples::transcript::{Transcript, check, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, code_flow, describe};
use oauth_core::oauth2::Compliance;

const GOOGLE: OAuth2Tutorial = OAuth2Tutorial {
    name: "Google",
    env_prefix: "GOOGLE",
    authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    api_url: "https://www.googleapis.com/oauth2/v1/userinfo",
    scope: "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
    extra_params: &[("access_type", "offline"), ("prompt", "consent")],
    compliance: Compliance::strict,
    auth: AuthMethod::Post,
    redirect_uri: "http://127.0.0.1/callback",
    demo_client: "google-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("google", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = code_flow(t, &GOOGLE).await?;
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    t.say(format!("logged in as {}", profile["email"]));

    t.step("offline access: refresh without the user");
    let token = session.source.current().ok_or("no token")?;
    let refresh_token = token
        .refresh_token()
        .ok_or("no refresh token (offline access not granted)")?;
    let refreshed = session.grants.refresh(refresh_token, None).await?;
    t.say(format!("refreshed: {}", describe(&refreshed)));
    check(
        refreshed.access_token() != token.access_token(),
        "a new access token",
    )?;
    session.source.set_token(refreshed);
    let profile = session.fetch_profile().await?;
    t.say(format!("still {}", profile["email"]));
    Ok(())
}
