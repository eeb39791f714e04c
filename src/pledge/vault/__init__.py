"""Keys: a key-encryption key, a data key per tenant, envelope AEAD, and crypto-shredding (S4, S7)."""

from pledge.vault.envelope import Aad, CiphertextInvalid, KeyShredded, Vault, ciphertext_key_version
from pledge.vault.keyring import Keyring, KeyringError, LocalKeyring, WrappedKey

__all__ = [
    "Aad",
    "CiphertextInvalid",
    "KeyShredded",
    "Keyring",
    "KeyringError",
    "LocalKeyring",
    "Vault",
    "WrappedKey",
    "ciphertext_key_version",
]
