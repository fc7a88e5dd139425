//! Outlook (Microsoft identity platform), after requests-oauthlib's "Outlook OAuth 2 Tutorial": the web application flow,
//! then the profile through `OAuth2Layer`. The demo provider imitates a standard RFC 6749 token response; the Microsoft identity platform's v2.0 endpoints with PKCE.
//!
//! ```sh
//! cargo run --example outlook                       # against the demo provider
//! OUTLOOK_CLIENT_ID=... OUTLOOK_CLIENT_SECRET=... cargo run --example outlook
//! ```
//!
//! With the variables set it uses the real endpoints: open the printed URL, authorize, and paste
//! the URL you are redirected to (`OUTLOOK_REDIRECT_URI`, default `http://localhost/callback`, must
//! match the app's registered redirect URI).

use std::process::ExitCode;

use examples::transcript::{Transcript, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, code_flow};
use oauth_core::oauth2::Compliance;

const PROVIDER: OAuth2Tutorial = OAuth2Tutorial {
    name: "Outlook (Microsoft identity platform)",
    env_prefix: "OUTLOOK",
    authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    api_url: "https://graph.microsoft.com/v1.0/me",
    scope: "openid offline_access User.Read",
    extra_params: &[],
    compliance: Compliance::strict,
    auth: AuthMethod::Post,
    redirect_uri: "http://localhost/callback",
    demo_client: "outlook-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("outlook", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = code_flow(t, &PROVIDER).await?;
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    t.say(format!("logged in as {}", profile["name"]));
    Ok(())
}
