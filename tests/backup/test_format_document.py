"""docs/backup-format.md is enough to read a backup without Pledge: decoded here with the bare primitives, the keyring
file and the page's description alone."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import zstandard
from backup_corpus import Corpus
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pledge.backup.backups import Backups
from pledge.backup.writer import run_backup
from pledge.runtime import Runtime

DOCUMENT = Path(__file__).parents[2] / "docs" / "backup-format.md"


def _lp(*parts: str | bytes) -> bytes:
    out = b""
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += len(data).to_bytes(4, "big") + data
    return out


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    assert sealed[0] == 1
    return AESGCM(key).decrypt(sealed[1:13], sealed[13:], aad)


def test_a_backup_decodes_as_the_page_describes_it(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    page = DOCUMENT.read_text()
    for name in ("pledge/backup-segment/1", "pledge/backup-manifest/1", "pledge/backup-key/1", "PLEDGE-BACKUP/1"):
        assert name in page
    backup_id = run_backup(backups).backup_id
    root = tmp_path / "backups"
    keyring = json.loads((runtime.settings.data_dir / "keyring.json").read_text())
    keks = {kek_id: base64.b64decode(key) for kek_id, key in keyring["keys"].items()}

    data = (root / "backups" / backup_id / "manifest").read_bytes()
    magic = b"PLEDGE-BACKUP/1\n"
    assert data.startswith(magic)
    length = int.from_bytes(data[len(magic) : len(magic) + 4], "big")
    header_bytes = data[len(magic) + 4 : len(magic) + 4 + length]
    header = json.loads(header_bytes)
    context = f"pledge/backup-key/1|{backup_id}".encode()
    platform_key = _open(
        keks[header["kekId"]],
        base64.b64decode(header["wrappedPlatformKey"]),
        _lp("pledge/kek-wrap/1", header["kekId"], context),
    )
    body = json.loads(
        _open(platform_key, data[len(magic) + 4 + length :], _lp("pledge/backup-manifest/1", backup_id, header_bytes))
    )
    assert body["format"] == "pledge-backup/1" and sorted(body["tenants"]) == sorted(t.id for t in corpus.tenants)

    for segment in body["segments"]:
        sealed = (root / "backups" / backup_id / "segments" / segment["name"]).read_bytes()
        assert hashlib.sha256(sealed).hexdigest() == segment["sha256"] and len(sealed) == segment["size"]
        tenant_id, version = segment["tenantId"], segment["keyVersion"]
        if tenant_id:
            copy = json.loads((root / "keys" / tenant_id / str(version)).read_bytes())
            key = _open(
                keks[copy["kekId"]],
                base64.b64decode(copy["wrappedKey"]),
                _lp("pledge/kek-wrap/1", copy["kekId"], f"pledge/data-key/1|{tenant_id}|{version}".encode()),
            )
        else:
            key = platform_key
        aad = _lp("pledge/backup-segment/1", backup_id, segment["name"], tenant_id, str(version), "pledge-backup/1")
        document = json.loads(zstandard.ZstdDecompressor().decompress(_open(key, sealed, aad)))
        if tenant_id:
            assert document["format"] == "pledge-tenant-data/1" and document["tenantId"] == tenant_id
            assert "data_keys" not in document["parts"]  # the key never travels with the data it opens
        else:
            assert document["format"] == "pledge-backup-platform/1" and "shredded_tenants" in document["tables"]
