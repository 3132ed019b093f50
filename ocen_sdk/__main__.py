"""
python -m ocen_sdk — the participant's command line.

    keygen [--out FILE] [--kid KID]     new RSA-2048 key pair: private key to FILE (mode 0600), public JWK printed
    token                               an access token (client credentials)
    sign FILE --key PEM [--kid KID] [--participant-id ID]
                                        the detached JWS (x-jws-signature) of FILE's exact bytes; with the
                                        signer's id, a warning when the key is not its primary key
    verify FILE SIGNATURE (--keys JWKS_FILE | --participant-id ID)
                                        check a signature, step by step; exit 1 when it does not verify
    whois PARTICIPANT_ID [--mirror FILE]
                                        the participant's registry record (registry signature checked); with
                                        --mirror, read from a mirror file (checked with the registry's keys:
                                        --issuer is the only registry option it needs)
    mirror --path FILE [--once] [--interval SECONDS]
                                        keep a copy of the registry in FILE (SQLite): its snapshot, then its
                                        change feed, every --interval seconds (30); --once catches up, prints
                                        the sequence and the record counts as one JSON line, and exits

Registry settings come from options or the environment: OCEN_ISSUER (e.g. https://registry.example.in/auth),
OCEN_REGISTRY_URL (e.g. https://registry.example.in/service), OCEN_CLIENT_ID, OCEN_CLIENT_SECRET.
"""

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from . import RegistryClient, RegistryKeys, RegistryMirror, TokenClient, diagnose, sign
from .errors import OcenError
from .registry import primary_kid


