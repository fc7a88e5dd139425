//! Tumblr, after requests-oauthlib's "Tumblr OAuth 1 Tutorial": the OAuth 1.0a three-legged
//! dance (`tower_oauth1::dance`), then a signed request through `SignLayer`.
//!
//! ```sh
//! cargo run --example tumblr                       # against the demo provider
//! TUMBLR_CLIENT_KEY=... TUMBLR_CLIENT_SECRET=... cargo run --example tumblr
//! ```
//!
//! With the variables set it uses the real endpoints: open the printed URL, authorize, and paste
//! the URL you are redirected to (`TUMBLR_CALLBACK_URI`, default
//! `https://127.0.0.1/callback`).

use std::process::ExitCode;

use examples::transcript::{Transcript, finish};
use examples::tutorial::{OAuth1Tutorial, oauth1_flow};

const PROVIDER: OAuth1Tutorial = OAuth1Tutorial {
    name: "Tumblr",
    env_prefix: "TUMBLR",
    request_token_url: "https://www.tumblr.com/oauth/request_token",
    authorize_url: "https://www.tumblr.com/oauth/authorize",
    access_token_url: "https://www.tumblr.com/oauth/access_token",
    api_url: "https://api.tumblr.com/v2/user/info",
    callback: "https://127.0.0.1/callback",
    demo_consumer: "tumblr-demo",
};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("tumblr", &t, result)
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
