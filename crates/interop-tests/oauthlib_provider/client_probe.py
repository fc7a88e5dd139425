#!/usr/bin/env python3
"""oauthlib's own OAuth 1 client against a server that verifies with oauth-core.

Run by ``tests/oauth1_verifier_interop.rs``, which starts two small hyper servers on
127.0.0.1 that verify every request with ``oauth_core::oauth1::UnverifiedRequest`` and a
``ReplayGuard`` (the second one opts in to PLAINTEXT over plain http):

    client_probe.py --base-url http://127.0.0.1:P1 --plaintext-base-url http://127.0.0.1:P2

Signs a matrix of requests with ``oauthlib.oauth1.Client`` (every signature method, every
placement, edge-case URLs and form bodies) plus negative rows (tampered after signing,
wrong secret, replayed nonce, stale timestamp, PLAINTEXT over http), sends each with
``urllib`` and prints one JSON line per request:

    {"id", "method", "url", "body", "placement", "realm", "consumer_key", "token",
     "callback", "signature_method", "sent": [[name, value], ...], "expect", "status", "answer"}

``url`` and ``body`` are the request before signing; nothing signed is printed (a PLAINTEXT
signature is the secrets themselves). ``sent`` is the non-``oauth_`` parameters the request
carries, decoded by Python's ``urllib.parse.parse_qsl`` (not by oauthlib, not by the server).
``expect`` is ``ok`` or the error kind the server must answer with. The Rust test asserts
every line; this script only exits non-zero if it could not run.

Secrets and the RSA key are the built-in ones of the oauthlib provider
(``default_config.json``, ``../keys/rsa_private_pkcs8.pem``).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_HMAC_SHA512,
    SIGNATURE_PLAINTEXT,
    SIGNATURE_RSA_SHA1,
    SIGNATURE_RSA_SHA256,
    SIGNATURE_RSA_SHA512,
    SIGNATURE_TYPE_AUTH_HEADER,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
    Client,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FORM = "application/x-www-form-urlencoded"
REQUEST_TIMEOUT = 10

PLACEMENTS = [
    (SIGNATURE_TYPE_AUTH_HEADER, "header"),
    (SIGNATURE_TYPE_QUERY, "query"),
    (SIGNATURE_TYPE_BODY, "body"),
]
HMAC = [SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_HMAC_SHA512]
RSA = [SIGNATURE_RSA_SHA1, SIGNATURE_RSA_SHA256, SIGNATURE_RSA_SHA512]

# (HTTP method, path and query, form body or None). Edge cases of RFC 5849 §3.4.1:
CASES = [
    # A literal `+` in the query is a space (§3.4.1.3.1: form decoding).
    ("GET", "/r?q=a+b", None),
    # Encoded `+`, space and `%`; an empty value.
    ("GET", "/r?x=%2B%20%25&e=", None),
    # The same key three times, two of them with the same value (all are signed, §3.4.1.3.2).
    ("GET", "/r?a=1&a=2&a=1", None),
    # A name without `=`: an empty value.
    ("GET", "/r?flag&z=1", None),
    # An empty query; a name and a value with encoded `=` and `&`.
    ("GET", "/r?", None),
    ("GET", "/r?a%3Db=c%26d", None),
    # Lower-case hex digits (decoded, then encoded again in upper case, §3.6); an encoded
    # unreserved `~` and literal sub-delimiters; a non-ASCII name.
    ("GET", "/r?x=%c3%a9", None),
    ("GET", "/r?q=a%7Eb&r=a~b&s=!*'()", None),
    ("GET", "/r?%E2%82%AC=1", None),
    # Empty pairs and an empty name.
    ("GET", "/r?a=1&&b=2", None),
    ("GET", "/r?=v", None),
    # Encoded path segments: the path is signed as sent (§3.4.1.2), `%2F` included.
    ("GET", "/caf%C3%A9/a%2Fb?p=1", None),
    ("GET", "/caf%c3%a9", None),
    ("GET", "/a%20b/c+d", None),
    ("GET", "/p%41th", None),
    # Path parameters, sub-delimiters and `:`/`@` in the path, empty segments.
    ("GET", "/r;p=1?q=1", None),
    ("GET", "/~user/a-b_c.d!$'()*,;=:@", None),
    ("GET", "//double//slash", None),
    ("DELETE", "/r?q=1", None),
    # Repeated keys across the query and the form body, a `+` in the body.
    ("POST", "/r?z=1", "z=2&z=1&s=x+y"),
    # Non-ASCII form values (percent-encoded UTF-8, upper and lower case), PUT.
    ("PUT", "/r/item", "v=%E2%82%AC+%C3%BC&n=%F0%9F%98%80"),
    ("POST", "/r", "k=%c3%a9"),
    # An empty value and reserved characters in the body; empty pairs, an empty name and a
    # name without `=`.
    ("POST", "/r", "e=&k=%26%3D%2B"),
    ("POST", "/r", "a=1&&b=2"),
    ("POST", "/r", "=v&x"),
]


def load_config():
    with open(os.path.join(HERE, "default_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    clients = {c["key"]: c["secret"] for c in config["clients"]}
    tokens = {t["token"]: (t["client"], t["secret"]) for t in config["access_tokens"]}
    return clients, tokens


def sent_params(path, body, content_type):
    """The non-oauth parameters of a request, decoded independently of oauthlib."""
    query = urlsplit(path).query
    params = parse_qsl(query, keep_blank_values=True)
    if body is not None and content_type == FORM:
        params += parse_qsl(body, keep_blank_values=True)
    return [[n, v] for n, v in params]


class Probe:
    def __init__(self, args):
        self.base = args.base_url.rstrip("/")
        self.plaintext_base = args.plaintext_base_url.rstrip("/")
        with open(args.rsa_key, encoding="ascii") as f:
            self.rsa_key = f.read()
        self.clients, self.tokens = load_config()
        self.count = 0

    def client(self, consumer_key, token, method, placement, secret=None, **extra):
        rsa = method in RSA
        consumer_secret = secret if secret is not None else self.clients[consumer_key]
        token_secret = self.tokens[token][1] if token else None
        return Client(
            consumer_key,
            client_secret=None if rsa else consumer_secret,
            resource_owner_key=token,
            resource_owner_secret=None if rsa else token_secret,
            signature_method=method,
            signature_type=placement,
            rsa_key=self.rsa_key if rsa else None,
            **extra,
        )

    def sign(self, client, verb, url, body, content_type=FORM):
        headers = {"Content-Type": content_type} if body is not None else {}
        return client.sign(url, http_method=verb, body=body, headers=headers)

    def send(self, signed, verb):
        uri, headers, body = signed
        data = body.encode("utf-8") if isinstance(body, str) else body
        request = urllib.request.Request(uri, data=data, method=verb, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8")

    def report(self, row_id, verb, base, path, body, placement_name, client, expect,
               status, answer, content_type=FORM):
        try:
            answer = json.loads(answer)
        except ValueError:
            pass
        line = {
            "id": row_id,
            "method": verb,
            "url": base + path,
            "body": body,
            "placement": placement_name,
            "realm": client.realm,
            "consumer_key": client.client_key,
            "token": client.resource_owner_key,
            "callback": client.callback_uri,
            "signature_method": client.signature_method,
            "has_verifier": client.verifier is not None,
            "sent": sent_params(path, body, content_type),
            "expect": expect,
            "status": status,
            "answer": answer,
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
        self.count += 1

    def row(self, row_id, client, verb, path, body, placement_name, expect="ok", base=None,
            sign_path=None, sign_body=None, content_type=FORM):
        """Signs (`sign_path`/`sign_body` if given, else `path`/`body`) and sends `path`/`body`."""
        base = base or self.base
        signed = self.sign(
            client,
            verb,
            base + (sign_path if sign_path is not None else path),
            sign_body if sign_body is not None else body,
            content_type,
        )
        if sign_path is not None or sign_body is not None:
            signed = tamper(signed, base + sign_path if sign_path else None, base + path,
                            sign_body, body)
        status, answer = self.send(signed, verb)
        self.report(row_id, verb, base, path, body, placement_name, client, expect, status,
                    answer, content_type)

    def run(self):
        token = "interop-access-token"
        key = "interop-client"
        # Every method x placement x edge case, with an access token.
        for method in HMAC + RSA:
            for placement, name in PLACEMENTS:
                for verb, path, body in CASES:
                    if placement == SIGNATURE_TYPE_BODY and body is None:
                        continue  # Body placement needs a form body (RFC 5849 §3.5.2).
                    client = self.client(key, token, method, placement)
                    row_id = f"{method}/{name}/{verb} {path}" + (f" [{body}]" if body else "")
                    self.row(row_id, client, verb, path, body, name)

        # realm in the Authorization header: not a signed parameter (§3.5.1, §3.4.1.3.1).
        for method in [SIGNATURE_HMAC_SHA1, SIGNATURE_RSA_SHA256]:
            client = self.client(key, token, method, SIGNATURE_TYPE_AUTH_HEADER,
                                 realm="photos")
            self.row(f"realm/{method}", client, "GET", "/r?q=1", None, "header")

        # Secrets with `%`, space, `&`, `+`, `=`, `/` and non-ASCII characters (§3.4.2 encodes
        # them before joining with `&`).
        special_key, special_token = "interop-client-special", "interop-access-token-special"
        for placement, name in PLACEMENTS:
            for method in HMAC:
                client = self.client(special_key, special_token, method, placement)
                self.row(f"special-secret/{method}/{name}", client, "POST", "/r?a=%C3%A9",
                         "b=%E2%82%AC", name)

        # A temporary-credential request: no token, a callback with a `%` in it.
        client = self.client(key, None, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER,
                             callback_uri="http://127.0.0.1/cb?x=a%20b")
        self.row("no-token/callback/header", client, "POST", "/request_token", None, "header")
        for placement, name in PLACEMENTS[1:]:
            client = self.client(key, None, SIGNATURE_HMAC_SHA256, placement,
                                 callback_uri="http://127.0.0.1/cb?x=1")
            self.row(f"no-token/callback/{name}", client, "POST", "/request_token", "x=1", name)
        # oauthlib client quirk, pinned (not a requirement on anyone): in the query or the
        # body, oauthlib's client sends `oauth_callback` encoded once (`a%2520b`, right) but
        # signs it decoded twice (`a b`): its collect_parameters form-decodes the query and
        # the body and then percent-decodes every oauth_* value again, which RFC 5849 does
        # only for the Authorization header (§3.5.1; query and body: §3.4.1.3.1, one
        # form-decoding). A verifier that decodes once, as the RFC says, refuses these
        # requests; one that accepted them would be decoding twice. (The oauthlib provider
        # has the mirror bug, fixed there: README, "Quirk fix, double decoding".)
        for placement, name in PLACEMENTS[1:]:
            client = self.client(key, None, SIGNATURE_HMAC_SHA1, placement,
                                 callback_uri="http://127.0.0.1/cb?x=a%20b")
            self.row(f"oauthlib-quirk/callback-decoded-twice/{name}", client, "POST",
                     "/request_token", "x=1", name, expect="SignatureMismatch")

        # A token-credential request carries oauth_verifier (§2.3), in every placement.
        for placement, name in PLACEMENTS:
            client = self.client(key, token, SIGNATURE_HMAC_SHA1, placement,
                                 verifier="interop-verifier-1")
            self.row(f"verifier/{name}", client, "POST", "/access_token", "x=1", name)

        # A body that is not a form is not signed (§3.4.1.3.1): oauthlib leaves it out, the
        # verifier does not read it (from_parts reads a body only with a form Content-Type).
        for placement, name in PLACEMENTS[:2]:
            client = self.client(key, token, SIGNATURE_HMAC_SHA256, placement)
            self.row(f"json-body/{name}", client, "POST", "/r?q=1", '{"a": "b=c&d"}', name,
                     content_type="application/json")

        # The host as the client wrote it, in mixed case: the base string has it in lower
        # case (§3.4.1.2), and the server reads it from the Host header.
        port = urlsplit(self.base).port
        client = self.client(key, token, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER)
        self.row("host-mixed-case", client, "GET", "/r?q=1", None, "header",
                 base=f"http://LocalHost:{port}")

        # PLAINTEXT: refused over plain http by default (§3.4.4), accepted by the server that
        # opts in with `dangerous_allow_plaintext_over_http`.
        for placement, name in PLACEMENTS:
            client = self.client(key, token, SIGNATURE_PLAINTEXT, placement)
            self.row(f"plaintext/strict/{name}", client, "POST", "/r?q=1", "b=2", name,
                     expect="InsecureTransport")
            for k, t in [(key, token), (special_key, special_token)]:
                client = self.client(k, t, SIGNATURE_PLAINTEXT, placement)
                self.row(f"plaintext/allowed/{k}/{name}", client, "POST", "/r?q=1", "b=2",
                         name, base=self.plaintext_base)

        # --- Negative rows -----------------------------------------------------------
        for method in [SIGNATURE_HMAC_SHA1, SIGNATURE_RSA_SHA512]:
            for placement, name in PLACEMENTS:
                # A query parameter changed after signing.
                client = self.client(key, token, method, placement)
                self.row(f"tampered-query/{method}/{name}", client, "POST", "/r?q=2", "b=1",
                         name, expect="SignatureMismatch", sign_path="/r?q=1")
                # A body parameter changed after signing.
                client = self.client(key, token, method, placement)
                self.row(f"tampered-body/{method}/{name}", client, "POST", "/r?q=1",
                         "b=2", name, expect="SignatureMismatch", sign_body="b=1")
        for placement, name in PLACEMENTS:
            for method in HMAC + [SIGNATURE_PLAINTEXT]:
                client = self.client(key, token, method, placement, secret="not-the-secret")
                base = self.plaintext_base if method == SIGNATURE_PLAINTEXT else None
                self.row(f"wrong-secret/{method}/{name}", client, "POST", "/r", "b=1", name,
                         expect="SignatureMismatch", base=base)
        # The same signed request twice: the second is a replay (§3.3).
        for method in [SIGNATURE_HMAC_SHA256, SIGNATURE_RSA_SHA1]:
            for placement, name in PLACEMENTS:
                client = self.client(key, token, method, placement)
                signed = self.sign(client, "POST", self.base + "/r?q=1", "b=1")
                for attempt, expect in [("first", "ok"), ("again", "NonceReused")]:
                    status, answer = self.send(signed, "POST")
                    self.report(f"replay/{method}/{name}/{attempt}", "POST", self.base,
                                "/r?q=1", "b=1", name, client, expect, status, answer)
        # A timestamp an hour old (the server's window is five minutes).
        for placement, name in PLACEMENTS:
            client = self.client(key, token, SIGNATURE_HMAC_SHA1, placement,
                                 timestamp=str(int(time.time()) - 3600))
            self.row(f"stale-timestamp/{name}", client, "POST", "/r", "b=1", name,
                     expect="TimestampOutOfWindow")
        # A timestamp an hour ahead.
        client = self.client(key, token, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER,
                             timestamp=str(int(time.time()) + 3600))
        self.row("future-timestamp/header", client, "GET", "/r", None, "header",
                 expect="TimestampOutOfWindow")
        # A client the server does not know.
        client = Client("no-such-client", client_secret="x", signature_method=SIGNATURE_HMAC_SHA1)
        self.row("unknown-client", client, "GET", "/r", None, "header", expect="UnknownClient")


def tamper(signed, signed_url, url, signed_body, body):
    """Replaces the URL or the body of a signed request (oauth parameters kept)."""
    uri, headers, sent_body = signed
    if signed_url is not None:
        # Keep the oauth_* parameters of a query-signed request: swap the rest only.
        assert uri.startswith(signed_url)
        uri = url + uri[len(signed_url):]
    if signed_body is not None:
        assert sent_body.startswith(signed_body), sent_body
        sent_body = body + sent_body[len(signed_body):]
    return uri, headers, sent_body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--plaintext-base-url", required=True)
    parser.add_argument("--rsa-key",
                        default=os.path.join(HERE, "..", "keys", "rsa_private_pkcs8.pem"))
    args = parser.parse_args()
    probe = Probe(args)
    probe.run()
    print(json.dumps({"done": probe.count}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