def _registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", default=os.environ.get("OCEN_ISSUER"))
    parser.add_argument("--registry", default=os.environ.get("OCEN_REGISTRY_URL"))
    parser.add_argument("--client-id", default=os.environ.get("OCEN_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("OCEN_CLIENT_SECRET"))
    parser.add_argument(
        "--client-key",
        default=os.environ.get("OCEN_CLIENT_KEY"),
        metavar="PEM",
        help="private key file: authenticate with private_key_jwt instead of a client secret",
    )
    parser.add_argument("--client-kid", default=os.environ.get("OCEN_CLIENT_KID"), help="default: its thumbprint")


def _require(options: argparse.Namespace, *names: str) -> None:
    missing = [n for n in names if not getattr(options, n)]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise SystemExit(f"ocen_sdk: missing {flags} (or the OCEN_* environment variables)")


def _token_client(options: argparse.Namespace) -> TokenClient:
    _require(options, "issuer", "client_id")
    token_url = f"{options.issuer.rstrip('/')}/token"
    if options.client_key:  # key-only: private_key_jwt
        key = Path(options.client_key).read_bytes()
        return TokenClient(token_url, options.client_id, private_key=key, kid=options.client_kid)
    _require(options, "client_secret")
    return TokenClient(token_url, options.client_id, options.client_secret)


def _registry(options: argparse.Namespace) -> RegistryClient:
    _require(options, "registry")
    return RegistryClient(options.registry, _token_client(options), keys=RegistryKeys(options.issuer))


def keygen(options: argparse.Namespace) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    out = Path(options.out)
    if out.exists():
        raise SystemExit(f"ocen_sdk: {out} exists; not overwriting a private key")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = jwk.JWK.from_pem(pem)
    document = {
        **public.export_public(as_dict=True),
        "kid": options.kid or public.thumbprint(),
        "use": "sig",
        "alg": "RS256",
    }
    print(json.dumps(document))
    where = "above" if sys.stdout.isatty() else "written to standard output"  # `keygen > agent.jwk`: not above
    print(
        f"private key written to {out} (mode 0600); register the public JWK {where} with the registry", file=sys.stderr
    )


def token(options: argparse.Namespace) -> None:
    print(_token_client(options).token(audience=options.audience))


def sign_file(options: argparse.Namespace) -> None:
    key = Path(options.key).read_bytes()
    # Default kid: the key's RFC 7638 thumbprint, which keygen prints and the registry stores by default.
    kid = options.kid or jwk.JWK.from_pem(key).thumbprint()
    print(sign(Path(options.file).read_bytes(), key, kid))
    if options.participant_id:  # check the key against the signer's own registry record
        primary = primary_kid(_registry(options).participant(options.participant_id))
        if primary != kid:
            print(
                f"warning: {kid} is not {options.participant_id}'s primary key (publicKey names {primary}): verifiers "
                "that read only publicKey, such as the OCEN reference client, will refuse this signature",
                file=sys.stderr,
            )


def verify_file(options: argparse.Namespace) -> int:
    body = Path(options.file).read_bytes()
    if options.keys:
        keys = json.loads(Path(options.keys).read_text())
    else:
        keys = _registry(options).participant(options.participant_id)["publicKeys"]
    result = diagnose(body, options.signature, keys)
    print(json.dumps(result.as_json(), indent=2))
    return 0 if result.verified else 1


def whois(options: argparse.Namespace) -> None:
    source: RegistryMirror | RegistryClient
    if options.mirror:  # the records from the file, checked with the registry's keys from the issuer
        source = RegistryMirror(options.mirror, keys=RegistryKeys(options.issuer) if options.issuer else None)
    else:
        source = _registry(options)
    print(json.dumps(source.participant(options.participant_id), indent=2))


def mirror(options: argparse.Namespace) -> int | None:
    copy = RegistryMirror(options.path, _registry(options), poll_interval=options.interval)
    seq = copy.sync()  # catch up first: a wrong setting fails here, not silently in the loop
    print(json.dumps({"seq": seq, **copy.counts()}), flush=True)
    if options.once:
        return 0
    logging.basicConfig(format="ocen_sdk: %(message)s")  # a failed sync is a warning; the next round retries
    try:
        copy.follow()  # returns only once stopped, which nothing here does
    except KeyboardInterrupt:
        return 0
    return None


def _interval(value: str) -> float:
    seconds = float(value)
    if not seconds >= 0.1:  # NaN too
        raise argparse.ArgumentTypeError("must be at least 0.1 seconds")
    return seconds


class _Parser(argparse.ArgumentParser):
    """No abbreviated flags (its subcommands' parsers are of this class too): a flag the toolkit no longer has
    is an error, never a match for a longer one."""

    def __init__(self, **kwargs: Any) -> None:  # keywords only, as add_subparsers() passes them
        super().__init__(allow_abbrev=False, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ocen_sdk", description="OCEN participant toolkit")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("keygen", help="new RSA-2048 key pair")
    p.add_argument("--out", default="ocen-private-key.pem")
    p.add_argument("--kid")
    p.set_defaults(run=keygen)
    p = commands.add_parser("token", help="get an access token")
    p.add_argument("--audience", help="the participantId of the provider the token is for (RFC 8707)")
    _registry_options(p)
    p.set_defaults(run=token)
    p = commands.add_parser("sign", help="sign a file's exact bytes")
    p.add_argument("file")
    p.add_argument("--key", required=True, help="private key PEM")
    p.add_argument("--kid", help="default: the key's RFC 7638 thumbprint")
    p.add_argument("--participant-id", help="warn if the key is not this participant's primary key (publicKey)")
    _registry_options(p)
    p.set_defaults(run=sign_file)
    p = commands.add_parser("verify", help="check a signature over a file")
    p.add_argument("file")
    p.add_argument("signature")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--keys", help="JWKS or JWK file")
    group.add_argument("--participant-id", help="look the signer's keys up in the registry")
    _registry_options(p)
    p.set_defaults(run=verify_file)
    p = commands.add_parser("whois", help="a participant's registry record")
    p.add_argument("participant_id")
    p.add_argument("--mirror", metavar="FILE", help="answer from this registry mirror, with --issuer (see: mirror)")
    _registry_options(p)
    p.set_defaults(run=whois)
    p = commands.add_parser("mirror", help="keep a local copy of the registry, following its change feed")
    p.add_argument("--path", required=True, metavar="FILE", help="the mirror's SQLite file (made if missing)")
    p.add_argument("--once", action="store_true", help="catch up, print the sequence and counts, and exit")
    p.add_argument("--interval", type=_interval, default=30, metavar="SECONDS", help="between syncs (default 30)")
    _registry_options(p)
    p.set_defaults(run=mirror)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        return options.run(options) or 0
    except sqlite3.Error as exc:
        print(
            f"ocen_sdk: {getattr(options, 'mirror', None) or options.path} is not a registry mirror ({exc})",
            file=sys.stderr,
        )
        return 2
    except (OcenError, OSError, ValueError) as exc:
        print(f"ocen_sdk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
