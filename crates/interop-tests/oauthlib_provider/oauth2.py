"""OAuth 2.0 endpoints of the oauthlib test provider (imported by provider.py).

oauthlib's own OAuth 2 server (``oauthlib.oauth2.Server``: the authorization
code grant with PKCE, the resource owner password grant, client credentials,
refresh with rotation, RFC 8628's device code grant, RFC 7009 revocation,
RFC 7662 introspection, RFC 6750 bearer resource) and its RFC 8414
``MetadataEndpoint``, over an in-memory ``RequestValidator`` driven by the
``oauth2`` section of the JSON config:

    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
    GET  /oauth2/authorize                         auto-approves for the test user
                                                   (302 with code and state); a request
                                                   for the scope "deny" is denied
                                                   (302 with error=access_denied)
    POST /oauth2/token                             every grant above
    POST /oauth2/revoke                            RFC 7009
    POST /oauth2/introspect                        RFC 7662
    POST /oauth2/device_authorization              RFC 8628 §3.1
    GET  /oauth2/device?user_code=U[&deny=1]       the user's decision on a device code
                                                   (stands in for the verification page)
    GET|POST /oauth2/resource[/...]                RFC 6750 protected resource: 200 JSON
                                                   (client_id, user, scope) or 401 with
                                                   WWW-Authenticate: Bearer ...

Deviations from a stock oauthlib setup are marked "RELAXATION" or "QUIRK FIX"
and listed in ../README.md. Secrets (client secrets, passwords, tokens, codes,
verifiers) are never logged.
"""

import base64
import json
import os
import threading
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

# RELAXATION: oauthlib's MetadataEndpoint refuses an issuer that is not https
# (RFC 8414 §2 requires https); the provider is plain HTTP on loopback for the
# tests. This variable is oauthlib's own switch for that, read at call time.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from oauthlib.common import generate_token, safe_string_equals  # noqa: E402
from oauthlib.oauth2 import DeviceCodeGrant, MetadataEndpoint, Server  # noqa: E402
from oauthlib.oauth2.rfc6749 import errors  # noqa: E402
from oauthlib.oauth2.rfc8628.endpoints import DeviceAuthorizationEndpoint  # noqa: E402
from oauthlib.oauth2.rfc8628.request_validator import RequestValidator  # noqa: E402

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class ClientInfo:
    """request.client as oauthlib wants it (a client_id attribute)."""

    def __init__(self, cfg):
        self.client_id = cfg["client_id"]
        self.secret = cfg.get("client_secret")
        self.auth_method = cfg.get("auth_method", "client_secret_basic")
        self.redirect_uris = list(cfg.get("redirect_uris", []))
        self.grant_types = list(cfg.get("grant_types", []))
        self.default_scopes = list(cfg.get("default_scopes", []))
        self.pkce_required = bool(cfg.get("pkce_required", self.auth_method == "none"))

    @property
    def confidential(self):
        return self.auth_method != "none"


