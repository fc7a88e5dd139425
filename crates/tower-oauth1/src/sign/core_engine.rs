//! The production engine: `oauth_core::oauth1::Signer`.

use bytes::Bytes;
use http::{HeaderValue, Uri};
use oauth_core::oauth1::{
    Placement, SignOptions, SignedOutput, Signer, TokenCredentials as CoreToken,
};
use oauth_core::secret::{TokenSecret, Verifier};

use super::{Engine, Signed, ToSign};
use crate::BoxError;

impl Engine for Signer {
    fn sends_secrets(&self) -> bool {
        self.method_name() == "PLAINTEXT"
    }

    fn sign(&self, req: ToSign<'_>, placement: Placement) -> Result<Signed, BoxError> {
        let mut options = SignOptions::new();
        if let Some(body) = req.body_for_hash {
            options = options.body_hash(body);
        }
        if let Some(realm) = req.realm {
            options = options.realm(realm);
        }
        let signed = Signer::sign(
            self,
            req.method,
            req.uri,
            req.form.map(str::as_bytes),
            &options,
            placement,
        )?;
        Ok(match signed.into_output() {
            SignedOutput::Header(value) => Signed::Header(value),
            SignedOutput::Query(uri) => Signed::Uri(uri),
            SignedOutput::Body(body) => Signed::Body(Bytes::from(body)),
            _ => return Err("unsupported signer output".into()),
        })
    }
}

impl crate::dance::DanceSigner for Signer {
    fn authorization(
        &self,
        uri: &Uri,
        token: Option<(&str, &TokenSecret)>,
        callback: Option<&str>,
        verifier: Option<&Verifier>,
        realm: Option<&str>,
    ) -> Result<HeaderValue, BoxError> {
        let signer;
        let signer = match token {
            Some((token, secret)) => {
                signer = self.with_token(Some(CoreToken::new(token, secret.clone())));
                &signer
            }
            None => self,
        };
        let mut options = SignOptions::new();
        if let Some(callback) = callback {
            options = options.callback(callback);
        }
        if let Some(verifier) = verifier {
            options = options.verifier(verifier);
        }
        if let Some(realm) = realm {
            options = options.realm(realm);
        }
        let signed = signer.sign(&http::Method::POST, uri, None, &options, Placement::Header)?;
        signed
            .into_header_value()
            .ok_or_else(|| "the signer did not produce a header".into())
    }
}
