//! Bitbucket, after requests-oauthlib's "Bitbucket OAuth 1 Tutorial": the OAuth 1.0a three-legged
//! dance (`tower_oauth1::dance`), then a signed request through `SignLayer`.
//!
//! ```sh
//! cargo run --example bitbucket                       # against the demo provider
//! BITBUCKET_CLIENT_KEY=... BITBUCKET_CLIENT_SECRET=... cargo run --example bitbucket
//! ```
//!
//! With the variables set it uses the real endpoints: open the printed URL, authorize, and paste
//! the URL you are redirected to (`BITBUCKET_CALLBACK_URI`, default
//! `https://127.0.0.1/callback`).

use std::process::ExitCode;

use examples::transcript::{Transcript, finish};
use examples::tutorial::{OAuth1Tutorial, oauth1_flow};

const PROVIDER: OAuth1Tutorial = OAuth1Tutorial {
    name: "Bitbucket",
    env_prefix: "BITBUCKET",
    request_token_url: "https://bitbucket.org/api/1.0/oauth/request_token",
    authorize_url: "https://bitbucket.org/api/1.0/oauth/authenticate",
    access_token_url: "https://bitbucket.org/api/1.0/oauth/access_token",
    api_url: "https://api.bitbucket.org/2.0/user",
    callback: "https://127.0.0.1/callback",
    demo_consumer: "bitbucket-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("bitbucket", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let profile = oauth1_flow(t, &PROVIDER).await?;
    let shown = profile.to_string();
    t.say(format!(
        "profile: {}",
        shown.chars().take(160).collect::<String>()
    ));
    Ok(())
}
