"""Cluster PKI and admin credentials: a generated CA, the serving certificate, tokens.

At first start the server creates, under `<data-dir>/tls/`, a CA (10 years), a
serving certificate for localhost, 127.0.0.1, the host name and any extra SANs
(1 year, re-issued when SANs change or it nears expiry), and a random admin bearer
token. `write_kubeconfig` then writes `<data-dir>/kubeconfig.yaml` pointing kubectl
and the Python client at the HTTPS endpoint with the CA embedded. Keys are written
with mode 0600. Used by `podplane.server` at start; nothing else touches the files.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClusterPKI", "ensure_pki", "write_kubeconfig"]


@dataclass(frozen=True)
class ClusterPKI:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_token: str


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"podplane-ca@{int(now.timestamp())}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _san_list(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def _make_serving(ca_cert: x509.Certificate, ca_key, names: list[str], now: dt.datetime):
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "podplane-apiserver")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(_san_list(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _cert_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)}


def ensure_pki(data_dir: str, extra_names: tuple[str, ...] = ()) -> ClusterPKI:
    """Create (or reuse) the CA, serving certificate and admin token under data_dir/tls."""
    tls = Path(data_dir) / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    os.chmod(tls, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_crt, ca_key_path = tls / "ca.crt", tls / "ca.key"
    if ca_crt.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    else:
        ca_cert, ca_key = _make_ca(now)
        _write_private(ca_key_path, _key_pem(ca_key))
        ca_crt.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), "kubernetes",
             "kubernetes.default", "kubernetes.default.svc", *extra_names]
    names = list(dict.fromkeys(n for n in names if n))
    srv_crt, srv_key = tls / "serving.crt", tls / "serving.key"
    reissue = True
    if srv_crt.exists() and srv_key.exists():
        cert = x509.load_pem_x509_certificate(srv_crt.read_bytes())
        fresh = cert.not_valid_after_utc - now > dt.timedelta(days=30)
        signed_by_ca = cert.issuer == ca_cert.subject
        reissue = not (fresh and signed_by_ca and set(names) <= _cert_names(cert))
    if reissue:
        cert, key = _make_serving(ca_cert, ca_key, names, now)
        _write_private(srv_key, _key_pem(key))
        srv_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    token_path = tls / "admin.token"
    if token_path.exists():
        token = token_path.read_text().strip()
    else:
        token = secrets.token_urlsafe(32)
        _write_private(token_path, token.encode())
    return ClusterPKI(ca_cert=ca_crt, serving_cert=srv_crt, serving_key=srv_key, admin_token=token)


def write_kubeconfig(path: Path, *, server_url: str, pki: ClusterPKI, cluster_name: str = "podplane") -> None:
    ca_data = base64.b64encode(pki.ca_cert.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": server_url, "certificate-authority-data": ca_data}}],
        "users": [{"name": "admin", "user": {"token": pki.admin_token}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": "admin"}}],
        "current-context": cluster_name,
        "preferences": {},
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