class State:
    """Clients, codes, tokens and device codes, in memory."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.clients = {c["client_id"]: ClientInfo(c) for c in cfg["clients"]}
        self.scopes = set(cfg.get("scopes", []))
        self.codes = {}  # code -> dict
        self.access = {}  # access token -> dict
        self.refresh = {}  # refresh token -> dict
        self.devices = {}  # device_code -> dict
        self.user_codes = {}  # user_code -> device_code


def basic_credentials(request):
    """(client_id, secret) from an HTTP Basic Authorization header, None if there is
    none, or False if there is one that is not well-formed Basic credentials.

    RFC 6749 §2.3.1: the client identifier and password are each encoded with
    application/x-www-form-urlencoded (Appendix B) before they are joined with ':'
    and base64-encoded, so both are form-decoded here. A client that does not
    encode a secret with '%', '+', ' ', '&', ... or non-ASCII characters fails.
    """
    auth = request.headers.get("Authorization")
    if auth is None:
        return None
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    client_id, sep, secret = raw.partition(":")
    if not sep:
        return False
    return unquote_plus(client_id), unquote_plus(secret)


class Validator(RequestValidator):
    """In-memory RFC 8628 RequestValidator (oauthlib.oauth2's, plus the device flow's)."""

    def __init__(self, state):
        super().__init__()
        self.state = state

    def _client(self, client_id):
        return self.state.clients.get(client_id or "")

    # ---- client authentication (RFC 6749 §2.3) -------------------------------

    def client_authentication_required(self, request, *args, **kwargs):
        # Anyone presenting credentials is checked; otherwise only a confidential
        # client (or an unknown one, which then fails) has to authenticate.
        if basic_credentials(request) is not None or request.client_secret is not None:
            return True
        client = self._client(request.client_id)
        return client is None or client.confidential

    def authenticate_client(self, request, *args, **kwargs):
        basic = basic_credentials(request)
        in_body = request.client_secret is not None
        if basic is False:
            return False
        if basic is not None and in_body:
            # RFC 6749 §2.3: MUST NOT use more than one authentication method.
            return False
        if basic is not None:
            client_id, secret, method = basic[0], basic[1], "client_secret_basic"
            if request.client_id not in (None, client_id):
                return False
        elif in_body:
            client_id, secret, method = request.client_id, request.client_secret, \
                "client_secret_post"
        else:
            return False
        client = self._client(client_id)
        # The method must be the client's registered one (so a test proves the
        # library sent what it was told to).
        if client is None or not client.confidential or client.auth_method != method:
            return False
        if not safe_string_equals(secret, client.secret or ""):
            return False
        request.client = client
        request.client_id = client_id
        request.auth_method = method
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        client = self._client(client_id)
        if client is None or client.confidential:
            return False
        request.client = client
        request.auth_method = "none"
        return True

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return self._client(client_id) is not None

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        c = self._client(client_id)
        return c is not None and grant_type in c.grant_types

    def validate_response_type(self, client_id, response_type, client, request, *args,
                               **kwargs):
        return response_type == "code"

    # ---- redirect URIs: exact match -----------------------------------------

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        c = self._client(client_id)
        return c is not None and redirect_uri in c.redirect_uris

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        c = self._client(client_id)
        return c.redirect_uris[0] if c and c.redirect_uris else None

    # ---- scopes -------------------------------------------------------------

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return all(s in self.state.scopes for s in scopes)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        c = self._client(client_id)
        return list(c.default_scopes) if c else []

    # ---- authorization codes (RFC 6749 §4.1, RFC 7636) ----------------------

    def is_pkce_required(self, client_id, request):
        c = self._client(client_id)
        return c is None or c.pkce_required

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        with self.state.lock:
            self.state.codes[code["code"]] = {
                "client_id": client_id,
                # None if the authorization request had no redirect_uri (then the
                # token request must not need one either).
                "redirect_uri": request.redirect_uri if not getattr(
                    request, "using_default_redirect_uri", False) else None,
                "scopes": list(request.scopes or []),
                "user": request.user,
                "challenge": request.code_challenge,
                "challenge_method": request.code_challenge_method,
                "expires_at": time.time() + float(self.state.cfg.get("code_lifetime", 60)),
                "used": False,
                "tokens": [],
            }

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        with self.state.lock:
            data = self.state.codes.get(code)
            if data is None or data["client_id"] != client_id:
                return False
            if data["used"]:
                # RFC 6749 §4.1.2: a code used twice is refused, and the tokens
                # issued for it are revoked.
                for token in data["tokens"]:
                    self._revoke_locked(token)
                return False
            if time.time() >= data["expires_at"]:
                return False
        request.user = data["user"]
        request.scopes = list(data["scopes"])
        request.code_data = data
        return True

    def get_code_challenge(self, code, request):
        data = self.state.codes.get(code)
        return data["challenge"] if data else None

    def get_code_challenge_method(self, code, request):
        data = self.state.codes.get(code)
        return data["challenge_method"] if data else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args,
                             **kwargs):
        data = self.state.codes.get(code)
        if data is None:
            return False
        if data["redirect_uri"] is None:
            return True
        # RFC 6749 §4.1.3: required, and identical, if it was in the request.
        return not getattr(request, "using_default_redirect_uri", False) and \
            redirect_uri == data["redirect_uri"]

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        with self.state.lock:
            data = self.state.codes.get(code)
            if data is not None:
                data["used"] = True

    # ---- device code grant (RFC 8628 §3.4, §3.5) -----------------------------

    def validate_device_code(self, client_id, code, request, *args, **kwargs):
        # oauthlib (4.0.1+) maps the status to RFC 8628 §3.5's errors, and None (an
        # unknown code, or one of another client) to invalid_grant. A code is single
        # use: the poll that is answered "authorized" spends it.
        with self.state.lock:
            data = self.state.devices.get(code or "")
            if data is None or data["client_id"] != client_id:
                return None
            if time.time() >= data["expires_at"]:
                return DeviceCodeGrant.DEVICE_CODE_EXPIRED
            if data["status"] == "pending":
                return DeviceCodeGrant.DEVICE_CODE_PENDING
            if data["status"] in ("denied", "used"):
                return DeviceCodeGrant.DEVICE_CODE_DENIED
            data["status"] = "used"
        request.user = data["user"]
        request.scopes = list(data["scopes"])
        return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED

    # ---- resource owner password (RFC 6749 §4.3) -----------------------------

    def validate_user(self, username, password, client, request, *args, **kwargs):
        cfg = self.state.cfg
        ok_user = safe_string_equals(username or "", cfg["user"])
        ok_password = safe_string_equals(password or "", cfg["password"])
        if ok_user and ok_password:
            request.user = cfg["user"]
            return True
        return False

    # ---- tokens --------------------------------------------------------------

    def rotate_refresh_token(self, request):
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        now = time.time()
        scopes = list(request.scopes or [])
        with self.state.lock:
            new_rt = token.get("refresh_token")
            old_rt = request.refresh_token if request.grant_type == "refresh_token" else None
            if old_rt and old_rt != new_rt and old_rt in self.state.refresh:
                # Rotation: the refresh token just used is spent.
                self.state.refresh[old_rt]["revoked"] = True
            if new_rt and new_rt not in self.state.refresh:
                self.state.refresh[new_rt] = {
                    "client_id": request.client_id,
                    "user": request.user,
                    "scopes": scopes,
                    "issued_at": now,
                    "revoked": False,
                }
            self.state.access[token["access_token"]] = {
                "client_id": request.client_id,
                "user": request.user,
                "scopes": scopes,
                "issued_at": now,
                "expires_at": now + float(token["expires_in"]),
                "refresh_token": new_rt,
                "revoked": False,
            }
            code_data = getattr(request, "code_data", None)
            if code_data is not None:
                code_data["tokens"].append(token["access_token"])
                if new_rt:
                    code_data["tokens"].append(new_rt)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        data = self.state.refresh.get(refresh_token)
        if data is None or data["revoked"] or data["client_id"] != client.client_id:
            return False
        request.user = data["user"]
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        data = self.state.refresh.get(refresh_token)
        return list(data["scopes"]) if data else []

    def validate_bearer_token(self, token, scopes, request):
        data = self.state.access.get(token or "")
        if data is None or data["revoked"] or time.time() >= data["expires_at"]:
            return False
        if not set(scopes or []) <= set(data["scopes"]):
            return False
        request.client_id = data["client_id"]
        request.user = data["user"]
        request.scopes = list(data["scopes"])
        return True

    # ---- revocation (RFC 7009) and introspection (RFC 7662) ------------------

    def _revoke_locked(self, token):
        access = self.state.access.get(token)
        if access is not None:
            access["revoked"] = True
            return
        refresh = self.state.refresh.get(token)
        if refresh is not None:
            refresh["revoked"] = True
            # RFC 7009 §2.1: revoking a refresh token SHOULD end the access tokens
            # issued with it too.
            for data in self.state.access.values():
                if data["refresh_token"] == token:
                    data["revoked"] = True

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        # Both kinds are looked up whatever the hint says (RFC 7009 §2.1). A token
        # of another client is left alone (the response is 200 all the same).
        with self.state.lock:
            owner = (self.state.access.get(token) or self.state.refresh.get(token) or {})
            if owner.get("client_id") == request.client.client_id:
                self._revoke_locked(token)

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs):
        now = time.time()
        access = self.state.access.get(token)
        if access is not None:
            if access["revoked"] or now >= access["expires_at"]:
                return None
            return {
                "client_id": access["client_id"],
                "username": access["user"],
                "sub": access["user"],
                "scope": " ".join(access["scopes"]),
                "token_type": "Bearer",
                "iat": int(access["issued_at"]),
                "exp": int(access["expires_at"]),
            }
        refresh = self.state.refresh.get(token)
        if refresh is not None and not refresh["revoked"]:
            return {
                "client_id": refresh["client_id"],
                "username": refresh["user"],
                "sub": refresh["user"],
                "scope": " ".join(refresh["scopes"]),
                "iat": int(refresh["issued_at"]),
            }
        return None


class OAuth2Provider:
    """The endpoints, the validator and the HTTP glue for /oauth2/..."""

    def __init__(self, cfg, count):
        self.state = State(cfg)
        self.count = count
        self.validator = Validator(self.state)
        lifetime = int(cfg.get("access_token_lifetime", 3600))
        self.server = Server(self.validator, token_expires_in=lifetime)
        self._metadata = None
        self._device = None

    # ---- lazily built (they need the base URL) -------------------------------

    def metadata(self, base):
        if self._metadata is None:
            self._metadata = MetadataEndpoint([self.server], claims={
                "issuer": base,
                "authorization_endpoint": base + "/oauth2/authorize",
                "token_endpoint": base + "/oauth2/token",
                "revocation_endpoint": base + "/oauth2/revoke",
                "introspection_endpoint": base + "/oauth2/introspect",
                "device_authorization_endpoint": base + "/oauth2/device_authorization",
                "scopes_supported": sorted(self.state.scopes),
                # oauthlib lists "token" (implicit) and "plain" PKCE, which it could
                # do but this provider's validator refuses or the tests never use.
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256", "plain"],
            })
        return self._metadata

    def device(self, base):
        if self._device is None:
            cfg = self.state.cfg
            self._device = DeviceAuthorizationEndpoint(
                self.validator,
                verification_uri=base + "/oauth2/device",
                expires_in=int(cfg.get("device_code_lifetime", 600)),
                interval=int(cfg.get("device_interval", 1)),
                verification_uri_complete=base + "/oauth2/device?user_code={user_code}",
                user_code_generator=lambda: generate_token(8, "BCDFGHJKLMNPQRSTVWXZ"),
            )
        return self._device

    # ---- HTTP ----------------------------------------------------------------

    def handles(self, path):
        return path == "/.well-known/oauth-authorization-server" or path.startswith("/oauth2/")

    def dispatch(self, h, method, path, uri, body, headers, base):
        if path == "/.well-known/oauth-authorization-server" and method == "GET":
            hdrs, resp, status = self.metadata(base).create_metadata_response(uri, "GET")
            self.count("oauth2_metadata")
            h._send(status, resp, hdrs)
            return h._log(status)
        if path == "/oauth2/authorize" and method == "GET":
            return self._authorize(h, uri, headers)
        if path == "/oauth2/token" and method == "POST":
            return self._token(h, uri, body, headers)
        if path == "/oauth2/revoke" and method == "POST":
            fn = self.server.create_revocation_response
            return self._simple(h, "revoke", fn, uri, body, headers)
        if path == "/oauth2/introspect" and method == "POST":
            fn = self.server.create_introspect_response
            return self._simple(h, "introspect", fn, uri, body, headers)
        if path == "/oauth2/device_authorization" and method == "POST":
            return self._device_authorization(h, uri, body, headers, base)
        if path == "/oauth2/device" and method == "GET":
            return self._device_decision(h, uri)
        if path == "/oauth2/resource" or path.startswith("/oauth2/resource/"):
            return self._resource(h, method, path, uri, body, headers)
        h._send(404, "not found\n", ctype="text/plain")
        h._log(404)

    def _authorize(self, h, uri, headers):
        user = self.state.cfg["user"]
        try:
            scopes, creds = self.server.validate_authorization_request(uri, "GET", None, headers)
        except errors.FatalClientError as e:
            # Unknown client or redirect URI: never redirect (RFC 6749 §4.1.2.1).
            self.count("oauth2_authorize_error")
            h._send(e.status_code, e.json, ctype="application/json")
            return h._log(e.status_code, e.error)
        except errors.OAuth2Error as e:
            self.count("oauth2_authorize_error")
            h._send(302, "", {"Location": e.in_uri(e.redirect_uri)})
            return h._log(302, e.error)
        client_id = creds.get("client_id")
        if "deny" in scopes:
            # The test user says no to any request for the scope "deny".
            self.count("oauth2_authorize_denied")
            err = errors.AccessDeniedError(state=creds.get("state"))
            h._send(302, "", {"Location": err.in_uri(creds["redirect_uri"])})
            return h._log(302, "denied %s" % client_id)
        hdrs, resp, status = self.server.create_authorization_response(
            uri, "GET", None, headers, scopes, {"user": user})
        self.count("oauth2_authorize_ok" if status == 302 else "oauth2_authorize_error")
        h._send(status, resp or "", hdrs)
        h._log(status, "approved %s for %s" % (client_id, user))

    def _token(self, h, uri, body, headers):
        grant = dict(parse_qsl(body or "", keep_blank_values=True)).get("grant_type", "-")
        name = {DEVICE_GRANT: "device_code"}.get(grant, grant)
        hdrs, resp, status = self.server.create_token_response(uri, "POST", body, headers)
        self.count("oauth2_token_requests")
        error = None
        if status == 200:
            self.count("oauth2_grant_%s_ok" % name)
        else:
            try:
                error = json.loads(resp).get("error")
            except ValueError:
                error = "?"
            self.count("oauth2_grant_%s_error" % name)
            self.count("oauth2_grant_%s_%s" % (name, error))
        h._send(status, resp or "", hdrs)
        h._log(status, "%s %s" % (name, error or "ok"))

    def _simple(self, h, name, fn, uri, body, headers):
        hdrs, resp, status = fn(uri, "POST", body, headers)
        self.count("oauth2_%s_%s" % (name, "ok" if status == 200 else "error"))
        h._send(status, resp or "", hdrs)
        h._log(status)

    def _device_authorization(self, h, uri, body, headers, base):
        params = dict(parse_qsl(body or ""))
        basic = basic_credentials(_HeaderView(headers))
        if "client_id" not in params and basic:
            # RELAXATION: oauthlib's DeviceAuthorizationEndpoint requires client_id in the
            # body even from a client that authenticates with HTTP Basic; RFC 8628 §3.1
            # requires it only "if the client is not authenticating with the
            # authorization server" (RFC 6749 §3.2.1 lets it be left out). Add it from
            # the Basic credentials (which are then still checked as usual).
            body = (body + "&" if body else "") + urlencode({"client_id": basic[0]})
            params["client_id"] = basic[0]
        try:
            _, data, status = self.device(base).create_device_authorization_response(
                uri, "POST", body, headers)
        except errors.OAuth2Error as e:
            self.count("oauth2_device_authorization_error")
            h._send(e.status_code, e.json, e.headers, ctype="application/json")
            return h._log(e.status_code, e.error)
        client_id = params.get("client_id")
        # oauthlib (4.0.0+) validates the scopes here and echoes the ones it resolved
        # (those asked for, else the client's defaults) as "scope".
        scopes = (data.get("scope") or "").split()
        with self.state.lock:
            self.state.devices[data["device_code"]] = {
                "client_id": client_id,
                "scopes": scopes,
                "user": None,
                "status": "pending",
                "expires_at": time.time() + data["expires_in"],
            }
            self.state.user_codes[data["user_code"]] = data["device_code"]
        self.count("oauth2_device_authorization_ok")
        h._json(status, data)
        h._log(status, client_id or "-")

    def _device_decision(self, h, uri):
        query = dict(parse_qsl(urlsplit(uri).query))
        deny = query.get("deny") in ("1", "true", "yes")
        with self.state.lock:
            device_code = self.state.user_codes.pop(query.get("user_code", ""), None)
            data = self.state.devices.get(device_code or "")
            if data is not None and data["status"] == "pending":
                data["status"] = "denied" if deny else "approved"
                data["user"] = self.state.cfg["user"]
            else:
                data = None
        if data is None:
            self.count("oauth2_device_decision_error")
            h._json(400, {"error": "invalid_request", "error_description": "unknown user_code"})
            return h._log(400, "unknown user_code")
        self.count("oauth2_device_%s" % data["status"])
        h._json(200, {"status": data["status"]})
        h._log(200, data["status"])

    def _resource(self, h, method, path, uri, body, headers):
        has_token = any(k.lower() == "authorization" and v.lower().startswith("bearer ")
                        for k, v in headers.items())
        valid, req = self.server.verify_request(uri, method, body, headers, scopes=[])
        if not valid:
            # RFC 6750 §3.1: no error code when the request had no token at all.
            challenge = 'Bearer realm="interop"'
            if has_token:
                challenge += ', error="invalid_token"'
                self.count("oauth2_resource_invalid_token")
            else:
                self.count("oauth2_resource_no_token")
            h._json(401, {"error": "invalid_token" if has_token else "unauthorized"},
                    {"WWW-Authenticate": challenge})
            return h._log(401, "invalid_token" if has_token else "no token")
        self.count("oauth2_resource_ok")
        h._json(200, {
            "ok": True,
            "method": method,
            "path": path,
            "client_id": req.client_id,
            "user": req.user,
            "scope": " ".join(req.scopes or []),
        })
        h._log(200, req.client_id)


class _HeaderView:
    """Just enough of an oauthlib Request for basic_credentials()."""

    def __init__(self, headers):
        self.headers = {k.title(): v for k, v in headers.items()}
