//! Facebook, after requests-oauthlib's "Facebook OAuth 2 Tutorial": the web application flow,
//! then the profile through `OAuth2Layer`. The demo provider imitates Facebook's legacy token response: form-encoded, `expires` instead of `expires_in`, no `token_type`; `Compliance::facebook()` reads it.
//!
//! ```sh
//! cargo run --example facebook                       # against the demo provider
//! FACEBOOK_CLIENT_ID=... FACEBOOK_CLIENT_SECRET=... cargo run --example facebook
//! ```
//!
//! With the variables set it uses the real endpoints: open the printed URL, authorize, and paste
//! the URL you are redirected to (`FACEBOOK_REDIRECT_URI`, default `https://127.0.0.1/callback`, must
//! match the app's registered redirect URI).

use std::process::ExitCode;

use examples::transcript::{Transcript, finish};
use examples::tutorial::{AuthMethod, OAuth2Tutorial, code_flow};
use oauth_core::oauth2::Compliance;

const PROVIDER: OAuth2Tutorial = OAuth2Tutorial {
    name: "Facebook",
    env_prefix: "FACEBOOK",
    authorize_url: "https://www.facebook.com/dialog/oauth",
    token_url: "https://graph.facebook.com/oauth/access_token",
    api_url: "https://graph.facebook.com/me?fields=id,name,email",
    scope: "email public_profile",
    extra_params: &[],
    compliance: Compliance::facebook,
    auth: AuthMethod::Post,
    redirect_uri: "https://127.0.0.1/callback",
    demo_client: "facebook-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("facebook", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let session = code_flow(t, &PROVIDER).await?;
    t.step("fetch the profile through OAuth2Layer");
    let profile = session.fetch_profile().await?;
    t.say(format!("logged in as {}", profile["name"]));
    Ok(())
}
