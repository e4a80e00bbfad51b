# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key-share ceremony: generating a DR operation token or a recovery token from unseal
key shares held by several people. One engine serves both token kinds; they differ only in
the endpoint family.

Rules the engine keeps:
- every input is checked before the first request (shares, OTP shape, PGP key, gnupg home);
- a key share is sent at most once per run (duplicates, also in other encodings, are
  dropped before anything is sent), and a share submission is never replayed: when its
  answer is lost the attempt is read back to learn whether it was counted;
- an attempt is never canceled unless the caller asked for exactly that;
- shares are only added to a running attempt when the caller names it by `nonce` (or by
  the PGP key it was started with), so nobody feeds an attempt whose token goes elsewhere;
- a holder who states the coordinator's fingerprint (`expected_pgp_fingerprint`, from their
  own AWX credential) sends no share unless the attempt encrypts to exactly that key: whoever
  can change the job template's `pgp_key` or start the attempt cannot redirect the token;
- check mode never starts an attempt and never submits a share;
- a failure while an attempt is open says so, and how to resume or cancel it;
- key shares, OTPs and tokens never appear in messages.

Domain code: it takes a client, plain values and a warn callback, never an AnsibleModule.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple, TypedDict, cast

from ansible_collections.vaultops.dr.plugins.module_utils import _vault_errors
from ansible_collections.vaultops.dr.plugins.module_utils._client import VaultAnswerLost, VaultError
from ansible_collections.vaultops.dr.plugins.module_utils._errors import ModuleFailure, explain
from ansible_collections.vaultops.dr.plugins.module_utils._key_shares import dedupe_shares_with_positions
from ansible_collections.vaultops.dr.plugins.module_utils._otp import (
    TokenGenerationError,
    check_otp_shape,
    decode_token,
    generate_otp,
    is_legacy_otp,
    validate_otp,
)
from ansible_collections.vaultops.dr.plugins.module_utils._pgp import GnuPG, normalize_fingerprint, normalize_pgp_key


class Attempt(TypedDict):
    """A token-generation attempt as the attempt/update endpoints describe it."""

    started: bool
    nonce: str
    progress: int
    required: int
    complete: bool
    otp_length: int
    pgp_fingerprint: str
    encoded_token: str


Result = Dict[str, Any]
Counts = Dict[str, int]


class Family:
    """One kind of token generation: its endpoints and how they authenticate."""

    def __init__(self, kind: str, base: str, auth: str) -> None:
        self.kind = kind
        self.attempt_path = base + "/attempt"
        self.update_path = base + "/update"
        self.auth = auth


# Vault 2.0 / 1.19.17 want a Vault token on these; send one when there is one.
DR_OPERATION_TOKEN = Family("DR operation token", "sys/replication/dr/secondary/generate-operation-token", "optional")
# Served only in recovery mode, where no token exists yet.
RECOVERY_TOKEN = Family("recovery token", "sys/generate-recovery-token", "none")

ATTEMPT_KEYS = ("started", "nonce", "progress", "required", "complete", "otp_length", "pgp_fingerprint", "encoded_token")

# Kept for callers of the old name: (text, advice) of every token-generation error text.
GENERATION_ERRORS = tuple((e.text, e.advice) for e in _vault_errors.VAULT_ERROR_TEXTS if e.area == _vault_errors.GENERATION)


def _sentence(text: str) -> str:
    """`text` without a trailing period, so joining sentences never doubles one."""
    return text.rstrip().rstrip(".")


def generation_advice(err: VaultError) -> Optional[str]:
    entry = _vault_errors.find(err.errors, _vault_errors.GENERATION)
    return entry.advice if entry else None


