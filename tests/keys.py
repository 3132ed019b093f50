"""Key material for tests: generated once per process, real RSA/EC keys and X.509 certificates."""

import datetime as dt
import functools
import json
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).parent / "fixtures"


@functools.cache
def rsa_key(name: str = "default", bits: int = 2048, exponent: int = 65537):
    """A distinct RSA private key per name, cached for the test session."""
    return rsa.generate_private_key(public_exponent=exponent, key_size=bits)


@functools.cache
def ec_key(name: str = "default", curve_name: str = "secp256r1"):
    return ec.generate_private_key(getattr(ec, curve_name.upper())())


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate_pem(private_key, *, not_before: dt.datetime, not_after: dt.datetime, cn="lender.example.in") -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "IN")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(0x1D2C3B4A)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def reference_key_set() -> dict:
    """The OCEN reference client's published loan-agent key set (one private JWK, no kid)."""
    return json.loads((FIXTURES / "loan_agent_private_public_keypair_set.json").read_text())


def reference_public_jwk() -> dict:
    private = reference_key_set()["keys"][0]
    return {name: private[name] for name in ("kty", "n", "e", "use", "alg")}


def jose4j_detached_signature(body: bytes, private_key) -> str:
    """The exact bytes the OCEN reference client (jose4j) sends: RS256, b64 false, no crit, no kid.

    No JOSE library we have emits this non-RFC-7797 form (PyJWT and joserfc add or demand `crit`),
    so the test writes the reference client's output directly from its definition.
    """
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "RS256", "b64": False}, separators=(",", ":")).encode())
    signature = private_key.sign(header + b"." + body, padding.PKCS1v15(), hashes.SHA256())
    return (header + b".." + b64(signature)).decode()


def _b64decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jose4j_header(signature: str) -> dict:
    """The protected header of a detached JWS, decoded as a jose4j provider reads it."""
    return json.loads(_b64decode(signature.split(".")[0]))


def jose4j_verifies(signature: str, body: bytes, public_key) -> bool:
    """What a jose4j provider checks on a detached JWS: RS256 over `header.` + the raw body (no base64 of
    the payload, as with b64 false)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    header_b64, _, signature_b64 = signature.split(".")
    try:
        public_key.verify(
            _b64decode(signature_b64), header_b64.encode() + b"." + body, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def reference_private_key():
    """The reference loan agent's private key (published sample; tests only)."""
    import jwt

    return jwt.PyJWK.from_dict(reference_key_set()["keys"][0]).key


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A well-formed PNG (greyscale, 8 bits), optionally with `padding` bytes of an ancillary chunk."""

    def chunk(name: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + name + data + zlib.crc32(name + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    extra = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg(padding: int = 0) -> bytes:
    """Bytes with JPEG's marker structure (SOI, APP0 JFIF, a start of scan, scan data, EOI)."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    scan_header = b"\x01\x01\x00\x00\x3f\x00"
    return (
        b"\xff\xd8\xff\xe0"
        + (len(app0) + 2).to_bytes(2, "big")
        + app0
        + b"\xff\xda"
        + (len(scan_header) + 2).to_bytes(2, "big")
        + scan_header
        + b"\x12\x34" * (1 + padding // 2)
        + b"\xff\xd9"
    )
