#!/usr/bin/env python3
"""OAuth 1.0a test provider built on oauthlib, for the tower-oauth interop tests.

A small stdlib HTTP server on 127.0.0.1 (plain HTTP, loopback only) that wires
oauthlib's RFC 5849 server endpoints:

    POST /request_token             temporary credentials (RequestTokenEndpoint)
    GET  /authorize?oauth_token=T   resource owner authorization, auto-approved for
                                    the configured test user; add deny=1 to deny
    POST /access_token              token credentials (AccessTokenEndpoint)
    GET|POST /resource[/...]        protected resource (ResourceEndpoint): 200 with a
                                    JSON echo of what was verified, 401 otherwise
    /oauth2/..., /.well-known/oauth-authorization-server
                                    OAuth 2.0 endpoints (oauth2.py)
    GET  /health                    "ok"
    GET  /test/stats                JSON counters per endpoint and outcome

Usage: provider.py [--config FILE] [--host 127.0.0.1] [--port 0]

Prints exactly one line, ``READY <port>``, to stdout once listening; everything
else (one line per request, never a secret) goes to stderr. Stops on SIGTERM or
SIGINT.

The clients, secrets, RSA public keys, pre-issued access tokens, realms and the
timestamp window come from a JSON file (``--config``); without one the built-in
defaults below are used. See ../README.md for the format.

Deviations from a stock oauthlib setup are marked "RELAXATION" or "QUIRK FIX" in
the comments and listed in ../README.md.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from oauthlib.common import extract_params, safe_string_equals
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import SIGNATURE_METHODS, errors, utils

import oauth2

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_DIR = os.path.join(os.path.dirname(HERE), "keys")

# Longest request body accepted (the tests never come close).
MAX_BODY = 1 << 20

# Built-in clients, secrets, pre-issued access tokens and realms; the Rust harness
# reads the same file. Keys of a --config file replace these top-level keys.
DEFAULT_CONFIG_FILE = os.path.join(HERE, "default_config.json")

# Callback URIs a client may register on /request_token, besides "oob".
ALLOWED_CALLBACK_PREFIXES = ("http://127.0.0.1", "http://localhost", "http://[::1]")

# RELAXATION: tokens and client keys are opaque strings to RFC 5849, but oauthlib
# by default only accepts 20-30 ASCII letters and digits. Accept 1-256 printable
# ASCII characters (no spaces or controls) instead, so keys like "interop-client"
# and pre-issued tokens from a test's config work.
MAX_OPAQUE_LEN = 256


def log(msg):
    sys.stderr.write("[oauthlib-provider] %s\n" % msg)
    sys.stderr.flush()


def is_opaque_ok(value):
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_OPAQUE_LEN
        and all(0x21 <= ord(c) <= 0x7E for c in value)
    )


def load_config(path):
    with open(DEFAULT_CONFIG_FILE, "r", encoding="utf-8") as f:
        cfg = json.load(f)
    base = HERE
    if path is not None:
        with open(path, "r", encoding="utf-8") as f:
            cfg.update(json.load(f))
        base = os.path.dirname(os.path.abspath(path))
    for c in cfg["clients"]:
        name = c.get("rsa_public_key_file")
        if name and not c.get("rsa_public_key"):
            # Next to the config file if there, else in keys/.
            candidate = os.path.join(base, name)
            if not os.path.exists(candidate):
                candidate = os.path.join(KEYS_DIR, name)
            with open(candidate, "r", encoding="ascii") as kf:
                c["rsa_public_key"] = kf.read()
    return cfg


class Store:
    """In-memory state shared by the validator and the HTTP handler."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.clients = {c["key"]: c for c in cfg["clients"]}
        # (client_key, token) -> dict(secret, realms, callback, verifier, user)
        self.request_tokens = {}
        # (client_key, token) -> dict(secret, realms, user)
        self.access_tokens = {}
        for t in cfg.get("access_tokens", []):
            self.access_tokens[(t["client"], t["token"])] = {
                "secret": t["secret"],
                "realms": list(t.get("realms", [])),
                "user": t.get("user", cfg["user"]),
            }
        # (client_key, timestamp, nonce, token) -> time first seen
        self.nonces = {}
        self.stats = {}

    def count(self, name):
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def request_token_by_token(self, token):
        for (client, tok), data in self.request_tokens.items():
            if tok == token:
                return client, data
        return None, None