def failure_from(err: VaultError, doing: str, result: Optional[Result] = None,
                 family: Optional[Family] = None) -> ModuleFailure:
    """A ModuleFailure for a VaultError raised while `doing` something in the ceremony."""
    advice = generation_advice(err)
    if advice is None and family is RECOVERY_TOKEN and err.status in (403, 404):
        # Served unauthenticated, and only in recovery mode. Elsewhere the path does not exist:
        # OpenBao answers 404 to a request with a token, 403 to one without.
        msg = "%s: %s" % (doing, err)
        advice = ("The server does not serve sys/generate-recovery-token: it is not running in recovery mode "
                  "(start it with -recovery while sealed)")
    else:
        msg = "%s: %s" % (doing, explain(err))
    if advice is None and family is DR_OPERATION_TOKEN and err.status in (401, 403):
        advice = ("Vault 2.0 and 1.19.17 or later require a Vault token on the generate-operation-token "
                  "endpoints: set token (on a DR secondary the primary's root token is accepted)")
    if advice:
        msg = _sentence(msg) + ". " + _sentence(advice) + "."
    extra = dict(result or {})
    extra.update(http_status=err.status, vault_errors=err.errors)
    return ModuleFailure(msg, **extra)


def normalize_attempt(data: Optional[Dict[str, Any]]) -> Attempt:
    """The attempt fields, typed, from an attempt/update answer (flat or in `data`)."""
    data = data or {}
    otp_length = data.get("otp_length")
    return Attempt(
        started=bool(data.get("started")),
        nonce=data.get("nonce") or "",
        progress=int(data.get("progress") or 0),
        required=int(data.get("required") or 0),
        complete=bool(data.get("complete")),
        otp_length=int(otp_length) if otp_length is not None else 0,
        pgp_fingerprint=(data.get("pgp_fingerprint") or "").lower(),
        encoded_token=data.get("encoded_token") or "",
    )


def _with(attempt: Attempt, **changes: Any) -> Attempt:
    """A copy of `attempt` with some fields changed."""
    return cast(Attempt, dict(attempt, **changes))


def _diff_view(attempt: Attempt) -> Dict[str, Any]:
    return {k: attempt[k] for k in ("started", "nonce", "progress", "required", "complete", "pgp_fingerprint")}


def describe(attempt: Attempt) -> str:
    if not attempt["started"]:
        return "no attempt is running"
    text = "attempt nonce %s is running with %d of %d key shares" % (
        attempt["nonce"], attempt["progress"], attempt["required"])
    if attempt["pgp_fingerprint"]:
        text += ", encrypting to PGP key %s" % attempt["pgp_fingerprint"]
    return text


def result_of(attempt: Attempt, **extra: Any) -> Result:
    result: Result = {k: attempt[k] for k in ATTEMPT_KEYS}  # type: ignore[literal-required]
    result.update(extra)
    return result


class Ask:
    """What a state=present run was asked, checked before the first request."""

    def __init__(self, key_shares: Optional[List[Any]], otp: Optional[str], pgp_key: Optional[str],
                 nonce: Optional[str], gnupg_home: Optional[str], pgp_passphrase: Optional[str],
                 expected_pgp_fingerprint: Optional[str] = None) -> None:
        # Empty strings count as not given (an AWX survey's unanswered question).
        if otp and pgp_key:
            raise ModuleFailure("otp and pgp_key are mutually exclusive: the token is encoded with one or the "
                                "other. Give one of them (or neither: the module then makes an OTP).")
        self.nonce = (nonce or "").strip() or None
        self.otp = otp or None
        self.made_otp: Optional[str] = None
        self.pgp_b64: Optional[str] = None
        self.pgp_fpr: Optional[str] = None
        self.expected_fpr: Optional[str] = None
        try:
            if (expected_pgp_fingerprint or "").strip():
                self.expected_fpr = normalize_fingerprint(expected_pgp_fingerprint)
            self.shares, self.positions, self.duplicates = dedupe_shares_with_positions(key_shares)
            if self.otp:
                check_otp_shape(self.otp)
            if pgp_key:
                self.pgp_b64, self.pgp_fpr = normalize_pgp_key(pgp_key)
            self.gpg = GnuPG(gnupg_home, pgp_passphrase) if gnupg_home else None
        except TokenGenerationError as exc:
            raise ModuleFailure("%s." % _sentence(str(exc))) from None
        self.gnupg_home = gnupg_home

    @property
    def can_start(self) -> bool:
        return bool(self.shares or self.otp or self.pgp_b64)


