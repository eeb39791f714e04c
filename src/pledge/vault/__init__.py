"""Keys: a key-encryption key, a data key per tenant, one AEAD recipe, and crypto-shredding (S4, S7)."""

from pledge.vault.aead import AssociatedData, CiphertextInvalid
from pledge.vault.envelope import Aad, KeyShredded, Vault, ciphertext_key_version
from pledge.vault.keyring import Keyring, KeyringError, LocalKeyring, WrappedKey
from pledge.vault.transfer import TransferSeal

__all__ = [
    "Aad",
    "AssociatedData",
    "CiphertextInvalid",
    "KeyShredded",
    "Keyring",
    "KeyringError",
    "LocalKeyring",
    "TransferSeal",
    "Vault",
    "WrappedKey",
    "ciphertext_key_version",
]