class Validator(RequestValidator):
    """In-memory RequestValidator driven by the JSON config."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    # ---- policy ---------------------------------------------------------

    @property
    def enforce_ssl(self):
        # RELAXATION: the tests talk plain HTTP over loopback.
        return False

    @property
    def allowed_signature_methods(self):
        # HMAC-SHA1/256/512, RSA-SHA1/256/512, PLAINTEXT.
        return SIGNATURE_METHODS

    @property
    def timestamp_lifetime(self):
        return int(self.store.cfg.get("timestamp_lifetime", 600))

    @property
    def realms(self):
        return list(self.store.cfg.get("realms", []))

    def check_client_key(self, client_key):
        return is_opaque_ok(client_key)  # RELAXATION, see MAX_OPAQUE_LEN.

    def check_request_token(self, request_token):
        return is_opaque_ok(request_token)  # RELAXATION

    def check_access_token(self, request_token):
        return is_opaque_ok(request_token)  # RELAXATION

    def check_verifier(self, verifier):
        return is_opaque_ok(verifier)  # RELAXATION

    # check_nonce is NOT relaxed: 20-30 ASCII letters and digits (oauthlib's
    # default). Our client's nonces are 24 alphanumerics.

    # ---- dummies (used by oauthlib to keep timing uniform) ----------------

    @property
    def dummy_client(self):
        return "dummy-client"

    @property
    def dummy_request_token(self):
        return "dummy-request-token"

    @property
    def dummy_access_token(self):
        return "dummy-access-token"

    # ---- clients ----------------------------------------------------------

    def validate_client_key(self, client_key, request):
        return client_key in self.store.clients

    def get_client_secret(self, client_key, request):
        c = self.store.clients.get(client_key)
        return c.get("secret", "dummy") if c else "dummy"

    def get_rsa_key(self, client_key, request):
        c = self.store.clients.get(client_key)
        if c and c.get("rsa_public_key"):
            return c["rsa_public_key"]
        # Unknown client or no key: any registered key (verification will fail
        # because validate_client_key failed, or the signature does not match).
        for other in self.store.clients.values():
            if other.get("rsa_public_key"):
                return other["rsa_public_key"]
        return None

    def get_default_realms(self, client_key, request):
        c = self.store.clients.get(client_key) or {}
        return list(c.get("default_realms", []))

    def validate_requested_realms(self, client_key, realms, request):
        return all(r in self.realms for r in realms)

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        if redirect_uri == "oob":
            return True
        c = self.store.clients.get(client_key) or {}
        prefixes = tuple(c.get("callback_prefixes", ALLOWED_CALLBACK_PREFIXES))
        return redirect_uri.startswith(prefixes)

    # ---- nonces -------------------------------------------------------------

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        # Remember every (client, timestamp, nonce, token) seen within the
        # timestamp window; a repeat is a replay and is refused (401).
        key = (client_key, timestamp, nonce, request_token or access_token)
        now = time.time()
        with self.store.lock:
            horizon = now - 2 * self.timestamp_lifetime
            if len(self.store.nonces) > 10000:
                self.store.nonces = {k: t for k, t in self.store.nonces.items() if t > horizon}
            if key in self.store.nonces:
                request.validator_log["nonce"] = False
                return False
            self.store.nonces[key] = now
        request.validator_log["nonce"] = True
        return True

    # ---- request tokens -----------------------------------------------------

    def save_request_token(self, token, request):
        with self.store.lock:
            self.store.request_tokens[(request.client_key, token["oauth_token"])] = {
                "secret": token["oauth_token_secret"],
                "realms": list(request.realms or []),
                "callback": request.redirect_uri,
                "verifier": None,
                "user": None,
            }

    def get_request_token_secret(self, client_key, token, request):
        data = self.store.request_tokens.get((client_key, token))
        return data["secret"] if data else "dummy"

    def validate_request_token(self, client_key, token, request):
        data = self.store.request_tokens.get((client_key, token))
        return data is not None and data["verifier"] is not None

    def verify_request_token(self, token, request):
        _, data = self.store.request_token_by_token(token)
        return data is not None and data["verifier"] is None

    def get_realms(self, token, request):
        _, data = self.store.request_token_by_token(token)
        return list(data["realms"]) if data else []

    def verify_realms(self, token, realms, request):
        _, data = self.store.request_token_by_token(token)
        return data is not None and set(realms) <= set(data["realms"])

    def get_redirect_uri(self, token, request):
        _, data = self.store.request_token_by_token(token)
        return data["callback"] if data else "oob"

    def save_verifier(self, token, verifier, request):
        with self.store.lock:
            _, data = self.store.request_token_by_token(token)
            if data is not None:
                data["verifier"] = verifier["oauth_verifier"]
                data["user"] = self.store.cfg["user"]

    def validate_verifier(self, client_key, token, verifier, request):
        data = self.store.request_tokens.get((client_key, token))
        if not data or data["verifier"] is None:
            return False
        request.user = data["user"]
        return safe_string_equals(verifier, data["verifier"])

    def invalidate_request_token(self, client_key, request_token, request):
        with self.store.lock:
            self.store.request_tokens.pop((client_key, request_token), None)

    # ---- access tokens ------------------------------------------------------

    def save_access_token(self, token, request):
        data = self.store.request_tokens.get((request.client_key, request.resource_owner_key)) or {}
        with self.store.lock:
            self.store.access_tokens[(request.client_key, token["oauth_token"])] = {
                "secret": token["oauth_token_secret"],
                "realms": list(request.realms or []),
                "user": data.get("user") or self.store.cfg["user"],
            }

    def get_access_token_secret(self, client_key, token, request):
        data = self.store.access_tokens.get((client_key, token))
        return data["secret"] if data else "dummy"

    def validate_access_token(self, client_key, token, request):
        return (client_key, token) in self.store.access_tokens

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        data = self.store.access_tokens.get((client_key, token))
        if data is None:
            return False
        return set(realms or []) <= set(data["realms"])


# ---- QUIRK FIX: oauthlib decodes query/body oauth_* values twice ----------------
#
# oauthlib's signature.collect_parameters() form-decodes the query and the body
# (urldecode) and then percent-decodes every oauth_* value AGAIN (utils.unescape),
# which is only right for the Authorization header (whose values are encoded once
# and not otherwise decoded). So with query or body placement, a correctly encoded
# oauth_callback "http://127.0.0.1/cb?x=a%20b" is seen as "...x=a b" and the
# signature base string no longer matches the client's, and a PLAINTEXT signature
# over a secret containing '%', ' ', '&', non-ASCII, ... is compared against the
# decoded form and fails. A correct client then fails through no fault of its own.
#
# The endpoints below replace BaseEndpoint._get_signature_type_and_params with a
# version that decodes each source exactly once. They also turn a non-OAuth
# Authorization header (e.g. "Bearer ...", which oauthlib turns into an uncaught
# ValueError / HTTP 500) into a 400 invalid_request.

def _header_params(headers):
    auth = None
    for k, v in headers.items():
        if k.lower() == "authorization":
            auth = v
    if auth is None:
        return []
    if not auth[:6].lower() == "oauth ":
        raise errors.InvalidRequestError(description="Authorization header is not an OAuth one.")
    try:
        # Header values are percent-encoded once; decode them once.
        return [(k, utils.unescape(v) if k.startswith("oauth_") else v)
                for k, v in utils.parse_authorization_header(auth)]
    except ValueError:
        raise errors.InvalidRequestError(description="Malformed Authorization header.")


def _form_params(raw):
    # Form-decoded once by oauthlib.common.urldecode; no second pass.
    if not raw:
        return []
    return extract_params(raw) or []


class SingleDecodeMixin:
    def _get_signature_type_and_params(self, request):
        sources = (
            ("AUTH_HEADER", _header_params(request.headers)),
            ("BODY", _form_params(request.body)),
            ("QUERY", _form_params(request.uri_query)),
        )
        params = []
        for _, p in sources:
            params.extend(p)
        with_oauth = [(name, utils.filter_oauth_params(p)) for name, p in sources]
        with_oauth = [(name, p) for name, p in with_oauth if p]
        if len(with_oauth) > 1:
            raise errors.InvalidRequestError(
                description="oauth_ params must come from only one of header, body or query; got %s"
                % ", ".join(name for name, _ in with_oauth))
        if not with_oauth:
            raise errors.InvalidRequestError(description="Missing mandatory OAuth parameters.")
        name, oauth_params = with_oauth[0]
        request.signature_type = name.lower()
        return name, params, oauth_params

    def _create_request(self, uri, http_method, body, headers):
        request = super()._create_request(uri, http_method, body, headers)
        # Keep the last request of this thread so the handler can explain a 401.
        _tls.request = request
        return request


_tls = threading.local()


class FixedRequestTokenEndpoint(SingleDecodeMixin, RequestTokenEndpoint):
    pass


class FixedAuthorizationEndpoint(SingleDecodeMixin, AuthorizationEndpoint):
    pass


class FixedAccessTokenEndpoint(SingleDecodeMixin, AccessTokenEndpoint):
    pass


class FixedResourceEndpoint(SingleDecodeMixin, ResourceEndpoint):
    pass


# ---- HTTP ----------------------------------------------------------------------


class Provider:
    def __init__(self, cfg):
        self.store = Store(cfg)
        self.validator = Validator(self.store)
        self.request_token = FixedRequestTokenEndpoint(self.validator)
        self.authorization = FixedAuthorizationEndpoint(self.validator)
        self.access_token = FixedAccessTokenEndpoint(self.validator)
        self.resource = FixedResourceEndpoint(self.validator)
        self.oauth2 = oauth2.OAuth2Provider(cfg["oauth2"], self.store.count)


def failure_summary():
    req = getattr(_tls, "request", None)
    if req is None:
        return {}
    return {k: bool(v) for k, v in req.validator_log.items()}


def append_query(uri, params):
    """uri with params appended to its query, leaving what is there untouched."""
    uri, hash_, fragment = uri.partition("#")
    sep = "&" if "?" in uri else "?"
    if uri.endswith(("?", "&")):
        sep = ""
    return uri + sep + urlencode(params, quote_via=quote) + hash_ + fragment


class Handler(BaseHTTPRequestHandler):
    server_version = "interop-oauthlib-provider/1"
    protocol_version = "HTTP/1.1"
    provider = None  # set on the class before serving

    def log_message(self, fmt, *args):  # silence the default (it logs the query)
        pass

    # --- plumbing ---

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024).strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _uri(self):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "http://%s%s" % (host, self.path)

    def _send(self, status, body=b"", headers=None, ctype=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = body or b""
        self.send_response(status)
        hdrs = dict(headers or {})
        if ctype and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = ctype
        for k, v in hdrs.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=None):
        self._send(status, json.dumps(obj, ensure_ascii=False, sort_keys=True), headers,
                   "application/json; charset=utf-8")

    def _log(self, status, note=""):
        log("%s %s -> %d %s" % (self.command, urlsplit(self.path).path, status, note))

    def _dispatch(self):
        try:
            self._dispatch_inner()
        except Exception:  # a bug in this file or in oauthlib: answer, don't hang up
            log("internal error on %s %s:\n%s" % (self.command, urlsplit(self.path).path,
                                                   traceback.format_exc()))
            try:
                self._send(500, "internal error\n", ctype="text/plain")
            except OSError:
                pass

    def _dispatch_inner(self):
        _tls.request = None
        p = self.provider
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
            body_text = body.decode("utf-8")
        except (ValueError, UnicodeDecodeError) as e:
            self._send(400, "error=invalid_request&error_description=%s" % type(e).__name__,
                       ctype="text/plain")
            self._log(400, "unreadable body")
            return
        headers = {k: v for k, v in self.headers.items()}
        uri = self._uri()
        method = self.command

        if path == "/health" and method == "GET":
            self._send(200, "ok\n", ctype="text/plain; charset=utf-8")
            return
        if path == "/test/stats" and method == "GET":
            with p.store.lock:
                stats = dict(p.store.stats)
            self._json(200, stats)
            return

        if p.oauth2.handles(path):
            base = "http://%s" % (self.headers.get("Host")
                                  or "127.0.0.1:%d" % self.server.server_address[1])
            p.oauth2.dispatch(self, method, path, uri, body_text, headers, base)
            return

        if path == "/request_token" and method == "POST":
            self._token_endpoint("request_token", p.request_token.create_request_token_response,
                                 uri, method, body_text, headers)
        elif path == "/access_token" and method == "POST":
            self._token_endpoint("access_token", p.access_token.create_access_token_response,
                                 uri, method, body_text, headers)
        elif path == "/authorize" and method == "GET":
            self._authorize(uri, headers)
        elif path == "/resource" or path.startswith("/resource/"):
            self._resource(uri, method, body_text, headers, path)
        else:
            self._send(404, "not found\n", ctype="text/plain")
            self._log(404)

    def _token_endpoint(self, name, fn, uri, method, body, headers):
        hdrs, resp_body, status = fn(uri, http_method=method, body=body, headers=headers)
        if status == 200:
            outcome = "ok"
        else:
            outcome = "fail"
            if not resp_body:
                # oauthlib sends an empty 401; say which check failed.
                failed = [k for k, v in failure_summary().items() if not v] or ["unauthorized"]
                resp_body = urlencode({"error": "unauthorized", "failed": " ".join(failed)})
                hdrs = {"Content-Type": "application/x-www-form-urlencoded",
                        "WWW-Authenticate": 'OAuth realm="interop"'}
        self.provider.store.count("%s_%s" % (name, outcome))
        req = getattr(_tls, "request", None)
        self._send(status, resp_body or "", hdrs)
        self._log(status, "%s %s" % (getattr(req, "signature_method", None) or "-",
                                     getattr(req, "signature_type", None) or "-"))

    def _authorize(self, uri, headers):
        p = self.provider
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        token = query.get("oauth_token")
        if query.get("deny") in ("1", "true", "yes"):
            with p.store.lock:
                client, data = p.store.request_token_by_token(token or "")
                if data is not None and data["verifier"] is None:
                    p.store.request_tokens.pop((client, token), None)
            p.store.count("authorize_denied")
            if data is None:
                self._send(400, "error=invalid_request&error_description=unknown+oauth_token",
                           ctype="application/x-www-form-urlencoded")
                self._log(400, "deny, unknown token")
                return
            denial = [("oauth_token", token), ("oauth_problem", "permission_denied"),
                      ("error", "access_denied")]
            if data["callback"] == "oob":
                self._send(403, urlencode(denial), ctype="application/x-www-form-urlencoded")
                self._log(403, "denied (oob)")
            else:
                self._send(302, "", {"Location": append_query(data["callback"], denial)})
                self._log(302, "denied")
            return
        try:
            realms, _ = p.authorization.get_realms_and_credentials(uri, http_method="GET",
                                                                   headers=headers)
            hdrs, body, status = p.authorization.create_authorization_response(
                uri, http_method="GET", headers=headers, realms=realms)
        except errors.OAuth1Error as e:
            p.store.count("authorize_fail")
            self._send(e.status_code, e.urlencoded, ctype="application/x-www-form-urlencoded")
            self._log(e.status_code, e.error)
            return
        p.store.count("authorize_ok")
        if status == 302:
            # QUIRK FIX: oauthlib's add_params_to_uri re-encodes the callback's own
            # query ("a%20b" comes back as "a+b"). Hand the callback back exactly as
            # the client registered it, with our two parameters appended.
            token = query.get("oauth_token", "")
            _, data = p.store.request_token_by_token(token)
            hdrs = {"Location": append_query(data["callback"], [
                ("oauth_token", token), ("oauth_verifier", data["verifier"])])}
        self._send(status, body or "", hdrs)
        self._log(status, "approved for %s" % p.store.cfg["user"])

    def _resource(self, uri, method, body, headers, path):
        p = self.provider
        valid, req = p.resource.validate_protected_resource_request(
            uri, http_method=method, body=body, headers=headers)
        if not valid or req is None:
            p.store.count("resource_fail")
            summary = failure_summary() if req is not None else {}
            failed = [k for k, v in summary.items() if not v] or ["request"]
            self._json(401, {"error": "invalid_request" if req is None else "unauthorized",
                             "failed": failed},
                       {"WWW-Authenticate": 'OAuth realm="interop"'})
            self._log(401, "failed: %s" % ",".join(failed))
            return
        p.store.count("resource_ok")
        token = p.store.access_tokens.get((req.client_key, req.resource_owner_key), {})
        query = _form_params(req.uri_query)
        form = _form_params(req.body)
        non_oauth = lambda ps: [[k, v] for k, v in ps if not k.startswith("oauth_")]
        echo = {
            "ok": True,
            "method": method,
            "path": path,
            "client_key": req.client_key,
            "token": req.resource_owner_key,
            "user": token.get("user"),
            "realms": token.get("realms", []),
            "realm": req.realm,
            "signature_method": req.signature_method,
            "signature_type": getattr(req, "signature_type", None),
            # Decoded non-oauth parameters, in the order received.
            "query": non_oauth(query),
            "body": non_oauth(form),
            "params": non_oauth(query) + non_oauth(form),
        }
        self._json(200, echo)
        self._log(200, "%s %s" % (req.signature_method, req.signature_type))

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_PATCH = _dispatch
    do_HEAD = _dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog; socketserver's default is 5. The soak tests open many connections
    # at once, and while the accept loop is busy (a loaded 2-core machine) a full queue
    # makes the kernel drop or reset new connections. 128: Linux's somaxconn default until 5.4.
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="JSON config file (defaults built in)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)

    cfg = load_config(args.config)
    Handler.provider = Provider(cfg)
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]

    stop = threading.Event()

    def on_signal(signum, _frame):
        log("signal %d, shutting down" % signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    log("listening on http://%s:%d (%d clients)" % (args.host, port, len(cfg["clients"])))
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    # Returns on a signal; also wakes up now and then in case the parent died
    # without stopping us (we get re-parented).
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log("parent gone, shutting down")
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
