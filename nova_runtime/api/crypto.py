"""Key pair material: fingerprints, and keys generated for clients that send none."""

import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nova_runtime.api import errors


def _colons(hex_digest):
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2))


def ssh_fingerprint(public_key):
    """MD5 of the key blob, colon-separated, as ssh-keygen -E md5 shows it."""
    try:
        key = serialization.load_ssh_public_key(public_key.strip().encode())
        blob = key.public_bytes(serialization.Encoding.OpenSSH,
                                serialization.PublicFormat.OpenSSH).split(b" ")[1]
        return _colons(hashlib.md5(base64.b64decode(blob), usedforsecurity=False).hexdigest())
    except (ValueError, IndexError, TypeError, UnicodeError):
        raise errors.BadRequest(
            "Keypair data is invalid: failed to generate fingerprint") from None


def x509_fingerprint(pem):
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        return _colons(certificate.fingerprint(hashes.SHA1()).hex())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise errors.BadRequest(
            "Keypair data is invalid: failed to generate X509 fingerprint. "
            f"Error message: {exc}") from None


def _rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def generate_ssh(bits=2048):
    """(private key PEM, public key in OpenSSH form, fingerprint)."""
    key = _rsa_key(bits)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    public += " Generated-by-Nova"
    return _private_pem(key), public, ssh_fingerprint(public)


def generate_x509(user_id, bits=2048):
    """(private key PEM, self-signed client certificate PEM, fingerprint), the
    kind of certificate WinRM authenticates with."""
    key = _rsa_key(bits)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256()))
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return _private_pem(key), pem, x509_fingerprint(pem)
