//! LinkedIn, after requests-oauthlib's "LinkedIn OAuth 2 Tutorial": the web application flow,
//! then the profile through `OAuth2Layer`. The demo provider imitates LinkedIn's token response without `token_type`; `Compliance::linkedin()` treats it as `Bearer`.
//!
//! ```sh
//! cargo run --example linkedin                       # against the demo provider
//! LINKEDIN_CLIENT_ID=... LINKEDIN_CLIENT_SECRET=... cargo run --example linkedin
//! ```
//!
//! With the variables set it uses the real endpoints: open the printed URL, authorize, and paste
//! the URL you are redirected to (`LINKEDIN_REDIRECT_URI`, default `https://127.0.0.1/callback`, must
//! match the app's registered redirect URI).

use std::process::ExitCode;

use examples::transcript::{Transcript, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, code_flow};
use oauth_core::oauth2::Compliance;

const PROVIDER: OAuth2Tutorial = OAuth2Tutorial {
    name: "LinkedIn",
    env_prefix: "LINKEDIN",
    authorize_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    api_url: "https://api.linkedin.com/v2/userinfo",
    scope: "openid profile email",
    extra_params: &[],
    compliance: Compliance::linkedin,
    auth: AuthMethod::Post,
    redirect_uri: "https://127.0.0.1/callback",
    demo_client: "linkedin-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("linkedin", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = code_flow(t, &PROVIDER).await?;
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    t.say(format!("logged in as {}", profile["name"]));
    Ok(())
}