class Ceremony:
    """The key-share ceremony on one endpoint family."""

    def __init__(self, client: Any, family: Family, check_mode: bool = False,
                 warn: Optional[Callable[[str], None]] = None) -> None:
        self.client = client
        self.family = family
        self.check_mode = check_mode
        self.warn: Callable[[str], None] = warn or (lambda msg: None)

    # -- raw endpoint calls -------------------------------------------------------------
    def read(self) -> Attempt:
        try:
            resp = self.client.read(self.family.attempt_path, auth=self.family.auth)
        except VaultError as err:
            raise failure_from(err, "Reading the %s generation attempt (nothing was changed)" % self.family.kind,
                               family=self.family) from None
        return normalize_attempt(resp.data)

    def _start(self, body: Dict[str, str]) -> Attempt:
        try:
            resp = self.client.write(self.family.attempt_path, data=body, auth=self.family.auth, method="PUT")
        except VaultAnswerLost as err:
            after = self.read()
            raise ModuleFailure(
                "Starting a %s generation attempt: %s. Read back: %s. Nothing was submitted; if an attempt is "
                "now running and it is not yours, cancel it with state=canceled, then run again."
                % (self.family.kind, err, describe(after)), **result_of(after)) from None
        except VaultError as err:
            raise failure_from(err, "Starting a %s generation attempt (nothing was started)" % self.family.kind,
                               family=self.family) from None
        return normalize_attempt(resp.data)

    # Kept for callers of the old static names.
    _describe = staticmethod(describe)
    _result = staticmethod(result_of)

    # -- nothing to read -------------------------------------------------------------
    def idle(self) -> Result:
        """The result for a cluster where no attempt of this family can be running."""
        nothing = normalize_attempt({})
        return self._finish(False, nothing, nothing)

    # -- state=canceled -------------------------------------------------------------
    def cancel(self, nonce: Optional[str] = None) -> Result:
        before = self.read()
        if not before["started"]:
            return self._finish(False, before, before)
        if nonce and nonce != before["nonce"]:
            raise ModuleFailure(
                "Asked to cancel %s generation attempt nonce %s, but %s. Nothing was canceled; pass that nonce "
                "to cancel it." % (self.family.kind, nonce, describe(before)), **result_of(before))
        if self.check_mode:
            return self._finish(True, before, normalize_attempt({}))
        try:
            self.client.delete(self.family.attempt_path, auth=self.family.auth)
        except VaultAnswerLost as err:
            after = self.read()
            if after["started"] and after["nonce"] == before["nonce"]:
                raise ModuleFailure("Canceling the %s generation attempt: %s. Read back: %s."
                                    % (self.family.kind, err, describe(after)), **result_of(after)) from None
            return self._finish(True, before, after)
        except VaultError as err:
            raise failure_from(err, "Canceling the %s generation attempt" % self.family.kind,
                               result_of(before), family=self.family) from None
        return self._finish(True, before, self.read())

    def _finish(self, changed: bool, before: Attempt, after: Attempt, **extra: Any) -> Result:
        result = result_of(after, changed=changed, **extra)
        result["diff"] = {"before": _diff_view(before), "after": _diff_view(after)}
        return result

    # -- state=present ----------------------------------------------------------------
    def present(self, key_shares: Optional[List[Any]] = None, otp: Optional[str] = None,
                pgp_key: Optional[str] = None, nonce: Optional[str] = None, gnupg_home: Optional[str] = None,
                pgp_passphrase: Optional[str] = None, expected_pgp_fingerprint: Optional[str] = None) -> Result:
        """Start or join an attempt, feed key shares, decode the token when complete."""
        ask = Ask(key_shares, otp, pgp_key, nonce, gnupg_home, pgp_passphrase, expected_pgp_fingerprint)
        if ask.duplicates:
            self.warn("%d key share(s) given more than once (possibly in hex and base64); each is sent once"
                      % ask.duplicates)
        before = self.read()
        self._check_otp_fits(ask, before)
        if before["started"]:
            self._check_coordinator(ask, before)
            self._check_may_join(ask, before)
            return self._feed(ask, before, before, changed=False)
        self._check_nonce_without_attempt(ask, before)
        if not ask.can_start:
            return self._finish(False, before, before)  # nothing running, nothing to start one with
        self._check_coordinator_key_to_start(ask, before)
        if self.check_mode:
            predicted = _with(before, started=True, progress=0, pgp_fingerprint=ask.pgp_fpr or "")
            return self._predict(before, predicted, ask.shares)
        attempt = self._begin(ask, before)
        self._check_coordinator(ask, attempt, started_here=True)
        return self._feed(ask, before, attempt, changed=True)

    def _check_coordinator(self, ask: Ask, attempt: Attempt, started_here: bool = False) -> None:
        """Before any share: the attempt must encrypt to the fingerprint the holder expects. A template
        admin could swap pgp_key, or someone could start an attempt with their own key (or an OTP)."""
        want, got = ask.expected_fpr, attempt["pgp_fingerprint"]
        if not want or got == want:
            return
        kind, nonce = self.family.kind, attempt["nonce"]
        if got:
            what = "encrypts its token to PGP key %s" % got
        else:
            what = "encodes its token with an OTP, not a PGP key (whoever holds the OTP gets the token)"
        if started_here:
            how = ("This run started it (the server reports that fingerprint for pgp_key): cancel it with "
                   "state=canceled nonce=%s and check pgp_key." % nonce)
        else:
            how = ("Ask the coordinator (on a channel of your own) which attempt is theirs; if this one is not, "
                   "cancel it with state=canceled nonce=%s and let the coordinator start one with their key." % nonce)
        raise ModuleFailure(
            "The running %s generation attempt nonce %s %s, but your credential expects the coordinator's key %s "
            "(expected_pgp_fingerprint). No key share was sent: the token would go to whoever holds the other "
            "key. %s" % (kind, nonce, what, want, how),
            expected_pgp_fingerprint=want, **result_of(attempt, changed=started_here))

    def _check_coordinator_key_to_start(self, ask: Ask, before: Attempt) -> None:
        """Nothing running: start only with the key the holder expects (its fingerprint computed here)."""
        want = ask.expected_fpr
        if not want or ask.pgp_fpr == want:
            return
        if ask.pgp_fpr:
            what = "pgp_key has fingerprint %s" % ask.pgp_fpr
        else:
            what = "No pgp_key was given, so the attempt would encode its token with an OTP"
        raise ModuleFailure(
            "%s, but your credential expects the coordinator's key %s (expected_pgp_fingerprint). Nothing was "
            "started and no key share was sent: the token would go to whoever holds that key. Check the "
            "coordinator's public key on the job template (pgp_key) against the fingerprint the coordinator "
            "gave you." % (what, want),
            expected_pgp_fingerprint=want, **result_of(before))

    def _check_otp_fits(self, ask: Ask, before: Attempt) -> None:
        # Before any share is sent: a wrong OTP would only show once the token exists.
        if ask.otp and not before["pgp_fingerprint"]:
            try:
                validate_otp(ask.otp, before["otp_length"])
            except TokenGenerationError as exc:
                raise ModuleFailure("%s. Nothing was sent." % _sentence(str(exc)), **result_of(before)) from None

    def _check_may_join(self, ask: Ask, before: Attempt) -> None:
        """A running attempt: refuse to feed it unless the caller named it (nonce or PGP key)."""
        kind, running = self.family.kind, describe(before)
        if ask.nonce and ask.nonce != before["nonce"]:
            raise ModuleFailure(
                "nonce %s is not the running %s generation attempt: %s. Pass nonce=%s to add key shares to it, "
                "or cancel it with state=canceled (nonce=%s) if it is abandoned. Nothing was sent."
                % (ask.nonce, kind, running, before["nonce"], before["nonce"]), **result_of(before))
        if ask.pgp_fpr and ask.pgp_fpr != before["pgp_fingerprint"]:
            raise ModuleFailure(
                "pgp_key (fingerprint %s) is not the key of the running %s generation attempt: %s. The token "
                "would not be encrypted to your key; cancel that attempt first if it is abandoned."
                % (ask.pgp_fpr, kind, running), **result_of(before))
        if ask.otp and before["pgp_fingerprint"]:
            raise ModuleFailure(
                "otp was given but the running %s generation attempt encrypts to PGP key %s, not an OTP: leave "
                "otp out (the token is decrypted with gnupg_home, or returned encrypted)."
                % (kind, before["pgp_fingerprint"]), **result_of(before))
        named = bool(ask.nonce) or bool(ask.pgp_fpr)  # the same public key: the token goes to its holder
        if ask.shares and not named:
            raise ModuleFailure(
                "A %s generation attempt is already running (%s); key shares are only added to an attempt named "
                "by nonce. Pass nonce=%s to add them to it, or cancel it with state=canceled if it is abandoned."
                % (kind, running, before["nonce"]), **result_of(before))
        if ask.otp and not ask.shares and not ask.nonce:
            raise ModuleFailure(
                "A %s generation attempt is already running (%s), and whether it uses this otp cannot be read "
                "back. Pass nonce=%s to add key shares to it, or cancel it with state=canceled."
                % (kind, running, before["nonce"]), **result_of(before))

    def _check_nonce_without_attempt(self, ask: Ask, before: Attempt) -> None:
        if ask.nonce:
            raise ModuleFailure(
                "%s generation attempt nonce %s is not running: no attempt is (it completed or was canceled). "
                "A completed attempt's token cannot be produced again. "
                "Leave nonce out to start a new attempt." % (self.family.kind.capitalize(), ask.nonce),
                **result_of(before))

    def _begin(self, ask: Ask, before: Attempt) -> Attempt:
        """Start an attempt with the PGP key, the caller's OTP, or an OTP made here."""
        if ask.pgp_b64:
            body = {"pgp_key": ask.pgp_b64}
        else:
            if not ask.otp:
                ask.otp = ask.made_otp = generate_otp(before["otp_length"])
            body = {"otp": ask.otp}
        attempt = self._start(body)
        attempt["otp_length"] = attempt["otp_length"] or before["otp_length"]
        if ask.pgp_fpr and attempt["pgp_fingerprint"] and attempt["pgp_fingerprint"] != ask.pgp_fpr:
            self.warn("the server reports PGP fingerprint %s, this module computed %s for pgp_key"
                      % (attempt["pgp_fingerprint"], ask.pgp_fpr))
        return attempt

    def _feed(self, ask: Ask, before: Attempt, attempt: Attempt, changed: bool) -> Result:
        """Submit the shares to an open attempt and decode the token when it completes. Any
        failure while the attempt stays open says how to resume or cancel it."""
        try:
            self._check_private_key(ask, attempt, changed)
            if self.check_mode:
                return self._predict(before, attempt, ask.shares)
            attempt, counts = self._submit(attempt, ask, changed)
            changed = changed or counts["shares_submitted"] > 0
            extra: Result = dict(counts, shares_duplicated=ask.duplicates)
            if attempt["complete"]:
                extra.update(self._decode(attempt, ask, changed, counts))
            elif ask.made_otp:
                extra["otp"] = ask.made_otp
            return self._finish(changed, before, attempt, **extra)
        except ModuleFailure as exc:
            raise self._still_open(exc, ask) from None

    def _still_open(self, exc: ModuleFailure, ask: Ask) -> ModuleFailure:
        res = exc.result
        if not res.get("started") or res.get("complete") or not res.get("nonce"):
            return exc
        if ask.made_otp:
            # The attempt this run started is still running: its OTP is needed to finish it.
            res["otp"] = ask.made_otp
        how = "nonce=%s" % res["nonce"]
        if ask.made_otp:
            how += " and otp (the OTP this run made, returned as otp)"
        elif ask.otp:
            how += " and the same otp"
        exc.msg = ("%s. The attempt is still open (nonce %s, %d of %d key shares): resume it with %s and the "
                   "remaining key shares, or cancel it with state=canceled nonce=%s."
                   % (_sentence(exc.msg), res["nonce"], res.get("progress") or 0, res.get("required") or 0,
                      how, res["nonce"]))
        exc.args = (exc.msg,)
        return exc

    def _check_private_key(self, ask: Ask, attempt: Attempt, changed: bool) -> None:
        fpr = attempt["pgp_fingerprint"] or ask.pgp_fpr
        if ask.gpg is not None and fpr and not ask.gpg.has_secret_key(fpr):
            raise ModuleFailure(
                "gnupg_home %s holds no private key for PGP key %s, which the attempt encrypts to; no key share "
                "was submitted. Point gnupg_home at the home that holds it, or leave gnupg_home out to get the "
                "encrypted token back." % (ask.gnupg_home, fpr), **result_of(attempt, changed=changed))

    def _predict(self, before: Attempt, attempt: Attempt, shares: List[str]) -> Result:
        after = _with(attempt)
        if shares:
            after["progress"] = min(after["progress"] + len(shares), after["required"] or after["progress"] + len(shares))
        changed = bool(shares) or not before["started"]
        return self._finish(changed, before, after, shares_submitted=0, shares_already_provided=0, shares_unused=0)

    def _submit(self, attempt: Attempt, ask: Ask, changed: bool) -> Tuple[Attempt, Counts]:
        """Send each share once; never replay one; stop when the attempt completes."""
        counts: Counts = {"shares_submitted": 0, "shares_already_provided": 0, "shares_unused": 0}
        nonce = attempt["nonce"]
        for index, (share, item) in enumerate(zip(ask.shares, ask.positions), start=1):
            if attempt["complete"]:
                counts["shares_unused"] = len(ask.shares) - index + 1
                self.warn("%d key share(s) were not needed: the attempt completed before them" % counts["shares_unused"])
                break
            doing = "Submitting key_shares item %d to %s generation attempt nonce %s" % (item, self.family.kind, nonce)
            try:
                resp = self._send_once(self.family.update_path, {"key": share, "nonce": nonce})
            except VaultAnswerLost as err:
                attempt = self._after_lost_answer(err, doing, attempt, counts)
                continue
            except VaultError as err:
                if _vault_errors.find(err.errors) is _vault_errors.named("share_repeated"):
                    counts["shares_already_provided"] += 1
                    self.warn("key_shares item %d was already counted in attempt %s (an earlier run, or another "
                              "holder with the same share); not counted again" % (item, nonce))
                    continue
                raise self._refused(err, doing, attempt, counts, changed) from None
            counts["shares_submitted"] += 1
            answered = resp.data
            fresh = normalize_attempt(answered)
            # Update answers may leave fields out (otp_length always): keep what the attempt said.
            attempt = _with(attempt, **{k: fresh[k] for k in ATTEMPT_KEYS if k in answered and k != "otp_length"})  # type: ignore[literal-required]
            attempt["started"] = True
            attempt["nonce"] = attempt["nonce"] or nonce
        return attempt, counts

    def _refused(self, err: VaultError, doing: str, attempt: Attempt, counts: Counts, changed: bool) -> ModuleFailure:
        current = attempt
        try:  # what the attempt looks like now (after an abort: same nonce, progress 0)
            current = self.read()
        except ModuleFailure:
            pass
        result = result_of(current, changed=changed or counts["shares_submitted"] > 0, **counts)
        if _vault_errors.find(err.errors) is _vault_errors.named("wrong_share"):
            # The server finds a wrong share only when the threshold is reached: the share that
            # completed it is no more suspect than any other one counted before it.
            return ModuleFailure(
                "The %s generation attempt nonce %s reached its threshold of %d key shares, but the server could "
                "not make the token (%s): at least one share is wrong, and it may be any key holder's, counted in "
                "this run or an earlier one, not only the last one sent (for a DR secondary use the primary's "
                "unseal or recovery key shares). The server reset the attempt's progress to 0 and forgot every "
                "share: every key holder must check and submit their share again."
                % (self.family.kind, attempt["nonce"], attempt["required"] or current["required"], _sentence(str(err))),
                http_status=err.status, vault_errors=err.errors, **result)
        return failure_from(err, doing, result, family=self.family)

    def _send_once(self, path: str, body: Dict[str, str]) -> Any:
        """PUT without the client's retries: even a 412/429/503 is not sent again, since a proxy
        may answer so after the server has counted the share."""
        return self.client.write(path, data=body, auth=self.family.auth, method="PUT", retries=0)

    def _after_lost_answer(self, err: VaultError, doing: str, attempt: Attempt, counts: Counts) -> Attempt:
        """A share's answer was lost. Never send it again: read the attempt and decide."""
        after = self.read()
        if after["started"] and after["nonce"] == attempt["nonce"] and after["progress"] == attempt["progress"] + 1:
            counts["shares_submitted"] += 1  # counted: carry on with the next share
            self.warn("%s: the answer was lost, but the attempt's progress shows it was counted" % doing)
            return after
        if after["started"] and after["nonce"] == attempt["nonce"]:
            what = ("it was not counted (progress is still %d of %d). It is not sent again automatically"
                    % (after["progress"], after["required"]))
        elif after["started"]:
            what = "another attempt is now running (%s)" % describe(after)
        else:
            what = ("no attempt is running any more: either this share completed it and the answer holding the "
                    "encoded token was lost (the token exists but cannot be read again; it stays valid until "
                    "deleted or the cluster is replaced), or the attempt was canceled. Start a new attempt")
        raise ModuleFailure("%s: %s. Read back: %s." % (doing, _sentence(str(err)), what),
                            **result_of(after, changed=True, **counts))

    def _decode(self, attempt: Attempt, ask: Ask, changed: bool, counts: Counts) -> Result:
        encoded = attempt["encoded_token"]
        if not encoded:
            return {}
        decrypt: Callable[[str], str]
        if attempt["pgp_fingerprint"]:
            if ask.gpg is None:
                return {}
            decrypt = ask.gpg.decrypt
        elif ask.otp:
            otp = ask.otp
            legacy = attempt["otp_length"] == 0 and is_legacy_otp(otp)

            def decrypt(value: str) -> str:
                return decode_token(value, otp, legacy=legacy)
        else:
            self.warn("the attempt is complete but its OTP is not known to this run: decode encoded_token with "
                      "the vaultops.dr.decode_token filter and the attempt's OTP")
            return {}
        try:
            return {"token": decrypt(encoded)}
        except TokenGenerationError as exc:
            raise ModuleFailure(
                "The %s generation completed, but decoding the token failed: %s. encoded_token is returned: "
                "decode it yourself; it is the only copy." % (self.family.kind, _sentence(str(exc))),
                **result_of(attempt, changed=changed, **counts)) from None
