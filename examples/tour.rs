//! The tour: the library working end to end against an embedded provider on 127.0.0.1.
//!
//! For now it shows the pieces that exist; it grows with each crate.

fn main() {
    let token = oauth_core::secret::AccessToken::new("demo-token");
    println!("tower-oauth tour: secrets print as {token:?}");
    println!("tour: ok");
}
